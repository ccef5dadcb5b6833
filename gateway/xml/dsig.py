"""XML-DSig names and the algorithm policy that signing (:mod:`gateway.xml.signing`) and
verifying (:mod:`gateway.xml.signatures`) share, so the gateway never signs with anything it
would refuse: RSA or ECDSA with SHA-256/384/512, SHA-256 or stronger digests, NIST curves.
SHA-1 and HMAC are left out on purpose (SHA-1 is broken; HMAC would make the "certificate" a
shared secret)."""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

DS = "http://www.w3.org/2000/09/xmldsig#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

ALLOWED_SIGNATURE_METHODS: frozenset[SignatureMethod] = frozenset({
    SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512,
    SignatureMethod.ECDSA_SHA256, SignatureMethod.ECDSA_SHA384, SignatureMethod.ECDSA_SHA512,
})
ALLOWED_DIGESTS: frozenset[DigestAlgorithm] = frozenset({
    DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512,
    DigestAlgorithm.SHA3_256, DigestAlgorithm.SHA3_384, DigestAlgorithm.SHA3_512,
})
#: Algorithm URIs of every canonicalisation signxml knows (1.0, 1.1, exclusive; with or without comments).
ALLOWED_CANONICALIZATIONS: frozenset[str] = frozenset(method.value for method in CanonicalizationMethod)
#: Names of the elliptic curves an ECDSA key may use.
ALLOWED_CURVES: frozenset[str] = frozenset({"secp256r1", "secp384r1", "secp521r1"})
#: The digest that goes with each signature method when the gateway signs.
DIGEST_FOR: Mapping[SignatureMethod, DigestAlgorithm] = MappingProxyType({
    SignatureMethod.RSA_SHA256: DigestAlgorithm.SHA256, SignatureMethod.ECDSA_SHA256: DigestAlgorithm.SHA256,
    SignatureMethod.RSA_SHA384: DigestAlgorithm.SHA384, SignatureMethod.ECDSA_SHA384: DigestAlgorithm.SHA384,
    SignatureMethod.RSA_SHA512: DigestAlgorithm.SHA512, SignatureMethod.ECDSA_SHA512: DigestAlgorithm.SHA512,
})

__all__ = [
    "ALLOWED_CANONICALIZATIONS", "ALLOWED_CURVES", "ALLOWED_DIGESTS", "ALLOWED_SIGNATURE_METHODS", "DIGEST_FOR", "DS", "ENVELOPED",
]
