"""Regenerate the signed MeMo attack corpus in this folder (run by hand, not by the tests).

    /tmp/venv/bin/python tests/security/memo/make_corpus.py [--new-keys]

Reads the official MeMo examples from ``../shared/specs/memo/examples`` and writes signed
variants next to this script: ``conformant-<what>.xml`` must verify (pinned to
``corpus-signer.crt``) and pass every MeMo rule; ``nonconformant-<CODE>-<what>.xml`` must fail
with exactly CODE. ``tests/security/test_memo_corpus.py`` checks them.

The keys are test keys, generated here and committed on purpose (``corpus-signer.*`` is the
pinned signer, ``unpinned-signer.*`` a stranger). Existing keys are reused, so a rerun gives the
same bytes (RSA PKCS#1 v1.5 signatures are deterministic); ``--new-keys`` replaces them.
The signed files are derived data: parsed with the gateway's parser (comments dropped) and
re-serialised, so they differ byte-wise from the official examples. The test runs each file
through the real MeMo intake (signature, rules, schema, mapping, PDF checks, store), so every
file gets a messageUUID of its own (derived from its name: a rerun gives the same bytes) and
the examples' placeholder PDFs are replaced by one small real PDF.
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import sys
import uuid
import functools
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner

from gateway.memo_vocabulary import MEMO_NS
from gateway.xml.parser import parse_untrusted
from gateway.xml.dsig import DS
from gateway.xml.signing import sign_message
from tests.xmldsig import C14N, Signer as XmlsecSigner, sign_with_signxml, sign_with_xmlsec1

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[3] / "shared" / "specs" / "memo" / "examples"
M = f"{{{MEMO_NS}}}"
EXC_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0

Signer = tuple[rsa.RSAPrivateKey, x509.Certificate]


# ---------------------------------------------------------------- keys


def load_or_make_signer(name: str, common_name: str, *, new: bool) -> Signer:
    key_path, cert_path = HERE / f"{name}.pem", HERE / f"{name}.crt"
    if key_path.exists() and cert_path.exists() and not new:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DK"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Kommune (MeMo corpus, not a real authority)"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
        .not_valid_after(dt.datetime(2075, 1, 1, tzinfo=dt.timezone.utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


# ---------------------------------------------------------------- messages


#: The corpus file being written, for :func:`fresh_uuid`.
_WRITING = {"name": "", "count": 0}


def fresh_uuid() -> str:
    """A version 4 UUID derived from the file being written and how many it has asked for."""
    _WRITING["count"] += 1
    digest = hashlib.sha256(f"{_WRITING['name']}#{_WRITING['count']}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def corpus_pdf() -> bytes:
    """One small real PDF with fixed dates, so the PDF checks pass and a rerun gives the same bytes."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_compression(False)
    pdf.set_creation_date(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="MeMo corpus letter")
    return bytes(pdf.output())


def official(name: str) -> etree._Element:
    """An official example with a messageUUID of its own and a real PDF for each PDF file."""
    root = parse_untrusted((EXAMPLES / name).read_bytes())
    root.find(f"{M}MessageHeader/{M}messageUUID").text = fresh_uuid()
    pdf = base64.b64encode(corpus_pdf()).decode()
    for file in root.iter(f"{M}File"):
        if file.findtext(f"{M}encodingFormat") == "application/pdf":
            file.find(f"{M}content").text = pdf
    return root


def v11_minimum() -> etree._Element:
    return official("MeMo_v1.1_Minimum_Example.xml")


def v11_full_https() -> etree._Element:
    """The 1.1 full example with its three http:// EntryPoint URLs made https:// (the 1.2
    full example made the same change); otherwise it breaks MEMO_ACTION_URL_NOT_HTTPS."""
    root = official("MeMo_v1.1_Full_Example.xml")
    for url in root.iter(f"{M}url"):
        url.text = url.text.replace("http://", "https://", 1)
    return root


