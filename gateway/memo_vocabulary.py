"""The MeMo vocabulary: namespaces, versions and the names more than one module needs.

MeMo ("Meddelelsesformat", Danish Digital Post) is read at intake (``domain/memo_rules.py``,
``mapping/memo.py``) and written for Digital Post (``mapping/memo_out.py``). Its words stay
here and in those modules: the canonical model names the same things in its own words
(:class:`gateway.model.RoutingMetadata`), and no other module spells a MeMo name. It imports
nothing, so every layer may use it (the stored form of the model, ``routing_storage.py``, does).
"""
from __future__ import annotations

from typing import Final

#: MeMo 1.1 and 1.2 share this namespace (1.2 drops ``memoSchVersion`` and adds elements).
MEMO_NS: Final = "https://DigitalPost.dk/MeMo-1"
#: Grunddata (CPR/CVR data, production units, addresses).
GRD_NS: Final = "https://data.gov.dk/model/core/"
#: KLE subject keys and FORM task keys.
KLE_NS: Final = "http://kle-online.dk/"
FORM_NS: Final = "http://www.form-online.dk/"
#: The prefixes of the paths in ``mappings/memo.toml``; Digital Post requires the literal
#: ``memo:`` prefix on what the gateway writes.
NSMAP: Final = {"memo": MEMO_NS, "grd": GRD_NS, "kle": KLE_NS, "form": FORM_NS}

#: ``memoVersion`` exactly as a sender must write it, one per schema the gateway has. The XSD
#: type is ``xs:decimal``, so ``1.10``, ``01.1`` or `` 1.1`` are schema-valid spellings of 1.1;
#: they are refused all the same: Digital Post compares the text, and the version picks the
#: schema, so an unlisted spelling must never get further than the MeMo rules.
SUPPORTED_VERSIONS: tuple[str, ...] = ("1.1", "1.2")
#: The root attributes the gateway writes for Digital Post, by ``memoVersion``: 1.2 drops
#: ``memoSchVersion`` (the official 1.2 examples have none).
WRITTEN_VERSIONS: Final[dict[str, dict[str, str]]] = {
    "1.1": {"memoVersion": "1.1", "memoSchVersion": "1.1.0"},
    "1.2": {"memoVersion": "1.2"},
}
#: Written when nothing else is asked for (MeMo 1.2 launched March 2025).
WRITTEN_VERSION: Final = "1.2"

#: ``messageType`` of a text message: the header's ``notification`` sent as an SMS through
#: Digital Post's NemSMS service; no ``MessageBody``, so no documents.
NEMSMS: Final = "NEMSMS"
#: ``messageType`` of a letter.
DIGITALPOST: Final = "DIGITALPOST"

#: ``ContentData/AdditionalContentData`` maxOccurs.
ADDITIONAL_CONTENT_DATA_MAX: Final = 10
#: ``Recipient/ContactPoint/ContactInfo`` maxOccurs.
CONTACT_INFO_MAX: Final = 2
#: The text children of ``ReplyData``, in the XSD's order → the attribute of the canonical
#: :class:`gateway.model.ReplyReference` (1.2 adds ``AdditionalReplyData``, which has no text).
REPLY_DATA_FIELDS: Final = {
    "messageID": "message_id", "messageUUID": "message_uuid", "replyUUID": "reply_uuid", "senderID": "sender_id",
    "recipientID": "recipient_id", "caseID": "case_id", "contactPointID": "contact_point_id",
    "generatingSystemID": "generating_system_id", "comment": "comment",
}
#: The children of ``AdditionalContentData``, in the XSD's order → the attribute of the
#: canonical :class:`gateway.model.ContentData`.
ADDITIONAL_CONTENT_DATA_FIELDS: Final = {"contentDataType": "type", "contentDataName": "name", "contentDataValue": "value"}


def xs_boolean(text: str | None) -> bool | None:
    """An ``xs:boolean`` (``true``/``1``, ``false``/``0``); None when the element is absent."""
    return None if text is None else text in ("true", "1")


def boolean_text(value: bool) -> str:
    return "true" if value else "false"


def clark(local: str, namespace: str = MEMO_NS) -> str:
    """``{namespace}local``, the name lxml gives an element."""
    return f"{{{namespace}}}{local}"


__all__ = [
    "ADDITIONAL_CONTENT_DATA_FIELDS", "ADDITIONAL_CONTENT_DATA_MAX", "CONTACT_INFO_MAX", "DIGITALPOST", "FORM_NS", "GRD_NS",
    "KLE_NS", "MEMO_NS", "NEMSMS", "NSMAP", "REPLY_DATA_FIELDS", "SUPPORTED_VERSIONS", "WRITTEN_VERSION",
    "WRITTEN_VERSIONS", "boolean_text", "clark", "xs_boolean",
]
