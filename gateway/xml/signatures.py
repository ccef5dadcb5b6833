"""Verification of enveloped XML signatures (XML-DSig) on inbound messages such as MeMo.

A Danish authority signs the whole ``Message``: one ``ds:Signature`` as a direct child of the
root, one ``ds:Reference`` to the root (``URI=""`` or ``"#<Id of the root>"``) with the
enveloped-signature transform. Anything else is refused *before* the expensive work, with a
stable :class:`SignatureCode`, because each deviation is how a known attack starts:

* a signature that is not a direct child of the root, or a reference that resolves to some
  other element, is signature wrapping (XSW): valid signed data hidden inside unsigned data;
* Id values are resolved the way signxml resolves them (attributes named ``Id``, ``ID`` or
  ``id`` in any namespace) and must name exactly one element, so duplicate Ids cannot steer
  signxml and this module to different elements;
* SHA-1 and HMAC are refused by an explicit allow-list (:mod:`gateway.xml.dsig`; HMAC would
  make the "certificate" a shared secret, SHA-1 is broken), and only the enveloped and
  canonicalisation transforms are allowed (signxml silently ignores unknown transforms, and
  base64 would change what is signed).

Trust is a per-sender :class:`SignaturePolicy`: pinned certificates and/or the certificates of
a private CA. Certificates are parsed once and the CA store is built once per
:class:`SignatureVerifier`; signxml gets certificate *objects* (PEM per call costs ~30 ms).
Only :attr:`VerifiedMessage.root`, the data signxml returns as signed, may be used afterwards.
Processing instructions are verified as sent (canonical XML keeps them; the tree comes from
:data:`~gateway.xml.parser.SIGNED_INLINE_DOCUMENTS`) and then stripped from that root: they
are not data, and no later step should have to skip them.
"""
from __future__ import annotations

import datetime as dt
import functools
import threading
from base64 import b64decode
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cryptography.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification
from lxml import etree
from signxml import SignatureConfiguration, VerifyResult
from signxml.exceptions import InvalidCertificate, SignXMLException

from gateway.errors import FamilyError, FaultFamily
from gateway.limits import LIMITS
from gateway.xml.dsig import ALLOWED_CANONICALIZATIONS, ALLOWED_CURVES, ALLOWED_DIGESTS, ALLOWED_SIGNATURE_METHODS, DS, ENVELOPED
from gateway.xml.parser import SIGNED_INLINE_DOCUMENTS, make_parser
from gateway.xml.signxml_tree import ParsedTreeVerifier, xml_attributes

_SIGNATURE = f"{{{DS}}}Signature"
_ID_NAMES = frozenset({"Id", "ID", "id"})  # signxml matches these local names in any namespace
_MAX_EMBEDDED_CERTIFICATES = LIMITS.max_embedded_certificates
#: Signing certificates are 1–3 KB; a larger one is refused before it is decoded, which also
#: bounds what the per-certificate caches below can be made to hold.
_MAX_CERTIFICATE_BYTES = LIMITS.max_certificate_bytes


class SignatureCode(FaultFamily, side="Client", http_status=400):
    """Why a signature is refused: a stable code and what it means for the sender's operator."""

    SIGNATURE_MISSING = "SIGNATURE_MISSING", "The message carries no XML signature and the sender's policy requires one."
    SIGNATURE_MULTIPLE = "SIGNATURE_MULTIPLE", "More than one `ds:Signature` in the message; exactly one, as a direct child of the root, is accepted."
    SIGNATURE_WRAPPING = "SIGNATURE_WRAPPING", "The signature is not a direct child of the root or covers another element than the root (signature wrapping, duplicate Ids)."
    SIGNATURE_INVALID = "SIGNATURE_INVALID", "The signature or a digest does not verify (content changed after signing, wrong key, malformed `ds:Signature`)."
    SIGNATURE_ALGORITHM_REFUSED = "SIGNATURE_ALGORITHM_REFUSED", "SHA-1, HMAC, DSA, an unknown transform or a weak key; allowed: RSA/ECDSA with SHA-256/384/512, SHA-256+ digests, RSA ≥ 2048 bits."
    SIGNATURE_REFERENCE_INVALID = "SIGNATURE_REFERENCE_INVALID", "Not exactly one `ds:Reference`, or its URI is not `\"\"` / `#<Id of the root>`, or the enveloped-signature transform is missing."
    SIGNATURE_CERTIFICATE_UNTRUSTED = "SIGNATURE_CERTIFICATE_UNTRUSTED", "The signing certificate is neither pinned for this sender nor issued by the sender's CA."
    SIGNATURE_CERTIFICATE_EXPIRED = "SIGNATURE_CERTIFICATE_EXPIRED", "The signing certificate is expired or not yet valid."


