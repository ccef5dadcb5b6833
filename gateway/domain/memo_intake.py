"""MeMo intake: one signed ``memo:Message`` → a durable shipment.

Order matters and each step reads only what the previous one vouched for: parse once with
the hardened parser; verify the enveloped signature against the sender's pinned certificate
or CA (and from then on use only the signed data signxml returns); validate against the
gateway's own MeMo schema for the message's ``memoVersion``; check the MeMo rules beyond the
XSD; map to the canonical shipment; accept it (the messageUUID is the shipment id, so a
repeat is answered, not stored twice).
"""
from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from gateway.config import SenderSettings
from gateway.domain.memo_rules import MemoRule, MemoRuleError, check_memo
from gateway.domain.shipments import Acceptance, ShipmentService
from gateway.errors import FaultCode, GatewayError, ValidationError
from gateway.mapping.memo import is_nemsms, shipment_from_memo
from gateway.memo_vocabulary import SUPPORTED_VERSIONS
from gateway.xml.parser import INLINE_DOCUMENTS, SIGNED_INLINE_DOCUMENTS, parse_untrusted
from gateway.xml.schemas import SchemaRegistry
from gateway.xml.signatures import SignatureCode, SignatureError, SignaturePolicy, SignatureVerifier

#: One schema per version the MeMo rules admit (the rules compare the text exactly).
SCHEMA_BY_VERSION = {version: f"memo-{version}" for version in SUPPORTED_VERSIONS}
DS_SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"


def build_verifiers(senders: Mapping[str, SenderSettings]) -> dict[str, SignatureVerifier]:
    """One verifier per sender with certificates, built at start (certificates loaded once)."""
    verifiers = {}
    for name, s in senders.items():
        if s.signing_certificate or s.signing_ca:
            policy = SignaturePolicy.from_pem_files(
                pinned=[s.signing_certificate] if s.signing_certificate else [],
                ca=[s.signing_ca] if s.signing_ca else [],
                allow_unsigned=s.allow_unsigned,
            )
            verifiers[name] = SignatureVerifier(policy)
    return verifiers


class MemoIntake:
    def __init__(self, shipments: ShipmentService, schemas: SchemaRegistry, verifiers: Mapping[str, SignatureVerifier]) -> None:
        self.shipments = shipments
        self.schemas = schemas
        self.verifiers = dict(verifiers)

    def accept(self, data: bytes, *, sender: SenderSettings) -> Acceptance:
        try:
            # A verified signature covers processing instructions: they are parsed with it and
            # the verifier strips them from the tree it returns; without a verifier none is kept.
            policy = SIGNED_INLINE_DOCUMENTS if sender.name in self.verifiers else INLINE_DOCUMENTS
            root = self._verified(parse_untrusted(data, policy=policy), sender)
            # The MeMo rules first: several repeat an XSD facet (UUID v4, Z times, lengths)
            # and their codes tell an operator more than a schema message does.
            check_memo(root)
            version = root.get("memoVersion", "")
            schema = SCHEMA_BY_VERSION.get(version)
            if schema is None:  # check_memo admits only these; never a KeyError (HTTP 500, no audit)
                raise MemoRuleError(MemoRule.VERSION_UNSUPPORTED, f"no schema for memoVersion {version[:20]!r}",
                                    field="/Message/@memoVersion")
            report = self.schemas.validate(schema, root)
            if not report.valid:
                first = report.errors[0]
                raise ValidationError(f"not a valid MeMo {version} message: {first.message}",
                                      code=FaultCode.SCHEMA_INVALID, field=first.path)
            shipment, contents = shipment_from_memo(root, sender=sender)
        except GatewayError as exc:
            self.shipments.audit_refusal("sendMessage", sender.name, exc, None)
            raise
        # MeMo documents may share a file name (a main and an additional document both
        # "Vedtak.pdf"); SvarUt's uniqueness rule does not apply. A NemSMS has no documents
        # (the MeMo rules made sure it has its text instead) and is digital only.
        return self.shipments.accept(shipment, contents, operation="sendMessage", shipment_id=shipment.id,
                                     reservation_required=False, unique_filenames=False,
                                     documents_required=not is_nemsms(root))

    def _verified(self, root: etree._Element, sender: SenderSettings) -> etree._Element:
        verifier = self.verifiers.get(sender.name)
        if verifier is not None:
            return verifier.verify(root).root
        signed = root.find(DS_SIGNATURE) is not None
        if signed:
            raise SignatureError(SignatureCode.SIGNATURE_CERTIFICATE_UNTRUSTED,
                                 "no signing certificate is configured for this sender")
        if not sender.allow_unsigned:
            raise SignatureError(SignatureCode.SIGNATURE_MISSING, "the message is not signed, and this sender must sign")
        return root