def evil(root: etree._Element | None = None) -> etree._Element:
    """Unsigned attacker content that looks like a real message."""
    message = copy.deepcopy(root if root is not None else v11_minimum())
    message.find(f"{M}MessageHeader/{M}label").text = "Rykker: betal 5.000 kr. i dag"
    message.find(f"{M}MessageHeader/{M}messageUUID").text = "0f8fad5b-d9cb-469f-a165-70867728950e"
    return message


def edit(root: etree._Element, path: str, text: str) -> etree._Element:
    element = root.find(path)
    assert element is not None, path
    element.text = text
    return root


def insert_after(root: etree._Element, path: str, new: etree._Element) -> etree._Element:
    anchor = root.find(path)
    assert anchor is not None, path
    new.tail = anchor.tail
    anchor.addnext(new)
    return root


def element(local: str, text: str | None = None, *children: etree._Element) -> etree._Element:
    made = etree.Element(f"{M}{local}", nsmap={"memo": MEMO_NS})
    made.text = text
    for child in children:
        made.append(child)
    return made


def nemsms(root: etree._Element, text: str | None = "Husk din tid hos tandlægen i morgen kl. 9.00. Mvh Kommunen") -> etree._Element:
    """A NemSMS: messageType NEMSMS, no MessageBody, the SMS text as the header's notification."""
    edit(root, f"{M}MessageHeader/{M}messageType", "NEMSMS")
    root.remove(root.find(f"{M}MessageBody"))
    if text is not None:
        insert_after(root, f"{M}MessageHeader/{M}label", element("notification", text))
    return root


def with_action_url(root: etree._Element, url: str) -> etree._Element:
    main = root.find(f"{M}MessageBody/{M}MainDocument")
    action = element("Action", None, element("label", "Svar her"), element("actionCode", "SELVBETJENING"),
                     element("EntryPoint", None, element("url", url)))
    main.append(action)
    return root


def with_additional_content_data(root: etree._Element, total: int) -> etree._Element:
    content = root.find(f"{M}MessageHeader/{M}ContentData")
    existing = content.findall(f"{M}AdditionalContentData")
    for n in range(len(existing), total):
        content.append(element("AdditionalContentData", None, element("contentDataType", "Liste A"),
                               element("contentDataName", f"Navn {n + 1}"), element("contentDataValue", f"Værdi {n + 1}")))
    return root


def with_processing_instruction(root: etree._Element, where: str) -> etree._Element:
    """``<?app note?>`` as the last child of ``where`` (a sender's tooling leaves such notes)."""
    root.find(f"{M}{where}").append(etree.ProcessingInstruction("app", "note"))
    return root


def renamespaced(root: etree._Element, namespace: str) -> etree._Element:
    data = etree.tostring(root).replace(MEMO_NS.encode(), namespace.encode())
    return parse_untrusted(data)


# ---------------------------------------------------------------- signing


class LegacySigner(XMLSigner):
    """signxml refuses to *make* SHA-1 signatures; the corpus needs some to refuse."""

    def check_deprecated_methods(self) -> None:
        return None


def sign(root: etree._Element, signer: Signer) -> etree._Element:
    key, cert = signer
    return sign_message(root, key=key, cert=cert)


def sign_raw(root: etree._Element, *, key: object, cert: x509.Certificate | None, method: SignatureMethod = SignatureMethod.RSA_SHA256,
             digest: DigestAlgorithm = DigestAlgorithm.SHA256, references: list[str] | None = None) -> etree._Element:
    signer = LegacySigner(signature_algorithm=method, digest_algorithm=digest, c14n_algorithm=EXC_C14N)
    return signer.sign(root, key=key, cert=[cert] if cert is not None else None, reference_uri=references)


def signature_of(root: etree._Element) -> etree._Element:
    found = root.find(f"{{{DS}}}Signature")
    assert found is not None
    return found


def lift_signature(signed: etree._Element, new_root: etree._Element, *, hide_in: str = "Extension") -> etree._Element:
    """Classic XSW: the signature moves to an unsigned root, the signed message hides inside it."""
    signature = signature_of(signed)
    signed.remove(signature)
    holder = etree.SubElement(new_root, hide_in)
    holder.append(signed)
    new_root.append(signature)
    return new_root