#: Derived from the shared policy (:mod:`gateway.xml.dsig`): what ``ds:SignedInfo`` may name.
_SIGNATURE_URIS = frozenset(method.value for method in ALLOWED_SIGNATURE_METHODS)
_DIGEST_URIS = frozenset(digest.value for digest in ALLOWED_DIGESTS)
_TRANSFORM_URIS = ALLOWED_CANONICALIZATIONS | {ENVELOPED}


class SignatureError(FamilyError):
    """A signature refusal; ``details["code"]`` is the :class:`SignatureCode`."""

    def __init__(self, reason: SignatureCode, message: str, *, field: str | None = None) -> None:
        super().__init__(reason, message, field=field)
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class SignaturePolicy:
    """Whom one sender's signatures must chain to. Certificates are parsed objects, loaded once."""

    pinned_certificates: tuple[x509.Certificate, ...] = ()
    ca_certificates: tuple[x509.Certificate, ...] = ()
    allow_unsigned: bool = False
    min_rsa_bits: int = 2048

    def __post_init__(self) -> None:
        object.__setattr__(self, "pinned_certificates", tuple(self.pinned_certificates))
        object.__setattr__(self, "ca_certificates", tuple(self.ca_certificates))
        if not self.pinned_certificates and not self.ca_certificates:
            raise ValueError("a signature policy needs pinned certificates or CA certificates")

    @classmethod
    def from_pem_files(cls, *, pinned: Iterable[str | Path] = (), ca: Iterable[str | Path] = (),
                       allow_unsigned: bool = False) -> SignaturePolicy:
        """Read PEM files (several certificates per file allowed) once, at start-up."""
        return cls(pinned_certificates=_load_pems(pinned), ca_certificates=_load_pems(ca), allow_unsigned=allow_unsigned)


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """The outcome of :meth:`SignatureVerifier.verify`.

    ``root`` is the data signxml returned as signed (re-parsed from its canonical form, the
    signature removed, processing instructions stripped): the only tree later steps may read.
    Unsigned messages that a policy allows come back with ``signed=False`` and the input tree
    (its processing instructions stripped too).
    """

    root: etree._Element
    signed: bool
    signer_subject: str | None = None
    signer_fingerprint: str | None = None  # SHA-256 of the DER certificate, lowercase hex
    signer_certificate: x509.Certificate | None = None
    signature_method: str | None = None


