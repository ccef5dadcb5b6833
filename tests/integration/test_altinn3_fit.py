"""Letters that do not fit Altinn 3 as they are, sent by the channel to the double over real HTTP.

The double refuses everything Altinn refuses (tests/integration/test_altinn3_double.py), so an
upload it accepts is one Altinn would accept; and a letter that cannot fit never reaches it.
"""
from __future__ import annotations

import dataclasses
import hashlib

import pytest

from gateway.channels.base import ChannelRejected, Letter
from gateway.model import DeliveryPolicy, Document, Link, Status
from tests.doubles.altinn3_rules import is_plain_text
from tests.integration.test_altinn3 import altinn, channel, letter  # noqa: F401  (the fixture)

TITLE = ("Vedtak om **byggetillatelse** for tilbygg på gnr. 12 bnr. 34, Storgata 1, med dispensasjon fra "
         "reguleringsplanens bestemmelser om byggegrense mot vei og om utnyttelsesgrad, "
         * 4)[:600]


def with_(let: Letter, **changes) -> Letter:
    return Letter(shipment=dataclasses.replace(let.shipment, **changes), content=let.content)


def test_a_600_character_title_is_plain_and_short_and_whole_in_the_body(altinn, client_key):
    let, _ = letter()
    receipt = channel(altinn, client_key).submit(with_(let, title=TITLE), idempotency_key="k-title")
    assert receipt.status is Status.SENT_DIGITAL
    [upload] = altinn.uploads
    body = upload["json"]
    title = body["Correspondence.Content.MessageTitle"]
    assert len(title) <= 255 and title.endswith("…") and "**" not in title and is_plain_text(title)
    assert len(body["Correspondence.Content.MessageSummary"]) <= 255
    whole = TITLE.replace("**", "").rstrip()
    text = body["Correspondence.Content.MessageBody"].replace("\\", "")
    assert " ".join(whole.split()) in text.splitlines()[0]  # the whole title opens the body


def test_fifteen_metadata_entries_keep_ten_and_list_the_rest_in_the_body(altinn, client_key):
    let, _ = letter()
    extra = tuple((f"felt{i:02}", f"verdi {i}") for i in range(13))
    routed = dataclasses.replace(let.shipment.routing, contact_point="kp-skole", extra=extra)
    channel(altinn, client_key).submit(with_(let, routing=routed), idempotency_key="k-props")  # + eksternref: 15
    [upload] = altinn.uploads
    props = upload["json"]["Correspondence.PropertyList"]
    assert len(props) == 10 and props["contactPoint"] == "kp-skole" and props["eksternref"] == "P360-1"
    body = upload["json"]["Correspondence.Content.MessageBody"]
    moved = [f"felt{i:02}" for i in range(8, 13)]
    assert "Opplysninger om brevet:" in body and all(f"- {key}: verdi" in body for key in moved)
    assert not any(key in props for key in moved)


def test_a_file_altinn_refuses_is_never_sent(altinn, client_key):
    let, _ = letter()
    msg = b"From: saksbehandler\r\n\r\nnotat"
    note = Document(filename="notat.msg", media_type="application/vnd.ms-outlook", size=len(msg),
                    sha256=hashlib.sha256(msg).hexdigest(), storage_ref="x", exclude_from_print=True)
    content = lambda d: msg if d is note else let.content(d)  # noqa: E731
    with pytest.raises(ChannelRejected, match="notat.msg"):
        channel(altinn, client_key).submit(Letter(shipment=dataclasses.replace(let.shipment, documents=(*let.shipment.documents, note)),
                                                  content=content), idempotency_key="k-msg")
    assert altinn.uploads == []


def test_names_are_fixed_before_sending(altinn, client_key):
    let, _ = letter()
    docs = let.shipment.documents
    renamed = (dataclasses.replace(docs[0], filename="Vedtak: del 1?.pdf"), dataclasses.replace(docs[1], filename="CON"))
    by_sha = {d.sha256: let.content(d) for d in docs}
    channel(altinn, client_key).submit(Letter(shipment=dataclasses.replace(let.shipment, documents=renamed),
                                              content=lambda d: by_sha[d.sha256]), idempotency_key="k-names")
    [upload] = altinn.uploads
    assert [a["fileName"] for a in upload["json"]["Correspondence.Content.Attachments"]] == ["Vedtak_ del 1_.pdf", "_CON.pdf"]


def test_read_then_archived_is_read(altinn, client_key):
    ch = channel(altinn, client_key)
    let, _ = letter()
    receipt = ch.submit(let, idempotency_key="k-archived")
    altinn.mark_read(receipt.reference)
    altinn.archive(receipt.reference)
    [change] = ch.poll([receipt])
    assert change.status is Status.READ and not change.failed and "Archived" in change.detail


def test_confirmed_without_read_timestamp_is_read_by_its_status(altinn, client_key):
    ch = channel(altinn, client_key)
    let, _ = letter()
    receipt = ch.submit(let, idempotency_key="k-confirmed")
    altinn.add_status(receipt.reference, "Confirmed")
    assert ch.poll([receipt])[0].status is Status.READ


def test_a_404_after_publishing_counts_as_read(altinn, client_key):
    ch = channel(altinn, client_key)
    let, _ = letter()
    receipt = ch.submit(let, idempotency_key="k-purged")
    altinn.mark_read(receipt.reference)
    altinn.purge(receipt.reference)  # the recipient deleted it: Altinn answers 404 (1001)
    [change] = ch.poll([receipt])
    assert change.status is Status.READ and "slettet" in change.detail


def test_a_409_is_answered_by_the_lookup_by_idempotent_key(altinn, client_key):
    ch = channel(altinn, client_key)
    let, _ = letter()
    first = ch.submit(let, idempotency_key="k-409")
    again = channel(altinn, client_key).submit(let, idempotency_key="k-409")  # a new process, same key
    assert again.reference == first.reference and len(altinn.correspondences) == 1
    [query] = altinn.searches
    assert query["role"] == ["Sender"] and query["idempotentKey"] == [altinn.uploads[0]["json"]["IdempotentKey"]]


def test_confidential_reminder_and_subscription_key_are_sent(altinn, client_key):
    let, _ = letter()
    ch = channel(altinn, client_key, notification_template="CustomMessage", send_reminder=True)
    ch.submit(with_(let, delivery=DeliveryPolicy(require_high_assurance_login=True)), idempotency_key="k-conf")
    [upload] = altinn.uploads  # the double refuses a call without the key, a reminder without its texts (3007)
    body = upload["json"]
    assert body["Correspondence.IsConfidential"] is True and body["Correspondence.Notification.SendReminder"] is True
    assert "$sendersName$" in body["Correspondence.Notification.ReminderEmailBody"]



def test_a_body_over_30000_characters_is_never_sent(altinn, client_key):
    let, _ = letter()
    links = tuple(Link(url=f"https://minside.kommune.no/sak/{'x' * 200}/{i}", text="Se dokument " * 5) for i in range(120))
    with pytest.raises(ChannelRejected, match="30000"):
        channel(altinn, client_key).submit(with_(let, links=links), idempotency_key="k-body")
    assert altinn.uploads == []