def with_id(root: etree._Element, value: str = "memo-1", attribute: str = "Id") -> etree._Element:
    root.set(attribute, value)
    return root


# ---------------------------------------------------------------- the corpus


def build(signer: Signer, stranger: Signer) -> dict[str, Callable[[], bytes]]:
    def signed(root: etree._Element) -> bytes:
        return serialize(sign(root, signer))

    def two_messages(first_signed: bool) -> bytes:
        batch = etree.Element("Batch")
        good, bad = sign(v11_minimum(), signer), evil()
        batch.extend([good, bad] if first_signed else [bad, good])
        return serialize(batch)

    def under_new_root() -> bytes:
        root = evil()
        etree.SubElement(root, "Extension").append(sign(v11_minimum(), signer))
        return serialize(root)

    def lifted(new_root: etree._Element) -> bytes:
        return serialize(lift_signature(sign(with_id(v11_minimum()), signer), new_root))

    def dotnet(root: etree._Element, c14n: str = "inclusive", prefix: str | None = None) -> bytes:
        """Signed by xmlsec1 as .NET SignedXml signs by default: inclusive C14N 1.0,
        ``<Signature xmlns="…xmldsig#">``, one reference ``URI=""`` with the enveloped transform
        alone (other canonicalisations and prefixes name their C14N transform too)."""
        dotnet_default = (c14n, prefix) == ("inclusive", None)
        return sign_with_xmlsec1(serialize(root), XmlsecSigner(*signer), c14n=C14N[c14n], prefix=prefix,
                                 reference_c14n=not dotnet_default) + b"\n"

    def dotnet_changed_byte() -> bytes:
        data = dotnet(official("MeMo_v1.2_Minimum_Example.xml"))
        before, after = b"<memo:senderID>12345678</memo:senderID>", b"<memo:senderID>12345679</memo:senderID>"
        assert data.count(before) == 1, data
        return data.replace(before, after)

    def with_pi(where: str, made_by: str, c14n: str) -> bytes:
        """Signed with a PI inside the message: canonical XML keeps it, so the digest covers it."""
        sign_with = {"xmlsec1": sign_with_xmlsec1, "signxml": sign_with_signxml}[made_by]
        root = with_processing_instruction(official("MeMo_v1.2_Minimum_Example.xml"), where)
        return sign_with(serialize(root), XmlsecSigner(*signer), c14n=C14N[c14n], prefix="ds") + b"\n"

    def pi_changed_byte(made_by: str) -> bytes:
        data = with_pi("MessageHeader", made_by, "exclusive")
        assert data.count(b"<?app note?>") == 1, data
        return data.replace(b"<?app note?>", b"<?app notf?>")

    def changed_byte() -> bytes:
        data = signed(v11_minimum())
        before, after = b">Pladsanvisning</memo:label>", b">Pladsanvisninq</memo:label>"
        assert data.count(before) == 1
        return data.replace(before, after)

    def two_signatures() -> bytes:
        root = sign(v11_minimum(), signer)
        root.append(copy.deepcopy(signature_of(root)))
        return serialize(root)

    def signature_in_header() -> bytes:
        root = sign(v11_minimum(), signer)
        root.find(f"{M}MessageHeader").append(signature_of(root))
        return serialize(root)

    def external_reference() -> bytes:
        root = sign(v11_minimum(), signer)
        root.find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo/{{{DS}}}Reference").set("URI", "https://example.invalid/message.xml")
        return serialize(root)

    def reference_to_body() -> bytes:
        root = v11_minimum()
        root.find(f"{M}MessageBody").set("Id", "body-1")
        return serialize(sign_raw(root, key=signer[0], cert=signer[1], references=["#body-1"]))

    def two_references() -> bytes:
        root = with_id(v11_minimum())
        root.find(f"{M}MessageHeader").set("Id", "header-1")
        return serialize(sign_raw(root, key=signer[0], cert=signer[1], references=["#memo-1", "#header-1"]))

    long_label = "Afgørelse om pladsanvisning " + "x" * (257 - len("Afgørelse om pladsanvisning "))
    notification = element("notification", "Du har fået post fra Kommunen. " + "y" * (151 - len("Du har fået post fra Kommunen. ")))
    assert len(long_label) == 257 and len(notification.text) == 151
    header = f"{M}MessageHeader"
    file_ = f"{M}MessageBody/{M}MainDocument/{M}File/{M}filename"

    return {
        # conformant
        "conformant-v11-minimum.xml": lambda: signed(v11_minimum()),
        "conformant-v11-full.xml": lambda: signed(v11_full_https()),
        "conformant-v12-minimum.xml": lambda: signed(official("MeMo_v1.2_Minimum_Example.xml")),
        "conformant-v12-full.xml": lambda: signed(official("MeMo_v1.2_Full_Example.xml")),
        # the signature over "#memo-1" verifies, but the MeMo schema has no Id attribute on Message
        "nonconformant-SCHEMA_INVALID-v12-minimum-id-reference.xml": lambda: signed(with_id(official("MeMo_v1.2_Minimum_Example.xml"))),
        "conformant-v12-minimum-dotnet-inclusive-default-namespace.xml": lambda: dotnet(official("MeMo_v1.2_Minimum_Example.xml")),
        "conformant-v12-full-xmlsec1-inclusive-with-comments-default-namespace.xml":
            lambda: dotnet(official("MeMo_v1.2_Full_Example.xml"), "inclusive-with-comments"),
        "conformant-v11-minimum-xmlsec1-c14n11-default-namespace.xml": lambda: dotnet(v11_minimum(), "c14n-1.1"),
        "conformant-v11-full-xmlsec1-inclusive-other-prefix.xml": lambda: dotnet(v11_full_https(), "inclusive", "dsig"),
        "conformant-v11-nemsms.xml": lambda: signed(nemsms(v11_minimum())),
        "conformant-v12-nemsms-dotnet-inclusive-default-namespace.xml": lambda: dotnet(nemsms(official("MeMo_v1.2_Minimum_Example.xml"))),
        # a processing instruction inside the message is signed data (and not stored)
        **{f"conformant-v12-minimum-pi-in-{where[7:].lower()}-{made_by}-{c14n}.xml": functools.partial(with_pi, where, made_by, c14n)
           for where in ("MessageHeader", "MessageBody") for made_by in ("xmlsec1", "signxml") for c14n in ("exclusive", "inclusive")},
        **{f"nonconformant-SIGNATURE_INVALID-pi-changed-byte-{made_by}.xml": functools.partial(pi_changed_byte, made_by)
           for made_by in ("xmlsec1", "signxml")},
        # signature refusals
        "nonconformant-SIGNATURE_INVALID-dotnet-changed-byte.xml": dotnet_changed_byte,
        "nonconformant-SIGNATURE_MISSING-unsigned.xml": lambda: serialize(v11_minimum()),
        "nonconformant-SIGNATURE_INVALID-changed-byte.xml": changed_byte,
        "nonconformant-SIGNATURE_INVALID-pinned-certificate-stranger-key.xml":
            lambda: serialize(sign_raw(v11_minimum(), key=stranger[0], cert=signer[1])),
        "nonconformant-SIGNATURE_CERTIFICATE_UNTRUSTED-unpinned-signer.xml": lambda: serialize(sign(v11_minimum(), stranger)),
        "nonconformant-SIGNATURE_ALGORITHM_REFUSED-rsa-sha1.xml":
            lambda: serialize(sign_raw(v11_minimum(), key=signer[0], cert=signer[1], method=SignatureMethod.RSA_SHA1, digest=DigestAlgorithm.SHA1)),
        "nonconformant-SIGNATURE_ALGORITHM_REFUSED-sha1-digest.xml":
            lambda: serialize(sign_raw(v11_minimum(), key=signer[0], cert=signer[1], digest=DigestAlgorithm.SHA1)),
        "nonconformant-SIGNATURE_ALGORITHM_REFUSED-hmac-sha256.xml":
            lambda: serialize(sign_raw(v11_minimum(), key=b"a shared secret is not a certificate", cert=None, method=SignatureMethod.HMAC_SHA256)),
        "nonconformant-SIGNATURE_MULTIPLE-two-signatures.xml": two_signatures,
        "nonconformant-SIGNATURE_REFERENCE_INVALID-external-uri.xml": external_reference,
        # signature wrapping
        "nonconformant-SIGNATURE_WRAPPING-second-message-before.xml": lambda: two_messages(first_signed=False),
        "nonconformant-SIGNATURE_WRAPPING-second-message-after.xml": lambda: two_messages(first_signed=True),
        "nonconformant-SIGNATURE_WRAPPING-signed-message-under-new-root.xml": under_new_root,
        "nonconformant-SIGNATURE_WRAPPING-signature-moved-into-header.xml": signature_in_header,
        "nonconformant-SIGNATURE_WRAPPING-signature-lifted-to-new-root.xml": lambda: lifted(evil()),
        "nonconformant-SIGNATURE_WRAPPING-duplicate-id.xml": lambda: lifted(with_id(evil())),
        "nonconformant-SIGNATURE_WRAPPING-duplicate-id-other-attribute.xml": lambda: lifted(with_id(evil(), attribute="ID")),
        "nonconformant-SIGNATURE_REFERENCE_INVALID-reference-to-body.xml": reference_to_body,
        "nonconformant-SIGNATURE_REFERENCE_INVALID-two-references.xml": two_references,
        # MeMo rules, each on a properly signed message
        "nonconformant-MEMO_NOT_A_MESSAGE-wrong-namespace.xml": lambda: signed(renamespaced(v11_minimum(), "https://DigitalPost.dk/MeMo-2")),
        "nonconformant-MEMO_VERSION_UNSUPPORTED-version-2-0.xml": lambda: signed(_set(v11_minimum(), "memoVersion", "2.0")),
        # other xs:decimal spellings of 1.1 / 1.2: they passed the rule and then found no schema (HTTP 500)
        **{f"nonconformant-MEMO_VERSION_UNSUPPORTED-version-{label}.xml": functools.partial(_version_variant, signed, example, version)
           for label, example, version in VERSION_VARIANTS},
        "nonconformant-MEMO_FILENAME_INVALID_CHARACTERS-colon.xml": lambda: signed(edit(v11_minimum(), file_, "Plads:anvisning.pdf")),
        "nonconformant-MEMO_FILENAME_INVALID_CHARACTERS-no-break-space.xml": lambda: signed(edit(v11_minimum(), file_, "Plads\u00a0anvisning.pdf")),
        "nonconformant-MEMO_FILENAME_INVALID_CHARACTERS-line-break.xml": lambda: signed(edit(v11_minimum(), file_, "Plads\nanvisning.pdf")),
        "nonconformant-MEMO_ACTION_URL_NOT_HTTPS-http-entry-point.xml": lambda: signed(with_action_url(v11_minimum(), "http://www.tusindfryd.dk/svar")),
        "nonconformant-MEMO_ACTION_URL_NOT_HTTPS-official-v11-full.xml": lambda: signed(official("MeMo_v1.1_Full_Example.xml")),
        "nonconformant-MEMO_UUID_NOT_V4-message-uuid-v1.xml": lambda: signed(edit(v11_minimum(), f"{header}/{M}messageUUID", "c232ab00-9414-11ec-b3c8-9f6bdeced846")),
        "nonconformant-MEMO_DATETIME_NOT_UTC-offset.xml": lambda: signed(edit(v11_minimum(), f"{M}MessageBody/{M}createdDateTime", "2018-05-03T14:00:00+02:00")),
        "nonconformant-MEMO_DATETIME_NOT_UTC-no-zone.xml": lambda: signed(edit(v11_minimum(), f"{M}MessageBody/{M}createdDateTime", "2018-05-03T12:00:00")),
        "nonconformant-MEMO_LABEL_TOO_LONG-257-characters.xml": lambda: signed(edit(v11_minimum(), f"{header}/{M}label", long_label)),
        "nonconformant-MEMO_NOTIFICATION_TOO_LONG-151-characters.xml": lambda: signed(insert_after(v11_minimum(), f"{header}/{M}label", notification)),
        "nonconformant-MEMO_TOO_MANY_ADDITIONAL_CONTENT_DATA-eleven.xml":
            lambda: signed(with_additional_content_data(official("MeMo_v1.2_Full_Example.xml"), 11)),
        "nonconformant-MEMO_NEMSMS_WITH_BODY-nemsms.xml": lambda: signed(edit(v11_minimum(), f"{header}/{M}messageType", "NEMSMS")),
        "nonconformant-MEMO_NEMSMS_WITHOUT_NOTIFICATION-no-notification.xml": lambda: signed(nemsms(v11_minimum(), None)),
        "nonconformant-MEMO_NEMSMS_WITHOUT_NOTIFICATION-blank-notification.xml":
            lambda: signed(nemsms(official("MeMo_v1.2_Minimum_Example.xml"), " \n\t")),
        "nonconformant-MEMO_NOTIFICATION_TOO_LONG-nemsms-151-characters.xml": lambda: signed(nemsms(v11_minimum(), "z" * 151)),
        # a DIGITALPOST letter still needs its documents
        "nonconformant-DOCUMENTS_REQUIRED-digitalpost-without-body.xml":
            lambda: signed(_without_body(official("MeMo_v1.2_Minimum_Example.xml"))),
    }