@functools.lru_cache(maxsize=256)
def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 over the DER certificate as lowercase hex without separators.

    Remembered per certificate (certificates hash and compare by their DER bytes): the same
    few signing certificates arrive with every message.
    """
    return cert.fingerprint(hashes.SHA256()).hex()


@functools.lru_cache(maxsize=256)
def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


class SignatureVerifier:
    """Verifies enveloped signatures for one :class:`SignaturePolicy`; build once, share freely.

    Thread-safe: signxml keeps per-call state on its verifier object, so each call gets a
    fresh (cheap) ``XMLVerifier``; what is expensive (certificates, CA store, configuration)
    is built here once.
    """

    def __init__(self, policy: SignaturePolicy) -> None:
        self.policy = policy
        self._pinned = {fingerprint(cert): cert for cert in policy.pinned_certificates}
        self._store = verification.Store(list(policy.ca_certificates)) if policy.ca_certificates else None
        self._config = SignatureConfiguration(
            require_x509=True,
            location="./",
            expect_references=1,
            signature_methods=ALLOWED_SIGNATURE_METHODS,
            digest_algorithms=ALLOWED_DIGESTS,
        )
        self._local = threading.local()

    def verify(self, root: etree._Element) -> VerifiedMessage:
        """Verify ``root``'s enveloped signature; raise :class:`SignatureError` on any doubt.

        ``root`` should come from :func:`~gateway.xml.parser.parse_untrusted` with
        :data:`SIGNED_INLINE_DOCUMENTS` (the parser signxml is given too): a document root is
        then handed to signxml as it is instead of being serialised and parsed a second time,
        and processing instructions signed with it still count (a tree parsed without them
        fails the digest of a message that has any).
        """
        signature = self._locate(root)
        if signature is None:
            return VerifiedMessage(root=_without_processing_instructions(root), signed=False)
        method, reference = _inspect(signature)
        _check_target(root, reference.get("URI"))
        certificate = self._signing_certificate(_embedded_certificates(signature))
        result = self._verify_with_signxml(root, certificate)
        signed = result.signed_xml
        if signed is None or signed.tag != root.tag:
            raise SignatureError(SignatureCode.SIGNATURE_WRAPPING, "the signed data is not the message root")
        return VerifiedMessage(
            root=_without_processing_instructions(signed),
            signed=True,
            signer_subject=_subject(certificate),
            signer_fingerprint=fingerprint(certificate),
            signer_certificate=certificate,
            signature_method=method,
        )

    # -- structure ---------------------------------------------------------------------------

    def _locate(self, root: etree._Element) -> etree._Element | None:
        everywhere = list(root.iter(_SIGNATURE))
        direct = [sig for sig in everywhere if sig.getparent() is root]
        if not everywhere:
            if self.policy.allow_unsigned:
                return None
            raise SignatureError(SignatureCode.SIGNATURE_MISSING, "the message is not signed (no ds:Signature)")
        if not direct:
            raise SignatureError(SignatureCode.SIGNATURE_WRAPPING, "the ds:Signature is not a direct child of the message root")
        if len(everywhere) > 1:
            raise SignatureError(SignatureCode.SIGNATURE_MULTIPLE, f"{len(everywhere)} ds:Signature elements; exactly one is accepted")
        return direct[0]

    # -- trust -------------------------------------------------------------------------------

    def _signing_certificate(self, embedded: Sequence[x509.Certificate]) -> x509.Certificate:
        now = dt.datetime.now(dt.timezone.utc)
        for cert in embedded:
            pinned = self._pinned.get(fingerprint(cert))
            if pinned is not None:
                return _usable(pinned, now, self.policy.min_rsa_bits)
        if embedded and self._store is not None:
            return _usable(self._chain_to_ca(self._store, embedded, now), now, self.policy.min_rsa_bits)
        if embedded:
            raise SignatureError(SignatureCode.SIGNATURE_CERTIFICATE_UNTRUSTED,
                                 f"the signing certificate ({_describe(embedded[0])}) is not pinned for this sender")
        if self._store is None and len(self._pinned) == 1:
            return _usable(next(iter(self._pinned.values())), now, self.policy.min_rsa_bits)
        raise SignatureError(SignatureCode.SIGNATURE_CERTIFICATE_UNTRUSTED,
                             "ds:KeyInfo carries no X509Certificate; this sender's policy needs it to choose the trusted certificate")

    @staticmethod
    def _chain_to_ca(store: verification.Store, embedded: Sequence[x509.Certificate], now: dt.datetime) -> x509.Certificate:
        verifier = (
            verification.PolicyBuilder().store(store).time(now)
            .extension_policies(ee_policy=_EE_POLICY, ca_policy=verification.ExtensionPolicy.webpki_defaults_ca())
            .build_client_verifier()
        )
        last_error = "no certificate"
        for index, leaf in enumerate(embedded):
            if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
                last_error = f"{_describe(leaf)} is outside its validity period"
                continue
            intermediates = [cert for i, cert in enumerate(embedded) if i != index]
            try:
                return verifier.verify(leaf, intermediates).chain[0]
            except verification.VerificationError as exc:
                last_error = str(exc)
        expired = [cert for cert in embedded if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc]
        if len(expired) == len(embedded):
            raise SignatureError(SignatureCode.SIGNATURE_CERTIFICATE_EXPIRED, last_error)
        raise SignatureError(SignatureCode.SIGNATURE_CERTIFICATE_UNTRUSTED,
                             f"the signing certificate does not chain to this sender's CA: {last_error}")

    # -- cryptography ------------------------------------------------------------------------

    def _verify_with_signxml(self, message: etree._Element, certificate: x509.Certificate) -> VerifyResult:
        try:
            verifier = ParsedTreeVerifier()
            outer = xml_attributes(message)
            if outer:
                verifier.outer_xml_attributes = outer
            result = verifier.verify(message, x509_cert=certificate, parser=self._parser(), expect_config=self._config)
        except InvalidCertificate as exc:
            raise SignatureError(SignatureCode.SIGNATURE_CERTIFICATE_EXPIRED, f"the signing certificate is not usable: {exc}") from exc
        except (SignXMLException, cryptography.exceptions.InvalidSignature, etree.LxmlError, ValueError, KeyError, TypeError) as exc:
            raise SignatureError(SignatureCode.SIGNATURE_INVALID, f"the signature does not verify: {exc}") from exc
        assert isinstance(result, VerifyResult)  # expect_references=1 gives one result
        return result

    def _parser(self) -> etree.XMLParser:
        """signxml re-parses the tree and the signed data; with our hardened parser, per thread."""
        parser = getattr(self._local, "parser", None)
        if parser is None:
            parser = self._local.parser = make_parser(SIGNED_INLINE_DOCUMENTS)
        return parser


def _without_processing_instructions(root: etree._Element) -> etree._Element:
    """``root`` with its processing instructions removed (text around them joined): they were
    needed for the digest, but they are not data for the rules, the schema or the mapping.
    PIs beside the root (before or after it) are left; no step reads past the root."""
    etree.strip_tags(root, etree.ProcessingInstruction)
    return root


def _validate_key_usage(_policy: object, _cert: x509.Certificate, key_usage: x509.KeyUsage | None) -> None:
    if key_usage is not None and not key_usage.digital_signature:
        raise ValueError("certificate KeyUsage does not allow digitalSignature")


# A signing certificate from a private CA: any extensions, but KeyUsage must allow signatures.
_EE_POLICY = verification.ExtensionPolicy.permit_all().require_present(
    x509.KeyUsage, verification.Criticality.AGNOSTIC, _validate_key_usage,
)


def _inspect(signature: etree._Element) -> tuple[str, etree._Element]:
    """Algorithms and the single reference, checked before any cryptography runs."""
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    if signed_info is None:
        raise SignatureError(SignatureCode.SIGNATURE_INVALID, "ds:Signature has no ds:SignedInfo")
    c14n = _algorithm(signed_info, "CanonicalizationMethod")
    if c14n not in ALLOWED_CANONICALIZATIONS:
        raise SignatureError(SignatureCode.SIGNATURE_ALGORITHM_REFUSED, f"canonicalization {c14n!r} is not allowed")
    method = _algorithm(signed_info, "SignatureMethod")
    if method not in _SIGNATURE_URIS:
        raise SignatureError(SignatureCode.SIGNATURE_ALGORITHM_REFUSED,
                             f"signature method {method!r} is not allowed (RSA or ECDSA with SHA-256/384/512 only; no SHA-1, no HMAC)")
    references = signed_info.findall(f"{{{DS}}}Reference")
    if len(references) != 1:
        raise SignatureError(SignatureCode.SIGNATURE_REFERENCE_INVALID, f"{len(references)} ds:Reference elements; exactly one is accepted")
    reference = references[0]
    digest = _algorithm(reference, "DigestMethod")
    if digest not in _DIGEST_URIS:
        raise SignatureError(SignatureCode.SIGNATURE_ALGORITHM_REFUSED, f"digest {digest!r} is not allowed (SHA-256 or stronger only)")
    transforms = [t.get("Algorithm") for t in reference.iterfind(f"{{{DS}}}Transforms/{{{DS}}}Transform")]
    refused = [t for t in transforms if t not in _TRANSFORM_URIS]
    if refused:
        raise SignatureError(SignatureCode.SIGNATURE_ALGORITHM_REFUSED, f"transform {refused[0]!r} is not allowed")
    if ENVELOPED not in transforms:
        raise SignatureError(SignatureCode.SIGNATURE_REFERENCE_INVALID, "the reference lacks the enveloped-signature transform")
    return method, reference


def _algorithm(parent: etree._Element, name: str) -> str | None:
    element = parent.find(f"{{{DS}}}{name}")
    return None if element is None else element.get("Algorithm")


def _check_target(root: etree._Element, uri: str | None) -> None:
    """The reference must resolve, as signxml resolves it, to ``root`` and nothing else."""
    if uri == "":
        return
    if uri is None or not uri.startswith("#") or len(uri) == 1 or uri.startswith("#xpointer("):
        raise SignatureError(SignatureCode.SIGNATURE_REFERENCE_INVALID, f"reference URI {uri!r} is neither \"\" nor \"#<Id of the root>\"")
    wanted = uri[1:]
    matches = [
        element for element in root.iter(etree.Element)
        if any(value == wanted and etree.QName(name).localname in _ID_NAMES for name, value in element.attrib.items())
    ]
    if len(matches) > 1:
        raise SignatureError(SignatureCode.SIGNATURE_WRAPPING, f"Id {wanted!r} is carried by {len(matches)} elements")
    if not matches:
        raise SignatureError(SignatureCode.SIGNATURE_REFERENCE_INVALID, f"reference URI {uri!r} names no element")
    if matches[0] is root:
        return
    if matches[0].tag == root.tag:
        raise SignatureError(SignatureCode.SIGNATURE_WRAPPING, "the signature covers a nested copy of the message, not the root")
    raise SignatureError(SignatureCode.SIGNATURE_REFERENCE_INVALID,
                         f"the reference covers {etree.QName(matches[0]).localname}, not the message root")


def _embedded_certificates(signature: etree._Element) -> list[x509.Certificate]:
    texts = [el.text or "" for el in signature.iterfind(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")]
    if len(texts) > _MAX_EMBEDDED_CERTIFICATES:
        raise SignatureError(SignatureCode.SIGNATURE_INVALID, f"{len(texts)} certificates in ds:KeyInfo; at most {_MAX_EMBEDDED_CERTIFICATES}")
    certificates = []
    for text in texts:
        try:
            # base64 with generous room for line breaks; larger is never decoded
            der = b64decode("".join(text.split()), validate=True) if len(text) <= 2 * _MAX_CERTIFICATE_BYTES else None
            if der is None or len(der) > _MAX_CERTIFICATE_BYTES:
                raise SignatureError(SignatureCode.SIGNATURE_INVALID,
                                     f"an X509Certificate in ds:KeyInfo is larger than {_MAX_CERTIFICATE_BYTES} bytes")
            certificates.append(_load_der(der))
        except ValueError as exc:
            raise SignatureError(SignatureCode.SIGNATURE_INVALID, f"an X509Certificate in ds:KeyInfo cannot be read: {exc}") from exc
    return certificates


@functools.lru_cache(maxsize=256)
def _load_der(der: bytes) -> x509.Certificate:
    """Certificates are immutable; a sender's few certificates are decoded once."""
    return x509.load_der_x509_certificate(der)


