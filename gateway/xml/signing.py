"""Signing MeMo messages with an enveloped XML signature (tests, benchmarks and tools; the
gateway itself only verifies, :mod:`gateway.xml.signatures`). Only algorithms the verifier
accepts (:mod:`gateway.xml.dsig`) can be chosen."""
from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml import CanonicalizationMethod, SignatureMethod, XMLSigner
from signxml import methods as construction

from gateway.xml.dsig import ALLOWED_SIGNATURE_METHODS, DIGEST_FOR

SignerKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def sign_message(root: etree._Element, *, key: SignerKey | bytes, cert: x509.Certificate | bytes,
                 algorithm: str = "rsa-sha256") -> etree._Element:
    """Return a signed copy of ``root``: enveloped signature as its last child, one reference to
    the root (``#<Id>`` if the root has an ``Id``, else ``""``), certificate in ``ds:KeyInfo``.

    Exclusive canonicalisation is used so the signature survives when the message is later
    embedded in a SOAP envelope with other namespaces in scope. Only allowed algorithms; an
    EC key needs ``algorithm="ecdsa-sha256"`` (or -384/-512).
    """
    method = SignatureMethod.from_fragment(algorithm)
    if method not in ALLOWED_SIGNATURE_METHODS:
        raise ValueError(f"{algorithm} is not an allowed signature algorithm")
    if isinstance(key, bytes):
        key = serialization.load_pem_private_key(key, password=None)  # type: ignore[assignment]
    family = rsa.RSAPrivateKey if method.name.startswith("RSA_") else ec.EllipticCurvePrivateKey
    if not isinstance(key, family):
        raise ValueError(f"{algorithm} needs an {family.__name__}, not {type(key).__name__}")
    certificate = x509.load_pem_x509_certificate(cert) if isinstance(cert, bytes) else cert
    signer = XMLSigner(
        method=construction.enveloped,
        signature_algorithm=method,
        digest_algorithm=DIGEST_FOR[method],
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    return signer.sign(root, key=key, cert=[certificate])


__all__ = ["SignerKey", "sign_message"]