#: (file name part, example, memoVersion) for the version spellings that must be refused.
VERSION_VARIANTS = [
    ("1-10", "MeMo_v1.1_Minimum_Example.xml", "1.10"),
    ("01-1", "MeMo_v1.1_Minimum_Example.xml", "01.1"),
    ("leading-space", "MeMo_v1.1_Minimum_Example.xml", " 1.1"),
    ("trailing-space", "MeMo_v1.1_Minimum_Example.xml", "1.1 "),
    ("tab-and-newline", "MeMo_v1.2_Minimum_Example.xml", "\t1.2\n"),
    ("1-20", "MeMo_v1.2_Minimum_Example.xml", "1.20"),
    ("plus-1-2", "MeMo_v1.2_Minimum_Example.xml", "+1.2"),
    ("1-2-0", "MeMo_v1.2_Minimum_Example.xml", "1.2.0"),
    ("1-1-0", "MeMo_v1.1_Minimum_Example.xml", "1.1.0"),
    ("empty", "MeMo_v1.2_Minimum_Example.xml", ""),
]


def _version_variant(signed: Callable[[etree._Element], bytes], example: str, version: str) -> bytes:
    return signed(_set(official(example), "memoVersion", version))


def _without_body(root: etree._Element) -> etree._Element:
    root.remove(root.find(f"{M}MessageBody"))
    return root


def _set(root: etree._Element, attribute: str, value: str) -> etree._Element:
    root.set(attribute, value)
    return root


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"


def main(argv: list[str]) -> int:
    if not EXAMPLES.is_dir():
        print(f"{EXAMPLES} is missing: clone the project with ../shared/specs beside it", file=sys.stderr)
        return 2
    new = "--new-keys" in argv
    signer = load_or_make_signer("corpus-signer", "MeMo corpus signer", new=new)
    stranger = load_or_make_signer("unpinned-signer", "MeMo corpus stranger", new=new)
    for old in HERE.glob("*.xml"):
        old.unlink()
    corpus = build(signer, stranger)
    for name, make in corpus.items():
        _WRITING.update(name=name, count=0)
        (HERE / name).write_bytes(make())
    print(f"wrote {len(corpus)} files to {HERE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
