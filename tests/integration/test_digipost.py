"""The Digipost print provider over real HTTP against the Digipost double (tests/doubles/digipost.py):
signed requests, print-only messages valid against api_v8.xsd, batches, status back, refusals."""
from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, PrintOperations
from gateway.channels.digipost import DigipostPrintChannel
from gateway.channels.digipost_client import DigipostClient
from gateway.config import DigipostSettings, PrintSettings, SenderSettings
from gateway.model import Document, Party, PartyKind, PostalAddress, PrintOptions, Shipment, Status
from tests.conftest import make_pdf
from tests.doubles.digipost import NS, DigipostDouble, canonical, schema

BROKER = "123456"
Q = f"{{{NS}}}"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def double(key):
    with DigipostDouble(users={BROKER: key.public_key()}) as d:
        yield d


def make_channel(double, key, tmp_path, *, batch=1, certificate=True, **digipost):
    d = DigipostSettings(base_url=double.url, broker_id=BROKER, timeout_seconds=5, **digipost)
    settings = PrintSettings(provider="digipost", digipost=d, batch_max_letters=batch, batch_max_age_seconds=60,
                             return_address=("Eksempel kommune", "Postboks 1", "0101 Oslo"))
    from cryptography import x509
    cert = x509.load_pem_x509_certificate(double.certificate_pem) if certificate else None
    client = DigipostClient(d, key=key, server_certificate=cert)
    senders = {"kommune-sak": SenderSettings(name="kommune-sak", password_hash="x", return_address=("Bergen kommune", "Rådhusgaten 10", "5014 Bergen"))}
    return DigipostPrintChannel(settings, client, data_dir=tmp_path, senders=senders)


def letter(*, name="Kari Nordmann", address=None, pdfs=None, color=False, sender="kommune-sak") -> Letter:
    pdfs = pdfs or [make_pdf("Vedtak", pages=2)]
    docs = tuple(Document(filename=f"dok{i}.pdf", media_type="application/pdf", size=len(p), sha256=hashlib.sha256(p).hexdigest(),
                          storage_ref=str(i)) for i, p in enumerate(pdfs))
    address = address or PostalAddress(name=name, lines=("Storgata 1",), postcode="0155", city="Oslo")
    shipment = Shipment(id=str(uuid.uuid4()), sender=sender, title="Vedtak om byggetillatelse",
                        recipient=Party(identifier="15076500565", kind=PartyKind.NO_PERSON, name=name, address=address),
                        documents=docs, print_options=PrintOptions(color=color))
    contents = {d.storage_ref: p for d, p in zip(docs, pdfs)}
    return Letter(shipment=shipment, content=lambda d: contents[d.storage_ref])


def _parts(double, message_id):
    return double.messages[message_id]


# ---------------------------------------------------------------- the double refuses what Digipost refuses


def _signed(key, method, path, body=b"", *, date=None, user=BROKER, drop=()):
    headers = {"Date": date or email.utils.format_datetime(dt.datetime.now(dt.timezone.utc), usegmt=True), "X-Digipost-UserId": user}
    if body:
        headers["X-Content-SHA256"] = base64.b64encode(hashlib.sha256(body).digest()).decode()
    text = canonical(method, path, headers, "")
    headers["X-Digipost-Signature"] = base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    for name in drop:
        headers.pop(name)
    return headers


def _batch(batch_uuid):
    return f'<batch xmlns="{NS}"><uuid>{batch_uuid}</uuid></batch>'.encode()


