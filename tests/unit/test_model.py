import datetime as dt
import json

from gateway.model import CaseMetadata, Document, Link, Party, PartyKind, PostalAddress, Shipment
from gateway.stored_form import from_data, to_data


def test_shipment_survives_json_roundtrip():
    s = Shipment(
        id="x", sender="t", title="T",
        recipient=Party(identifier="1", kind=PartyKind.NO_PERSON, address=PostalAddress(name="N", lines=("a", "b"))),
        documents=(Document(filename="a.pdf", media_type="application/pdf", size=1, sha256="0" * 64, storage_ref="r", giro_pages=(1, 2)),),
        links=(Link(url="https://x", text="x"),),
        case_metadata=CaseMetadata(case_year=2026, case_sequence_number=1, journal_year=2026, journal_sequence_number=2,
                                   journal_entry_number=3, journal_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                                   extra=(("k", "v"),)),
    )
    import json

    assert from_data(Shipment, json.loads(json.dumps(to_data(s)))) == s


def test_content_digest_is_stable_across_releases():
    """Stored shipments keep the digest they were accepted with: if the digest of the same
    content ever changed, an identical repeat sent after an upgrade would be refused as a
    conflict. The value was computed by the first implementation."""
    from gateway.domain.shipments import content_digest
    from gateway.model import DocumentRole, RoutingMetadata

    s = Shipment(
        id="x", sender="t", title="Vedtak om byggetillatelse ÆØÅ",
        recipient=Party(identifier="1", kind=PartyKind.NO_PERSON, address=PostalAddress(name="N", lines=("a", "b"))),
        documents=(Document(filename="a.pdf", media_type="application/pdf", size=1, sha256="0" * 64, storage_ref="r",
                            giro_pages=(1, 2), page_count=3),
                   Document(filename="b.xml", media_type="text/xml", size=2, sha256="1" * 64, storage_ref="q",
                            role=DocumentRole.TECHNICAL)),
        links=(Link(url="https://x", text="x", action="INFORMATION"),),
        routing=RoutingMetadata(kle="01.02.03", extra=(("memo.x", "y"),)),
        case_metadata=CaseMetadata(case_year=2026, case_sequence_number=1, journal_year=2026, journal_sequence_number=2,
                                   journal_entry_number=3, journal_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                                   extra=(("k", "v"),)),
    )
    assert content_digest(s) == "581ad41db4bee29942a444b6a3c91fb664fa727deb3cb1d9a3eae0abba6144c8"
    # id, storage and page counts are not what the sender said
    import dataclasses

    other = dataclasses.replace(s, id="y", documents=tuple(dataclasses.replace(d, storage_ref="z", page_count=None) for d in s.documents))
    assert content_digest(other) == content_digest(s)


def test_a_shipment_is_stored_under_the_keys_it_was_first_stored_with():
    """The account (``sender``), the party the letter names (``sender_party``) and the case
    system (``source_system``) were first stored as ``tenant``, ``sender`` and
    ``sending_system``: stored rows load into the new names, and the stored form (and with
    it the content digest) keeps the old keys."""
    stored = {"id": "x", "tenant": "kommune-sak", "title": "T", "recipient": {"identifier": "1", "kind": "NO_PERSON"},
              "documents": [], "sender": {"identifier": "974720760", "kind": "NO_ORGANIZATION", "name": "Kommunen"},
              "sending_system": "Public 360"}
    s = from_data(Shipment, json.loads(json.dumps(stored)))
    assert (s.sender, s.source_system) == ("kommune-sak", "Public 360")
    assert s.sender_party == Party(identifier="974720760", kind=PartyKind.NO_ORGANIZATION, name="Kommunen")

    data = to_data(s)
    assert list(data)[:7] == ["id", "tenant", "title", "recipient", "documents", "sender", "sending_system"]
    assert not {"sender_party", "source_system"} & set(data)
    assert (data["tenant"], data["sender"]["name"], data["sending_system"]) == ("kommune-sak", "Kommunen", "Public 360")
    assert from_data(Shipment, json.loads(json.dumps(data))) == s
    nobody = to_data(Shipment(id="y", sender="arkiv", title="T", recipient=Party(), documents=()))
    assert (nobody["tenant"], nobody["sender"], nobody["sending_system"]) == ("arkiv", None, None)


