"""The canonical routing fields: folder-routing rules set them, and each channel says them in
its own words (MeMo elements for Digital Post, the Altinn property list)."""
from __future__ import annotations

import datetime as dt

from lxml import etree

from gateway.channels.altinn3_content import properties
from gateway.mapping.memo_out import shipment_to_memo
from gateway.mapping.routing_rules import apply_rules, parse_rules
from gateway.memo_vocabulary import MEMO_NS, NSMAP
from gateway.model import (Attention, ContactInfo, Document, MailboxHandling, Party, PartyKind, RoutingMetadata, Shipment)

RULES = parse_rules([{"name": "Skoler", "match": {"kle": "17.*"},
                      "set": {"contact_point": "kp-1", "contact_group": "22.33", "contact_label": "Skolen",
                              "attention_email": "skole@example.dk"}}], source="test")


def _letter(routing: RoutingMetadata, documents: tuple[Document, ...] = ()) -> Shipment:
    return Shipment(id="8c2ea15d-61cc-4ba1-9d88-b8b7b6c6e0f1", sender="kommune", title="Brev",
                    recipient=Party(identifier="2211771212", kind=PartyKind.DK_CPR, name="Modtager"),
                    sender_party=Party(identifier="12345678", kind=PartyKind.DK_CVR, name="Kommunen"),
                    documents=documents, routing=routing)


def test_a_rule_sets_the_canonical_fields_and_keeps_the_attention_it_does_not_set():
    letter = _letter(RoutingMetadata(kle="17.01", attention=Attention(person="0101011234")))
    routed, rule = apply_rules(letter, RULES)
    assert rule is RULES[0]
    r = routed.routing
    assert (r.contact_point, r.contact_group, r.contact_label) == ("kp-1", "22.33", "Skolen")
    assert r.attention == Attention(person="0101011234", email="skole@example.dk")
    assert r.extra == ()
    assert apply_rules(_letter(RoutingMetadata(kle="18.01")), RULES) == (_letter(RoutingMetadata(kle="18.01")), None)


def test_the_memo_writer_says_the_routing_fields_as_memo_elements():
    routing = RoutingMetadata(contact_point="kp-1", contact_group="22.33", contact_label="Skolen",
                              contact_info=(ContactInfo(label="Telefon", value="1"), ContactInfo(label="Mail", value="2"),
                                            ContactInfo(label="Fax", value="3")),
                              attention=Attention(person="0101011234", email="skole@example.dk"),
                              sender_contact_point="afsender-kp",
                              handling=MailboxHandling(text_message=True, notification="Husk", reply_allowed=False))
    uuid, data = shipment_to_memo(_letter(routing), content=lambda d: b"", now=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    root = etree.fromstring(data)
    header = root.find("memo:MessageHeader", NSMAP)
    assert root.tag == f"{{{MEMO_NS}}}Message" and root.find("memo:MessageBody", NSMAP) is None  # a text message
    text = {path: header.findtext(path, namespaces=NSMAP) for path in (
        "memo:messageType", "memo:notification", "memo:reply", "memo:mandatory",
        "memo:Sender/memo:ContactPoint/memo:contactPointID", "memo:Recipient/memo:ContactPoint/memo:contactGroup",
        "memo:Recipient/memo:ContactPoint/memo:label", "memo:Recipient/memo:AttentionData/memo:AttentionPerson/memo:personID",
        "memo:Recipient/memo:AttentionData/memo:EMail/memo:emailAddress")}
    assert list(text.values()) == ["NEMSMS", "Husk", "false", "false", "afsender-kp", "22.33", "Skolen", "0101011234",
                                   "skole@example.dk"]
    infos = header.findall("memo:Recipient/memo:ContactPoint/memo:ContactInfo/memo:label", NSMAP)
    assert [e.text for e in infos] == ["Telefon", "Mail"]  # MeMo allows two


def test_the_altinn_property_list_says_the_routing_fields_in_its_words():
    routing = RoutingMetadata(contact_point="kp-1", contact_group="22.33", contact_label="Skolen",
                              attention=Attention(person="0101011234", email="skole@example.dk"))
    props = dict(properties(_letter(routing)))
    assert {k: props[k] for k in ("contactPoint", "contactGroup", "contactPointLabel", "attentionPerson", "attentionEmail")} == {
        "contactPoint": "kp-1", "contactGroup": "22.33", "contactPointLabel": "Skolen", "attentionPerson": "0101011234",
        "attentionEmail": "skole@example.dk"}
    assert not any(key.startswith("memo.") for key in props)
