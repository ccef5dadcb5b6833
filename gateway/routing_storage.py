"""The stored form of :class:`gateway.model.RoutingMetadata`, kept as it was first written.

Until the model named its routing fields, the MeMo intake kept them as ``(key, value)``
pairs in ``routing.extra`` ("memo.contactPoint.group", ...). Stored shipments have that form,
and so has the content digest every accepted letter is stored with: a repeat sent after an
upgrade must still match it. So the stored form stays the pairs, in the order the intake
wrote them, and these two functions translate between it and the model's plain data (the
dicts of :func:`gateway.stored_form.to_data`). They work on plain data only, below the model;
the stored keys are the stored form's own names, not MeMo's (those are in ``memo_vocabulary``).
One value is stored in one spelling only: an ``xs:boolean`` flag as ``true``/``false``, so a
letter that wrote one as ``1``/``0`` has a new digest (its repeat across this change is a
conflict; no other letter's digest changes).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gateway.memo_vocabulary import ADDITIONAL_CONTENT_DATA_FIELDS, DIGITALPOST, NEMSMS, REPLY_DATA_FIELDS, boolean_text, xs_boolean

#: Fields stored as themselves, in their stored order.
_PLAIN = ("kle", "form", "case_id", "case_system", "production_unit", "contact_point", "post_type", "shipment_type")

#: Stored key → where its value lives in the model's data, in the order of the stored pairs.
#: ("concerns", kind, attribute) is the first concerned party of that kind.
_PAIRS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("memo.messageType", ("handling", "text_message")),
    ("memo.messageCode", ("handling", "message_code")),
    ("memo.notification", ("handling", "notification")),
    ("memo.additionalNotification", ("handling", "additional_notification")),
    ("memo.reply", ("handling", "reply_allowed")),
    ("memo.replyByDateTime", ("handling", "reply_by")),
    ("memo.doNotDeliverUntilDate", ("handling", "hold_until")),
    ("memo.mandatory", ("handling", "mandatory")),
    ("memo.legalNotification", ("handling", "legal_notification")),
    ("memo.kle.version", ("kle_version",)),
    ("memo.kle.label", ("kle_label",)),
    ("memo.form.version", ("form_version",)),
    ("memo.form.label", ("form_label",)),
    ("memo.cpr", ("concerns", "DK_CPR", "identifier")),
    ("memo.cpr.name", ("concerns", "DK_CPR", "name")),
    ("memo.cvr", ("concerns", "DK_CVR", "identifier")),
    ("memo.cvr.name", ("concerns", "DK_CVR", "name")),
    ("memo.productionUnit.name", ("production_unit_name",)),
    ("memo.contactPoint.group", ("contact_group",)),
    ("memo.contactPoint.label", ("contact_label",)),
    ("memo.sender.contactPointID", ("sender_contact_point",)),
    ("memo.attention.person", ("attention", "person")),
    ("memo.attention.productionUnit", ("attention", "production_unit")),
    ("memo.attention.email", ("attention", "email")),
    ("memo.forward.messageUUID", ("forwarded", "message_uuid")),
    ("memo.forward.originalSender", ("forwarded", "original_sender")),
    ("memo.representative", ("sender_representative",)),
)
_LOCATION = dict(_PAIRS)
#: Indexed lists: stored name → (model field, stored part → model attribute).
_LISTS: dict[str, tuple[str, dict[str, str]]] = {
    "additionalContentData": ("content_data", ADDITIONAL_CONTENT_DATA_FIELDS),
    "replyData": ("replies_to", REPLY_DATA_FIELDS),
}
_INDEXED = re.compile(r"memo\.(additionalContentData|replyData)\[(\d+)\]\.(\w+)")
_CONTACT_INFO = re.compile(r"memo\.contactInfo\[(\d+)\]")
_BOOLEANS = frozenset({"reply_allowed", "mandatory", "legal_notification"})


def routing_to_stored(data: dict[str, Any]) -> dict[str, Any]:
    """The model's plain routing data → the stored form (plain fields and ordered pairs)."""
    pairs: list[list[str]] = []
    for key, get in _GETTERS:
        value = get(data)
        if value is not None:
            pairs.append([key, value])
    for stored_name, (name, parts) in _LISTS.items():
        for i, item in enumerate(data[name]):
            pairs.extend([f"memo.{stored_name}[{i}].{part}", item[attribute]]
                         for part, attribute in parts.items() if item[attribute] is not None)
    pairs.extend([f"memo.contactInfo[{i}]", f"{info['label']}={info['value']}"] for i, info in enumerate(data["contact_info"]))
    pairs.extend(data["extra"])
    stored = {name: data[name] for name in _PLAIN}
    stored["extra"] = pairs
    return stored


def routing_from_stored(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored form → the model's plain routing data (pairs it does not know stay pairs)."""
    data: dict[str, Any] = {name: value for name, value in stored.items() if name != "extra"}
    lists: dict[str, dict[int, dict[str, str]]] = {name: {} for name, _ in _LISTS.values()}
    contact_info: dict[int, dict[str, str]] = {}
    extra = []
    for key, value in stored.get("extra") or ():
        location = _LOCATION.get(key)
        if location is not None:
            _put(data, location, _model_value(location[-1], value))
        elif (indexed := _INDEXED.fullmatch(key)) and indexed[3] in _LISTS[indexed[1]][1]:
            name, parts = _LISTS[indexed[1]]
            lists[name].setdefault(int(indexed[2]), {})[parts[indexed[3]]] = value
        elif contact := _CONTACT_INFO.fullmatch(key):
            label, _, info_value = value.partition("=")
            contact_info[int(contact[1])] = {"label": label, "value": info_value}
        else:
            extra.append([key, value])
    for name, items in lists.items():
        data[name] = [items[i] for i in sorted(items)]
    data["contact_info"] = [contact_info[i] for i in sorted(contact_info)]
    data["extra"] = extra
    return data


def _getter(location: tuple[str, ...]) -> Callable[[dict[str, Any]], str | None]:
    """A function answering the stored text at ``location`` of the model's data (None: absent).
    Built once per key: a shipment is converted twice per intake."""
    attribute = location[-1]
    if location[0] == "concerns":
        kind = location[1]

        def concerned(data: dict[str, Any]) -> str | None:
            return next((p[attribute] for p in data["concerns"] if p["kind"] == kind), None)
        return concerned
    if len(location) == 1:
        return lambda data: data[attribute]
    parent = location[0]

    def nested(data: dict[str, Any]) -> str | None:
        node = data[parent]
        value = node[attribute] if node else None
        return None if value is None else _stored_value(attribute, value)
    return nested


_GETTERS = tuple((key, _getter(location)) for key, location in _PAIRS)


def _put(data: dict[str, Any], location: tuple[str, ...], value: Any) -> None:
    if location[0] == "concerns":
        concerns = data.setdefault("concerns", [])
        party = next((p for p in concerns if p["kind"] == location[1]), None)
        if party is None:
            party = {"kind": location[1]}
            concerns.append(party)
        party[location[2]] = value
        return
    node = data
    for step in location[:-1]:
        node = node.setdefault(step, {})
    node[location[-1]] = value


def _stored_value(attribute: str, value: Any) -> str:
    if attribute == "text_message":
        return NEMSMS if value else DIGITALPOST
    if attribute in _BOOLEANS:
        return boolean_text(value)
    return value


def _model_value(attribute: str, value: str) -> Any:
    if attribute == "text_message":
        return value == NEMSMS
    if attribute in _BOOLEANS:
        return xs_boolean(value)
    return value