def test_double_accepts_a_correctly_signed_request(double, key):
    body = _batch(str(uuid.uuid4()))
    r = requests.post(double.url + "/batches", data=body, headers=_signed(key, "POST", "/batches", body))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("case, code", [
    ("wrong key", "INVALID_SIGNATURE"), ("tampered body", "INVALID_CONTENT_HASH"), ("old date", "INVALID_DATE"),
    ("no signature", "MISSING_SIGNATURE"), ("no date", "MISSING_DATE"), ("no hash", "INVALID_CONTENT_HASH"),
    ("unknown user", "UNKNOWN_USER"),
])
def test_double_refuses_badly_signed_requests(double, key, case, code):
    body = _batch(str(uuid.uuid4()))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    old = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=6), usegmt=True)
    headers = {
        "wrong key": lambda: _signed(other, "POST", "/batches", body),
        "tampered body": lambda: _signed(key, "POST", "/batches", body),
        "old date": lambda: _signed(key, "POST", "/batches", body, date=old),
        "no signature": lambda: _signed(key, "POST", "/batches", body, drop=("X-Digipost-Signature",)),
        "no date": lambda: _signed(key, "POST", "/batches", body, drop=("Date",)),
        "no hash": lambda: _signed(key, "POST", "/batches", body, drop=("X-Content-SHA256",)),
        "unknown user": lambda: _signed(key, "POST", "/batches", body, user="999"),
    }[case]()
    sent = body.replace(b"<uuid>", b"<uuid>0") if case == "tampered body" else body
    r = requests.post(double.url + "/batches", data=sent, headers=headers)
    assert r.status_code == 403 and code in r.text
    assert double.batches == {}


def test_double_refuses_a_message_invalid_against_the_xsd_and_missing_parts(double, key):
    boundary = "b1"
    bad = f'<message xmlns="{NS}"><message-id>1</message-id><primary-document><file-type>pdf</file-type></primary-document></message>'
    body = (f'--{boundary}\r\nContent-Disposition: attachment; filename="message"\r\nContent-Type: application/vnd.digipost-v8+xml\r\n\r\n'
            f"{bad}\r\n--{boundary}--\r\n").encode()
    headers = {**_signed(key, "POST", "/messages", body), "Content-Type": f"multipart/vnd.digipost-v8+xml; boundary={boundary}"}
    r = requests.post(double.url + "/messages", data=body, headers=headers)
    assert r.status_code == 400 and "INVALID_XML" in r.text  # no recipient: the XSD requires one
    assert double.messages == {}


def test_double_signs_its_answers(double, key):
    r = requests.get(double.url + "/", headers=_signed(key, "GET", "/"))
    text = canonical(str(r.status_code), "/", dict(r.headers), None)
    double.certificate.public_key().verify(base64.b64decode(r.headers["X-Digipost-Signature"]), text.encode(),
                                           padding.PKCS1v15(), hashes.SHA256())


# ---------------------------------------------------------------- the channel


def test_channel_is_a_print_channel(double, key, tmp_path):
    assert isinstance(make_channel(double, key, tmp_path), PrintOperations)


def test_single_send_is_a_valid_print_only_message_with_documents_named_by_uuid(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path, nondeliverable_handling="SHRED")
    pdfs = [make_pdf("Vedtak", pages=2), make_pdf("Vedlegg")]
    l = letter(pdfs=pdfs, color=True)
    receipt = channel.submit(l, idempotency_key="k1")
    assert receipt.status is Status.SENT_TO_PRINT and receipt.cost_ore and double.messages == {}  # waits for flush
    assert channel.flush() == [l.shipment.id]
    message = double.messages[l.shipment.id]
    schema().assertValid(message.xml)
    details = message.xml.find(f"{Q}recipient/{Q}print-details")
    assert details.findtext(f"{Q}recipient/{Q}name") == "Kari Nordmann"
    assert details.findtext(f"{Q}recipient/{Q}norwegian-address/{Q}zip-code") == "0155"
    assert details.findtext(f"{Q}return-address/{Q}name") == "Bergen kommune"  # the sender's own
    assert details.findtext(f"{Q}return-address/{Q}norwegian-address/{Q}city") == "Bergen"
    assert details.findtext(f"{Q}color") == "COLORS" and details.findtext(f"{Q}nondeliverable-handling") == "SHRED"
    uuids = [message.xml.findtext(f"{Q}primary-document/{Q}uuid"), message.xml.findtext(f"{Q}attachment/{Q}uuid")]
    assert message.documents == dict(zip(uuids, pdfs))
    assert message.xml.find(f"{Q}batch") is None
    # status read back: delivered to print
    [change] = channel.poll([receipt])
    assert change.status is Status.PRINTED and change.cost_ore == receipt.cost_ore and not change.failed
    assert double.refusals == []