#: A routing column as the MeMo intake stored it before the model named its fields.
OLD_MEMO_ROUTING = {
    "kle": "00.00.00", "form": None, "case_id": "SAG-1", "case_system": None, "production_unit": "1234567890",
    "contact_point": "241d39f6-998e-4929-b198-ccacbbf4b330", "post_type": "MYNDIGHEDSPOST", "shipment_type": None,
    "extra": [
        ["memo.messageType", "NEMSMS"], ["memo.messageCode", "K1"], ["memo.notification", "Husk tandlægen"],
        ["memo.reply", "1"], ["memo.replyByDateTime", "2026-01-01T12:00:00Z"], ["memo.doNotDeliverUntilDate", "2026-01-02"],
        ["memo.mandatory", "false"], ["memo.legalNotification", "true"], ["memo.kle.version", "1"], ["memo.kle.label", "Børn"],
        ["memo.cpr", "2512169996"], ["memo.cpr.name", "Barn"], ["memo.cvr", "12345678"],
        ["memo.productionUnit.name", "Skolen"], ["memo.sender.contactPointID", "afsender-kp"],
        ["memo.attention.person", "2211771212"], ["memo.attention.email", "a@example.dk"],
        ["memo.forward.messageUUID", "8c2ea15d-61cc-4ba1-9d88-b8b7b6c6e0f1"], ["memo.representative", "rep"],
        ["memo.additionalContentData[0].contentDataName", "n0"], ["memo.additionalContentData[0].contentDataValue", "v0"],
        ["memo.additionalContentData[1].contentDataType", "t1"], ["memo.additionalContentData[1].contentDataName", "n1"],
        ["memo.additionalContentData[1].contentDataValue", "v1"],
        ["memo.replyData[0].messageUUID", "0f0e7d5a-4a3c-4e57-9b8e-3c1c2b8f9a10"], ["memo.replyData[0].caseID", "SAG-456"],
        ["memo.contactInfo[0]", "Telefon=12 34 56 78"], ["memo.contactInfo[1]", "=uden etiket"],
        # set by a folder-routing rule after intake: appended, in any order
        ["memo.contactPoint.label", "Pladsanvisningen"], ["memo.contactPoint.group", "22.33.44.55"],
        ["memo.attention.productionUnit", "1003388391"],
        ["a key no field names", "kept"],
    ],
}


def test_a_routing_stored_before_the_named_fields_loads_into_them():
    from gateway.model import (Attention, ContactInfo, ContentData, Forwarding, MailboxHandling, ReplyReference,
                               RoutingMetadata)

    stored = {"id": "x", "tenant": "t", "title": "T", "recipient": {"identifier": "1", "kind": "DK_CPR"}, "documents": [],
              "routing": OLD_MEMO_ROUTING}
    r = from_data(Shipment, json.loads(json.dumps(stored))).routing
    assert r == RoutingMetadata(
        kle="00.00.00", kle_version="1", kle_label="Børn", case_id="SAG-1", production_unit="1234567890",
        production_unit_name="Skolen", contact_point="241d39f6-998e-4929-b198-ccacbbf4b330", contact_group="22.33.44.55",
        contact_label="Pladsanvisningen",
        contact_info=(ContactInfo(label="Telefon", value="12 34 56 78"), ContactInfo(label="", value="uden etiket")),
        attention=Attention(person="2211771212", production_unit="1003388391", email="a@example.dk"),
        sender_contact_point="afsender-kp", sender_representative="rep",
        concerns=(Party(identifier="2512169996", kind=PartyKind.DK_CPR, name="Barn"),
                  Party(identifier="12345678", kind=PartyKind.DK_CVR)),
        content_data=(ContentData(name="n0", value="v0"), ContentData(name="n1", value="v1", type="t1")),
        replies_to=(ReplyReference(message_uuid="0f0e7d5a-4a3c-4e57-9b8e-3c1c2b8f9a10", case_id="SAG-456"),),
        forwarded=Forwarding(message_uuid="8c2ea15d-61cc-4ba1-9d88-b8b7b6c6e0f1"),
        handling=MailboxHandling(text_message=True, message_code="K1", notification="Husk tandlægen", reply_allowed=True,
                                 reply_by="2026-01-01T12:00:00Z", hold_until="2026-01-02", mandatory=False,
                                 legal_notification=True),
        post_type="MYNDIGHEDSPOST",
        extra=(("a key no field names", "kept"),),
    )


def test_named_routing_fields_are_stored_in_the_form_digests_were_taken_of():
    """The stored form is the pairs the intake always wrote, in their order: a letter's
    content digest does not change with the model, and each field survives the round trip."""
    from gateway.model import RoutingMetadata

    r = from_data(RoutingMetadata, OLD_MEMO_ROUTING)
    stored = to_data(r)
    assert {k: v for k, v in stored.items() if k != "extra"} == {k: v for k, v in OLD_MEMO_ROUTING.items() if k != "extra"}
    keys = [key for key, _ in stored["extra"]]
    assert keys[:3] == ["memo.messageType", "memo.messageCode", "memo.notification"]
    assert keys.index("memo.contactPoint.group") < keys.index("memo.sender.contactPointID") < keys.index("memo.attention.person")
    assert keys[-1] == "a key no field names"
    assert dict(stored["extra"])["memo.reply"] == "true"  # an xs:boolean is stored in one spelling
    assert from_data(RoutingMetadata, json.loads(json.dumps(stored))) == r
    assert to_data(RoutingMetadata()) == {"kle": None, "form": None, "case_id": None, "case_system": None,
                                          "production_unit": None, "contact_point": None, "post_type": None,
                                          "shipment_type": None, "extra": []}


def test_the_empty_routing_shortcut_stores_what_the_full_conversion_stores_and_never_shares_it():
    import dataclasses

    from gateway.model import RoutingMetadata
    from gateway.routing_storage import routing_to_stored

    def full(value: RoutingMetadata) -> dict:
        plain = {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return routing_to_stored(plain)

    empty = RoutingMetadata()
    first = to_data(empty)
    assert first == full(empty)
    first["extra"].append(["memo.x", "y"])
    first["kle"] = "changed"
    assert to_data(RoutingMetadata()) == full(empty)  # the next letter's copy is untouched
    some = RoutingMetadata(case_id="2026/17", extra=(("memo.postType", "MYNDIGHEDSPOST"),))
    assert to_data(some) == full(some) != full(empty)