def _usable(cert: x509.Certificate, now: dt.datetime, min_rsa_bits: int) -> x509.Certificate:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SignatureError(SignatureCode.SIGNATURE_CERTIFICATE_EXPIRED,
                             f"the signing certificate ({_describe(cert)}) is valid from {cert.not_valid_before_utc:%Y-%m-%d} "
                             f"to {cert.not_valid_after_utc:%Y-%m-%d}")
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < min_rsa_bits:
        raise SignatureError(SignatureCode.SIGNATURE_ALGORITHM_REFUSED, f"RSA key of {key.key_size} bits; at least {min_rsa_bits} required")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in ALLOWED_CURVES:
        raise SignatureError(SignatureCode.SIGNATURE_ALGORITHM_REFUSED, f"elliptic curve {key.curve.name} is not allowed")
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise SignatureError(SignatureCode.SIGNATURE_ALGORITHM_REFUSED, f"{type(key).__name__} keys are not allowed")
    return cert


def _describe(cert: x509.Certificate) -> str:
    try:
        subject = _subject(cert)
    except ValueError:
        subject = "<unreadable subject>"
    return f"subject {subject}, SHA-256 {fingerprint(cert)}"


def _load_pems(paths: Iterable[str | Path]) -> tuple[x509.Certificate, ...]:
    certs: list[x509.Certificate] = []
    for path in paths:
        certs.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    return tuple(certs)


__all__ = [
    "SignatureCode", "SignatureError", "SignaturePolicy", "SignatureVerifier", "VerifiedMessage", "fingerprint",
]