def test_multipart_order_is_message_first(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path)
    l = letter()
    body, content_type = channel._message(channel._prepare(l, l.shipment.id)[0], [l.content(l.shipment.documents[0])], batch_uuid=None)
    mime = email.message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body, policy=email.policy.HTTP)
    names = [p.get_filename() for p in mime.iter_parts()]
    assert content_type.startswith("multipart/vnd.digipost-v8+xml") and names[0] == "message" and len(names) == 2


def test_foreign_address_validates(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path)
    l = letter(address=PostalAddress(name="Sven Svensson", lines=("Drottninggatan 1",), postcode="111 51", city="Stockholm", country="SE"))
    channel.submit(l, idempotency_key="k")
    channel.flush()
    message = double.messages[l.shipment.id]
    schema().assertValid(message.xml)
    foreign = message.xml.find(f"{Q}recipient/{Q}print-details/{Q}recipient/{Q}foreign-address")
    assert foreign.findtext(f"{Q}country-code") == "SE" and foreign.findtext(f"{Q}addressline2") == "111 51 Stockholm"


def test_batch_create_add_commit_then_printed(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path, batch=3)
    letters = [letter() for _ in range(3)]
    receipts = [channel.submit(l, idempotency_key=str(i)) for i, l in enumerate(letters)]
    [batch_uuid] = channel.flush()
    assert double.batches[batch_uuid]["status"] == "DONE"
    for l in letters:
        message = double.messages[l.shipment.id]
        schema().assertValid(message.xml)
        assert message.batch == batch_uuid
    changes = channel.poll(receipts)
    assert [c.status for c in changes] == [Status.PRINTED] * 3
    assert ("POST", "/batches") in double.requests and ("POST", f"/batches/{batch_uuid}/complete") in double.requests


def test_batch_waits_until_full_or_old_and_a_waiting_letter_can_be_taken_back(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path, batch=3)
    first, second = letter(), letter()
    channel.submit(first, idempotency_key="1")
    channel.submit(second, idempotency_key="2")
    assert channel.flush() == [] and double.batches == {}
    assert channel.cancel(first.shipment.id) is True
    [batch_uuid] = channel.flush(force=True)
    assert list(double.messages) == [second.shipment.id]
    assert channel.cancel(second.shipment.id) is False  # Digipost has it


def test_a_refused_message_is_reported_failed(double, key, tmp_path):
    double.refuse_names.add("Ukjent Mottaker")
    channel = make_channel(double, key, tmp_path)
    l = letter(name="Ukjent Mottaker")
    receipt = channel.submit(l, idempotency_key="k")
    channel.flush()
    [change] = channel.poll([receipt])
    assert change.failed and change.status is None and "cannot be printed" in change.detail


def test_resend_after_a_lost_answer_is_not_a_second_letter(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path)
    l = letter()
    receipt = channel.submit(l, idempotency_key="k")
    double.lose_answers = 1  # Digipost takes the message, the answer is lost
    channel.flush()
    assert not channel.store.job(l.shipment.id.lower())["sent"]
    channel.flush()
    assert len(double.messages) == 1 and (409, "DUPLICATE_MESSAGE_ID") in double.refusals
    assert channel.poll([receipt])[0].status is Status.PRINTED


