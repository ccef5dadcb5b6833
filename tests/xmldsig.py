"""Other signers for the signature tests: xmlsec1 (the C reference implementation, what .NET
``SignedXml`` and Java's XML-DSig interoperate with) and signxml, in every canonicalisation and
``Signature`` prefix a sender may use.

xmlsec1 signs a template: an empty ``Signature`` appended to the message, whose algorithms,
prefix and reference it fills in. The keys are the tests' own (generated with cryptography),
written to a temporary folder because xmlsec1 reads PEM files.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner
from signxml import methods

DS = "http://www.w3.org/2000/09/xmldsig#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

#: The canonicalisations a sender may choose; "inclusive" is what .NET SignedXml uses by default.
C14N = {
    "inclusive": CanonicalizationMethod.CANONICAL_XML_1_0,
    "inclusive-with-comments": CanonicalizationMethod.CANONICAL_XML_1_0_WITH_COMMENTS,
    "exclusive": CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    "c14n-1.1": CanonicalizationMethod.CANONICAL_XML_1_1,
}
#: ``Signature`` with the usual ``ds:`` prefix, in the default namespace (.NET), another prefix.
PREFIXES = {"ds-prefix": "ds", "default-namespace": None, "other-prefix": "dsig"}

XMLSEC1 = shutil.which("xmlsec1")


def require_xmlsec1() -> str:
    """The xmlsec1 program, or skip (fail in CI, where ``.ci/run`` installs it)."""
    if XMLSEC1 is None:
        message = "xmlsec1 is not installed (apt-get install xmlsec1)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return XMLSEC1


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


def template(*, c14n: CanonicalizationMethod, prefix: str | None, reference_uri: str = "",
             reference_c14n: bool = True) -> etree._Element:
    """An empty enveloped-signature template, as a .NET or xmlsec1 user writes it.

    ``reference_c14n=False`` leaves the reference with the enveloped transform alone, as .NET
    ``SignedXml`` writes it by default (the node-set is then canonicalised with C14N 1.0).
    """
    nsmap = {prefix: DS}

    def el(parent: etree._Element | None, local: str, **attributes: str) -> etree._Element:
        tag = f"{{{DS}}}{local}"
        made = etree.Element(tag, nsmap=nsmap) if parent is None else etree.SubElement(parent, tag)
        for name, value in attributes.items():
            made.set(name, value)
        return made

    signature = el(None, "Signature")
    signed_info = el(signature, "SignedInfo")
    el(signed_info, "CanonicalizationMethod", Algorithm=c14n.value)
    el(signed_info, "SignatureMethod", Algorithm=SignatureMethod.RSA_SHA256.value)
    reference = el(signed_info, "Reference", URI=reference_uri)
    transforms = el(reference, "Transforms")
    el(transforms, "Transform", Algorithm=ENVELOPED)
    if reference_c14n:
        el(transforms, "Transform", Algorithm=c14n.value)
    el(reference, "DigestMethod", Algorithm=DigestAlgorithm.SHA256.value)
    el(reference, "DigestValue")
    el(signature, "SignatureValue")
    el(el(signature, "KeyInfo"), "X509Data")
    return signature


def sign_with_xmlsec1(data: bytes, signer: Signer, *, c14n: CanonicalizationMethod, prefix: str | None,
                      reference_uri: str = "", reference_c14n: bool = True) -> bytes:
    """``data`` with an enveloped signature made by ``xmlsec1 --sign`` from a template.

    The template is added as the message root's last child with a serialiser that does not
    touch the message's own bytes; a ``#Id`` reference needs the root's ``Id`` attribute,
    which xmlsec1 is told to treat as an ID.
    """
    program = require_xmlsec1()
    root = etree.fromstring(data)
    root.append(template(c14n=c14n, prefix=prefix, reference_uri=reference_uri, reference_c14n=reference_c14n))
    with tempfile.TemporaryDirectory(prefix="xmlsec1-") as folder:
        work = Path(folder)
        (work / "key.pem").write_bytes(signer.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (work / "cert.pem").write_bytes(signer.cert.public_bytes(serialization.Encoding.PEM))
        (work / "template.xml").write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        command = [program, "--sign", "--privkey-pem", f"{work / 'key.pem'},{work / 'cert.pem'}",
                   "--output", str(work / "signed.xml")]
        if reference_uri:
            command += ["--id-attr:Id", id_node(root)]
        command.append(str(work / "template.xml"))
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return (work / "signed.xml").read_bytes()


def id_node(root: etree._Element) -> str:
    """xmlsec1's name for the root element, for ``--id-attr:Id``: ``[<namespace>:]<local name>``."""
    name = etree.QName(root)
    return f"{name.namespace}:{name.localname}" if name.namespace else name.localname


def verify_with_xmlsec1(data: bytes, cert: x509.Certificate, *, id_attribute_of: str | None = None) -> bool:
    """Does xmlsec1 accept ``data``'s signature with ``cert`` (the independent opinion)?"""
    program = require_xmlsec1()
    with tempfile.TemporaryDirectory(prefix="xmlsec1-") as folder:
        work = Path(folder)
        (work / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (work / "signed.xml").write_bytes(data)
        command = [program, "--verify", "--pubkey-cert-pem", str(work / "cert.pem"), "--enabled-reference-uris", "empty,same-doc"]
        if id_attribute_of:
            command += ["--id-attr:Id", id_attribute_of]
        done = subprocess.run([*command, str(work / "signed.xml")], capture_output=True, timeout=60, check=False)
        return done.returncode == 0


def sign_with_signxml(data: bytes, signer: Signer, *, c14n: CanonicalizationMethod, prefix: str | None) -> bytes:
    """``data`` signed by signxml with the given canonicalisation and ``Signature`` prefix."""
    xml_signer = XMLSigner(method=methods.enveloped, signature_algorithm=SignatureMethod.RSA_SHA256,
                           digest_algorithm=DigestAlgorithm.SHA256, c14n_algorithm=c14n)
    xml_signer.namespaces = {prefix: DS}
    signed = xml_signer.sign(etree.fromstring(data), key=signer.key, cert=[signer.cert])
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