def test_forged_or_stale_answers_are_not_trusted(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path)
    l = letter()
    receipt = channel.submit(l, idempotency_key="k")
    double.sign_with = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    channel.flush()  # the outage is logged, the letter stays to be sent
    job = channel.store.job(l.shipment.id.lower())
    assert job is not None and not job["outcome"]
    double.sign_with = None
    double.skew = dt.timedelta(minutes=10)
    with pytest.raises(ChannelUnavailable, match="too far ahead"):
        channel.client.document_status(BROKER, str(uuid.uuid4()))
    double.skew = dt.timedelta()
    channel.flush()
    assert channel.poll([receipt])[0].status is Status.PRINTED


def test_entrypoint_certificate_is_used_when_none_is_pinned(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path, certificate=False)
    l = letter()
    receipt = channel.submit(l, idempotency_key="k")
    channel.flush()
    assert channel.poll([receipt])[0].status is Status.PRINTED


def test_channel_never_sends_what_digipost_cannot_print(double, key, tmp_path):
    from fpdf import FPDF
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.set_xy(5, 130)
    pdf.cell(text="Tekst i strekkodefeltet")
    channel = make_channel(double, key, tmp_path)
    with pytest.raises(ChannelRejected, match="left margin"):
        channel.submit(letter(pdfs=[bytes(pdf.output())]), idempotency_key="k")
    with pytest.raises(ChannelRejected, match="postcode"):
        channel.submit(letter(address=PostalAddress(name="Kari", lines=("Storgata 1",), city="Oslo")), idempotency_key="k2")
    channel.flush(force=True)
    assert double.messages == {} and double.requests == []


def test_overdue_batch_is_named(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path, batch=2)
    l = letter()
    channel.submit(l, idempotency_key="k")
    [batch_uuid] = channel.flush(force=True)
    for message in double.messages.values():
        message.delivered = False
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=49)
    assert channel.overdue_batches(later) == [batch_uuid]
    assert channel.overdue_batches(dt.datetime.now(dt.timezone.utc)) == []


def test_a_lost_commit_answer_is_not_committed_twice(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path, batch=2)
    receipts = [channel.submit(l, idempotency_key=str(i)) for i, l in enumerate([letter(), letter()])]
    double.lose_answers, double.lose_only = 1, "/complete"
    [batch_uuid] = channel.flush()  # made, but the outage stopped the round before its commit was known
    assert double.batches[batch_uuid]["status"] == "DONE" and channel.store.batch(batch_uuid)["state"] == "open"
    assert channel.flush() == []  # finishes the batch: reads DONE, commits nothing again
    assert channel.store.batch(batch_uuid)["state"] == "committed" and (400, "BATCH_NOT_OPEN") not in double.refusals
    assert [c.status for c in channel.poll(receipts)] == [Status.PRINTED] * 2


# ---------------------------------------------------------------- each message rule of the double refuses


def _valid_message(message_id, doc_uuid, *, batch=None, print_details=True):
    details = ("<print-details><recipient><name>Kari</name><norwegian-address><zip-code>0155</zip-code><city>Oslo</city>"
               "</norwegian-address></recipient><return-address><name>Kommune</name><norwegian-address><zip-code>0101</zip-code>"
               "<city>Oslo</city></norwegian-address></return-address></print-details>")
    recipient = details if print_details else "<digipost-address>kari.nordmann#1234</digipost-address>"
    tail = f"<batch><uuid>{batch}</uuid></batch>" if batch else ""
    return (f'<message xmlns="{NS}"><message-id>{message_id}</message-id><recipient>{recipient}</recipient>'
            f"<primary-document><uuid>{doc_uuid}</uuid><subject>Vedtak</subject><file-type>pdf</file-type></primary-document>{tail}</message>").encode()


def _multipart(parts, boundary="xyz"):
    body = b""
    for filename, content_type, data in parts:
        body += (f'--{boundary}\r\nContent-Disposition: attachment; filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n').encode()
        body += data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/vnd.digipost-v8+xml; boundary={boundary}"


def _post_message(double, key, body, content_type):
    headers = {**_signed(key, "POST", "/messages", body), "Content-Type": content_type}
    return requests.post(double.url + "/messages", data=body, headers=headers)


MEDIA = "application/vnd.digipost-v8+xml"


@pytest.mark.parametrize("case, status, code", [
    ("valid", 200, None),
    ("wrong media type", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ("document first", 400, "INVALID_MULTIPART"),
    ("document missing", 400, "INVALID_MULTIPART"),
    ("extra part", 400, "INVALID_MULTIPART"),
    ("not a pdf", 400, "INVALID_DOCUMENT"),
    ("not print", 400, "NOT_PRINT"),
    ("unknown batch", 400, "BATCH_NOT_OPEN"),
    ("twice", 409, "DUPLICATE_MESSAGE_ID"),
])
def test_double_refuses_each_bad_message(double, key, case, status, code):
    doc = str(uuid.uuid4())
    pdf = make_pdf()
    message = _valid_message("m1", doc, batch=str(uuid.uuid4()) if case == "unknown batch" else None,
                             print_details=case != "not print")
    parts = [("message", MEDIA, message), (doc, "application/pdf", pdf)]
    if case == "document first":
        parts.reverse()
    elif case == "document missing":
        parts = parts[:1]
    elif case == "extra part":
        parts.append((str(uuid.uuid4()), "application/pdf", pdf))
    elif case == "not a pdf":
        parts[1] = (doc, "application/pdf", b"GIF89a")
    body, content_type = _multipart(parts)
    if case == "wrong media type":
        content_type = content_type.replace("vnd.digipost-v8+xml", "mixed")
    if case == "twice":
        assert _post_message(double, key, body, content_type).status_code == 200
    r = _post_message(double, key, body, content_type)
    assert r.status_code == status, r.text
    if code:
        assert code in r.text and (double.messages == {} or case == "twice")


def test_double_refuses_a_second_commit_and_a_second_batch_with_one_uuid(double, key):
    batch_uuid = str(uuid.uuid4())
    body = _batch(batch_uuid)
    assert requests.post(double.url + "/batches", data=body, headers=_signed(key, "POST", "/batches", body)).status_code == 201
    again = requests.post(double.url + "/batches", data=body, headers=_signed(key, "POST", "/batches", body))
    assert again.status_code == 409 and "DUPLICATE_BATCH" in again.text
    path = f"/batches/{batch_uuid}/complete"
    assert requests.post(double.url + path, headers=_signed(key, "POST", path)).status_code == 200
    second = requests.post(double.url + path, headers=_signed(key, "POST", path))
    assert second.status_code == 400 and "BATCH_NOT_OPEN" in second.text


def test_long_and_many_address_lines_are_fitted_to_the_schema(double, key, tmp_path):
    channel = make_channel(double, key, tmp_path)
    long = "Langveien " + "x" * 200
    l = letter(name="N" * 200, address=PostalAddress(name="N" * 200, lines=("c/o A", "Oppgang B", long, "Postboks 7"),
                                                   postcode="0155", city="O" * 100))
    channel.submit(l, idempotency_key="k")
    channel.flush()
    message = double.messages[l.shipment.id]
    schema().assertValid(message.xml)
    address = message.xml.find(f"{Q}recipient/{Q}print-details/{Q}recipient/{Q}norwegian-address")
    assert address.findtext(f"{Q}addressline3").startswith("Langveien") and len(address.findtext(f"{Q}addressline3")) == 100


def test_staging_a_letter_never_waits_on_a_batch_being_sent(double, key, tmp_path):
    import threading
    import time

    channel = make_channel(double, key, tmp_path, batch=2)
    for i in range(2):
        channel.submit(letter(), idempotency_key=str(i))
    double.stall = 1.5
    sending = threading.Thread(target=channel.flush)
    sending.start()
    time.sleep(0.3)
    started = time.monotonic()
    channel.submit(letter(), idempotency_key="meanwhile")
    assert time.monotonic() - started < 1.0
    sending.join()
    double.stall = 0
    assert len(channel.store.staged()) == 1
