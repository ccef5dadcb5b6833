"""The print channel: cover page, merged job PDFs, batches with a manifest, receipts back."""
import datetime as dt
import hashlib
import io
import os
import uuid

import pytest
import xmlschema
from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.errors import DependencyError, PdfReadError

from gateway.channels.altinn3 import Altinn3Channel
from gateway.channels.base import ChannelRejected, ChannelUnavailable, Letter, PrintOperations, Receipt
from gateway.channels.print import PrintChannel
from gateway.channels.print_manifest import MANIFEST_NS, manifest_line
from gateway.config import Altinn3Settings, IntakePolicy, PrintSettings, SenderSettings
from gateway.resources import data_dir
from gateway.documents.cover import WINDOW_H, WINDOW_W, WINDOW_X, WINDOW_Y, render_cover_page
from gateway.documents.pdf import UNREADABLE
from gateway.documents.printjob import build_print_pdf, count_sheets, estimate_cost_ore
from gateway.errors import DocumentError
from gateway.model import (
    DeliveryMode, DeliveryPolicy, Document, LetterClass, Link, Party, PartyKind, PostalAddress, PrintOptions, Shipment, Status,
)
from tests.conftest import make_encrypted_pdf, make_pdf
from tests.security.hostile_pdfs import many_xref_entries, object_stream_bomb, page_fan_out, xref_stream_bomb

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.timezone.utc)
LONG_URL = "https://innsyn.kommune.no/sak/2025/001234/dokument?journalpostId=987654321&visning=fullstendig&spraak=nb&retur=%2Fmine-saker#vedlegg-2"
MM = 72 / 25.4


def doc(name="vedtak.pdf", **kw):
    return Document(filename=name, media_type="application/pdf", size=10, sha256="0" * 64, storage_ref=name, **kw)


def shipment(**kw):
    base = dict(
        id=str(uuid.uuid4()), sender="kommune-sak", title="Vedtak om byggetillatelse",
        recipient=Party(identifier="15076500565", kind=PartyKind.NO_PERSON, address=PostalAddress(
            name="Kåre Ødegård", lines=("c/o Åse Berg", "Storgata 1 H0203"), postcode="0155", city="OSLO")),
        documents=(doc(),),
        links=(Link(url=LONG_URL, text="Se saken din", label="Innsyn"), Link(url="https://svar.kommune.no/s?id=42", text="Svar oss")),
    )
    base.update(kw)
    return Shipment(**base)


def text_of(data, page=0):
    return PdfReader(io.BytesIO(data)).pages[page].extract_text()


# ------------------------------------------------------------------ cover page


def test_cover_page_text_can_be_read_back():
    s = shipment()
    data = render_cover_page(s, return_address=("Oslo kommune", "Postboks 1", "0101 OSLO"), sender_name="Oslo kommune")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for expected in ("Kåre Ødegård", "c/o Åse Berg", "Storgata 1 H0203", "0155 OSLO", "Vedtak om byggetillatelse",
                     "Oslo kommune, Postboks 1, 0101 OSLO", "Digipost", "digital postkasse", "altinn.no",
                     "Se saken din", LONG_URL, "https://svar.kommune.no/s?id=42"):
        assert expected in text, expected
    assert "NORWAY" not in text


def test_recipient_address_sits_in_the_envelope_window():
    data = render_cover_page(shipment(), return_address=("Kommune", "0101 OSLO"))
    seen = {}

    def visit(text, cm, tm, font, size):
        if text.strip():
            seen.setdefault(text.strip(), (tm[4] / MM, 297 - tm[5] / MM))

    PdfReader(io.BytesIO(data)).pages[0].extract_text(visitor_text=visit)
    for line in ("Kåre Ødegård", "Storgata 1 H0203", "0155 OSLO", "Kommune, 0101 OSLO"):
        x, y = seen[line]
        assert WINDOW_X <= x <= WINDOW_X + WINDOW_W and WINDOW_Y <= y <= WINDOW_Y + WINDOW_H, (line, x, y)


def test_cover_page_has_one_qr_code_per_link():
    page = PdfReader(io.BytesIO(render_cover_page(shipment(), return_address=()))).pages[0]
    xobjects = page["/Resources"]["/XObject"]
    assert len(page.images) == 2
    assert all(xobjects[name].get_object()["/Subtype"] == "/Image" for name in xobjects)
    assert all(img.image.size[0] == img.image.size[1] for img in page.images)  # square


def test_foreign_address_odd_characters_and_a_very_long_url():
    very_long = "https://skjema.kommune.no/" + "a1b2c3" * 50 + "?x=1&y=2"
    s = shipment(
        recipient=Party(address=PostalAddress(name="Zoë Łukasz 張", lines=("Storgatan 5",), postcode="111 22", city="STOCKHOLM", country="SE")),
        title="Svar – «klage»", links=(Link(url=very_long, text="Skjema"),),
    )
    text = text_of(render_cover_page(s, return_address=(), language="nn"))
    assert "Zoë ?ukasz ?" in text and "111 22 STOCKHOLM" in text and "SWEDEN" in text
    assert "frå det offentlege" in text
    assert very_long in text.replace("\n", "")


def test_many_links_continue_on_a_second_page():
    links = tuple(Link(url=f"https://k.no/{i}?a={i}", text=f"Lenke {i}") for i in range(9))
    reader = PdfReader(io.BytesIO(render_cover_page(shipment(links=links), return_address=())))
    assert len(reader.pages) == 2
    text = "".join(p.extract_text() for p in reader.pages)
    assert all(link.url in text for link in links)
    assert sum(len(p.images) for p in reader.pages) == 9


# ------------------------------------------------------------------ merging and sheets


def test_merge_simplex_and_duplex_page_and_sheet_counts():
    cover = render_cover_page(shipment(), return_address=())
    parts = [make_pdf("A", pages=3), make_pdf("B", pages=2)]

    simplex = build_print_pdf(cover, parts)
    assert (simplex.pages, simplex.blank_pages, count_sheets(simplex.pages, duplex=False)) == (6, 0, 6)

    duplex = build_print_pdf(cover, parts, duplex=True)
    assert (duplex.pages, duplex.blank_pages, count_sheets(duplex.pages, duplex=True)) == (8, 2, 4)
    texts = [p.extract_text() for p in PdfReader(io.BytesIO(duplex.data)).pages]
    assert texts[1] == "" and texts[5] == ""  # blank backs of the cover and of document A
    assert texts[2].startswith("A - side 1") and texts[6].startswith("B - side 1")  # fronts of sheets 2 and 4
    assert texts[7].startswith("B - side 2")


def test_duplex_blank_after_an_odd_last_part():
    merged = build_print_pdf(make_pdf(), [make_pdf(pages=2), make_pdf(pages=1)], duplex=True)
    assert (merged.pages, count_sheets(merged.pages, duplex=True)) == (6, 3)


@pytest.mark.parametrize("pages, duplex, sheets", [(0, False, 0), (1, False, 1), (5, False, 5), (1, True, 1), (2, True, 1), (5, True, 3), (8, True, 4)])
def test_count_sheets(pages, duplex, sheets):
    assert count_sheets(pages, duplex=duplex) == sheets


def test_owner_password_pdf_merges_and_user_password_pdf_does_not():
    merged = build_print_pdf(make_pdf(), [make_encrypted_pdf(user_password="")])
    assert merged.pages == 2 and "Hemmelig" in text_of(merged.data, 1)
    with pytest.raises(DocumentError) as err:
        build_print_pdf(make_pdf(), [make_pdf(), make_encrypted_pdf()])
    assert err.value.code == "PDF_PASSWORD_PROTECTED" and err.value.field == "documents[1]"


def test_a_broken_pdf_is_refused_in_one_fixed_sentence_and_pypdfs_words_are_logged(caplog):
    with caplog.at_level("INFO", logger="gateway.documents.pdf"), pytest.raises(DocumentError) as err:
        build_print_pdf(make_pdf(), [make_pdf(), make_pdf()[:200]])
    assert (err.value.code, err.value.field, err.value.message) == ("PDF_UNREADABLE", "documents[1]", UNREADABLE)
    assert "documents[1]" in caplog.text


def test_pypdfs_text_from_merging_is_not_answered(monkeypatch, caplog):
    def broken(self, *args, **kwargs):
        raise PdfReadError("Invalid Elementary Object starting with b'\\x00' @0x7f3a: xref 12 0 R")

    monkeypatch.setattr(PdfWriter, "append", broken)
    with caplog.at_level("INFO", logger="gateway.documents.pdf"), pytest.raises(DocumentError) as err:
        build_print_pdf(make_pdf(), [make_pdf()])
    assert err.value.code == "PDF_UNREADABLE" and err.value.message == UNREADABLE and "0x7f3a" not in str(err.value)
    assert "0x7f3a" in caplog.text


def test_a_missing_dependency_of_pypdf_is_an_unreadable_pdf_not_a_crash(monkeypatch):
    """pypdf's DependencyError (AES without cryptography, an image codec) is no PyPdfError."""
    def needs(self, *args, **kwargs):
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfWriter, "append", needs)
    with pytest.raises(DocumentError) as err:
        build_print_pdf(make_pdf(), [make_pdf()])
    assert err.value.code == "PDF_UNREADABLE" and err.value.field == "cover" and "cryptography" not in str(err.value)


@pytest.mark.parametrize("hostile", [xref_stream_bomb, object_stream_bomb, many_xref_entries, page_fan_out], ids=lambda f: f.__name__)
def test_merging_opens_each_pdf_within_the_policys_bounds(hostile):
    with pytest.raises(DocumentError) as err:
        build_print_pdf(make_pdf(), [hostile()])
    assert err.value.code == "PDF_TOO_COMPLEX" and err.value.field == "documents[0]"


def test_merging_keeps_to_the_policy_it_is_given():
    assert build_print_pdf(make_pdf(), [make_pdf(pages=3)], policy=IntakePolicy(pdf_max_pages=3)).pages == 4
    with pytest.raises(DocumentError) as err:
        build_print_pdf(make_pdf(), [make_pdf(pages=3)], policy=IntakePolicy(pdf_max_pages=2))
    assert err.value.code == "PDF_TOO_COMPLEX" and "3 pages" in err.value.message


def test_cost_estimate():
    s = PrintSettings(price_per_sheet_ore=90, color_surcharge_per_sheet_ore=60, postage_a_ore=2600, postage_b_ore=2200, envelope_ore=40)
    assert estimate_cost_ore(s, sheets=3, color=False, letter_class=LetterClass.B) == 3 * 90 + 2200 + 40
    assert estimate_cost_ore(s, sheets=3, color=True, letter_class=LetterClass.A) == 3 * (90 + 60) + 2600 + 40


# ------------------------------------------------------------------ the channel


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += dt.timedelta(**kw)


class Contents:
    """``Letter.content``: PDFs by storage ref, counting what was read."""

    def __init__(self, **pdfs):
        self.pdfs = {"vedtak.pdf": make_pdf("Vedtak", pages=2), **pdfs}
        self.read = []

    def __call__(self, document):
        self.read.append(document.storage_ref)
        return self.pdfs[document.storage_ref]


SENDER = SenderSettings(name="kommune-sak", password_hash="x", organization_number="974720760", display_name="Kommune", return_address=("Kommune", "Postboks 7", "0101 OSLO"))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_channel(tmp_path, clock):
    def make(**settings):
        settings.setdefault("return_address", ("Gateway", "0000 NOWHERE"))
        return PrintChannel(PrintSettings(**settings), data_dir=tmp_path, senders={"kommune-sak": SENDER}, clock=clock, receipt_settle_seconds=0)
    return make


@pytest.fixture
def channel(make_channel):
    return make_channel()


def submit(channel, s=None, contents=None, key=None):
    s = s or shipment()
    return channel.submit(Letter(shipment=s, content=contents or Contents()), idempotency_key=key or f"{s.id}:print")


def batch_dirs(channel):
    return sorted(p for p in channel.folders.outbox.iterdir() if p.name.startswith("batch-"))


def manifest_of(batch):
    root = etree.parse(str(batch / "manifest.xml")).getroot()
    return root, root.findall(f"{{{MANIFEST_NS}}}Job")


def test_submit_returns_receipt_with_estimate(channel):
    s = shipment(print_options=PrintOptions(letter_class=LetterClass.A, color=True, duplex=True))
    receipt = submit(channel, s)
    # cover (1) + blank + vedtak (2) = 4 pages on 2 sheets
    assert receipt == Receipt(
        channel="print", shipment_id=s.id, idempotency_key=f"{s.id}:print", reference=s.id, status=Status.SENT_TO_PRINT,
        detail="4 sider, 2 ark", cost_ore=2 * (90 + 60) + 2600 + 40, extra={"pages": "4", "sheets": "2"},
    )
    text = text_of((channel.folders.staging / f"{s.id}.pdf").read_bytes())
    assert "Kommune, Postboks 7, 0101 OSLO" in text and "Kåre Ødegård" in text  # the sender's return address


def test_submit_flush_writes_a_valid_batch_with_one_job_per_shipment(channel):
    shipments = [shipment(), shipment(cost_code="K-1.2", print_options=PrintOptions(duplex=True))]
    for s in shipments:
        submit(channel, s)
    staged = {s.id: (channel.folders.staging / f"{s.id}.pdf").read_bytes() for s in shipments}

    [batch_id] = channel.flush(force=True)
    [batch] = batch_dirs(channel)
    assert batch.name == f"batch-{batch_id}"
    xmlschema.XMLSchema(str(data_dir("xsd") / "print-manifest.xsd")).validate(str(batch / "manifest.xml"))
    root, jobs = manifest_of(batch)
    assert root.get("batchId") == batch_id and dt.datetime.fromisoformat(root.get("created")) == T0
    assert root.findtext(f"{{{MANIFEST_NS}}}senderOrganizationNumber") == "974720760"
    assert sorted(j.findtext(f"{{{MANIFEST_NS}}}shipmentId") for j in jobs) == sorted(staged)
    for job in jobs:
        f = lambda tag: job.findtext(f"{{{MANIFEST_NS}}}{tag}")  # noqa: E731
        data = (batch / f("file")).read_bytes()
        assert data == staged[f("shipmentId")]
        assert hashlib.sha256(data).hexdigest() == f("sha256")
        assert len(PdfReader(io.BytesIO(data)).pages) == int(f("pages"))
        duplex = f("shipmentId") == shipments[1].id
        assert (f("duplex"), f("color"), f("letterClass")) == (str(duplex).lower(), "false", "B")
        assert int(f("sheets")) == (int(f("pages")) // 2 if duplex else int(f("pages")))
        assert f("costCode") == ("K-1.2" if duplex else None) and f("senderOrganizationNumber") == "974720760"
    recipient = jobs[0].find(f"{{{MANIFEST_NS}}}recipient")
    assert [c.text for c in recipient] == ["Kåre Ødegård", "c/o Åse Berg", "Storgata 1 H0203", "0155", "OSLO", "NO"]
    assert sorted(os.listdir(batch)) == sorted(["manifest.xml", *(f"{s.id}.pdf" for s in shipments)])
    assert list(channel.folders.staging.iterdir()) == []
    assert not [p for p in channel.folders.outbox.iterdir() if p.name.startswith(".")]


def test_resubmit_is_idempotent_before_and_after_flush(channel):
    s, contents = shipment(), Contents()
    first = submit(channel, s, contents)
    assert submit(channel, s, contents) == first
    assert contents.read == ["vedtak.pdf"]  # nothing rendered the second time
    assert len(list(channel.folders.staging.glob("*.json"))) == 1

    channel.flush(force=True)
    assert submit(channel, s, contents) == first
    assert list(channel.folders.staging.iterdir()) == [] and channel.flush(force=True) == []
    assert len(batch_dirs(channel)) == 1


def test_flush_by_count(make_channel):
    channel = make_channel(batch_max_letters=2, batch_max_age_seconds=300)
    submit(channel)
    assert channel.flush() == []
    submit(channel)
    submit(channel)
    [batch_id] = channel.flush()  # two letters; the third waits
    assert len(manifest_of(channel.folders.outbox / f"batch-{batch_id}")[1]) == 2
    assert len(list(channel.folders.staging.glob("*.json"))) == 1


def test_flush_by_age(make_channel, clock):
    channel = make_channel(batch_max_letters=100, batch_max_age_seconds=300)
    submit(channel)
    clock.advance(seconds=200)
    submit(channel)
    clock.advance(seconds=99)
    assert channel.flush() == []
    clock.advance(seconds=1)
    [batch_id] = channel.flush()
    assert len(manifest_of(channel.folders.outbox / f"batch-{batch_id}")[1]) == 2


def test_a_flush_that_fails_half_way_is_undone(channel, monkeypatch):
    s = shipment()
    receipt = submit(channel, s)

    def broken_rename(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "rename", broken_rename)
    with pytest.raises(ChannelUnavailable):
        channel.flush(force=True)
    monkeypatch.undo()
    assert batch_dirs(channel) == [] and list(channel.folders.jobs.iterdir()) == []
    assert submit(channel, s) == receipt
    assert len(channel.flush(force=True)) == 1


def test_excluded_document_is_left_out(channel):
    s = shipment(documents=(doc(), doc("bilag.pdf", exclude_from_print=True)))
    contents = Contents(**{"bilag.pdf": make_pdf("Bilag", pages=5)})
    receipt = submit(channel, s, contents)
    assert contents.read == ["vedtak.pdf"] and receipt.extra["pages"] == "3"
    assert "Bilag" not in "".join(p.extract_text() for p in PdfReader(channel.folders.staging / f"{s.id}.pdf").pages)


def test_letters_print_cannot_take_are_rejected(channel):
    with pytest.raises(ChannelRejected):
        submit(channel, shipment(delivery=DeliveryPolicy(mode=DeliveryMode.DIGITAL_ONLY)))
    with pytest.raises(ChannelRejected):
        submit(channel, shipment(documents=(doc(exclude_from_print=True),)))
    with pytest.raises(ChannelRejected, match="password"):
        submit(channel, shipment(), Contents(**{"vedtak.pdf": make_encrypted_pdf()}))
    with pytest.raises(ChannelRejected, match="UUID"):
        submit(channel, shipment(id="not-a-uuid"))
    assert list(channel.folders.staging.iterdir()) == []


def test_a_job_the_manifest_schema_refuses_is_rejected_at_submit(channel):
    s = shipment(cost_code="K 1/2")  # a cost code the manifest's CostCode pattern refuses
    with pytest.raises(ChannelRejected, match="does not fit the print manifest: print-manifest at .*costCode"):
        submit(channel, s)
    assert list(channel.folders.staging.iterdir()) == []


@pytest.mark.parametrize("value, line", [
    ("  Storgata\t 1 \n H0203 ", "Storgata 1 H0203"),
    ("Kåre\x00Ødegård\x1b", "Kåre Ødegård"),
    ("a\x85b\ufffe", "a b"),
    (" \x07 ", ""),
])
def test_manifest_line(value, line):
    assert manifest_line(value) == line


def test_the_print_channel_has_the_print_operations_and_no_other_channel_does(channel):
    assert isinstance(channel, PrintOperations)
    assert not isinstance(Altinn3Channel(Altinn3Settings(base_url="https://altinn.example"), tokens=None), PrintOperations)


# ------------------------------------------------------------------ receipts


def receipt_xml(batch_id, jobs, produced="2025-03-04T07:30:00+01:00"):
    body = "".join(
        f"<Job><shipmentId>{sid}</shipmentId><pages>{p}</pages><sheets>{sh}</sheets><productionCostOre>{cost}</productionCostOre>"
        f"<postageOre>{post}</postageOre>{extra}</Job>"
        for sid, p, sh, cost, post, extra in jobs
    )
    return f'<PrintReceipt xmlns="urn:gateway:print:receipt:1" batchId="{batch_id}" produced="{produced}">{body}</PrintReceipt>'.encode()


def test_receipt_reports_printed_with_cost_and_rejected(channel):
    a, b = shipment(), shipment()
    receipts = [submit(channel, a), submit(channel, b)]
    [batch_id] = channel.flush(force=True)
    assert channel.poll(receipts) == []
    (channel.folders.receipts / f"{batch_id}.xml").write_bytes(receipt_xml(batch_id, [
        (a.id, 3, 3, 270, 2200, ""),
        (b.id, 0, 0, 0, 0, "<status>REJECTED</status><reason>Ugyldig adresse</reason>"),
    ]))

    changes = {c.shipment_id: c for c in channel.poll(receipts)}
    printed, rejected = changes[a.id], changes[b.id]
    assert (printed.status, printed.cost_ore, printed.detail, printed.failed) == (Status.PRINTED, 2470, "3 sider, 3 ark", False)
    assert printed.at == dt.datetime(2025, 3, 4, 6, 30, tzinfo=dt.timezone.utc) and printed.reference == a.id
    assert (rejected.status, rejected.failed, rejected.detail) == (None, True, "Ugyldig adresse")
    assert (channel.folders.receipts / "processed" / f"{batch_id}.xml").exists() and not (channel.folders.receipts / f"{batch_id}.xml").exists()
    assert channel.poll(receipts[:1]) == [printed]  # the outcome stays known until the dispatcher has it


@pytest.mark.parametrize("content", [b"<PrintReceipt", b'<PrintReceipt xmlns="urn:gateway:print:receipt:1"/>', b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"])
def test_invalid_receipt_file_is_moved_aside(channel, content, caplog):
    s = shipment()
    receipt = submit(channel, s)
    [batch_id] = channel.flush(force=True)
    (channel.folders.receipts / f"{batch_id}.xml").write_bytes(content)
    assert channel.poll([receipt]) == []
    assert (channel.folders.receipts / "rejected" / f"{batch_id}.xml").read_bytes() == content
    assert "invalid" in caplog.text


def test_receipt_for_another_batch_name_is_refused(channel):
    s = shipment()
    receipt = submit(channel, s)
    [batch_id] = channel.flush(force=True)
    other = str(uuid.uuid4())
    (channel.folders.receipts / f"{other}.xml").write_bytes(receipt_xml(batch_id, [(s.id, 2, 2, 180, 2200, "")]))
    assert channel.poll([receipt]) == []
    assert (channel.folders.receipts / "rejected" / f"{other}.xml").exists()


def test_overdue_batches(channel, clock):
    s = shipment()
    submit(channel, s)
    [batch_id] = channel.flush(force=True)
    assert channel.overdue_batches(T0 + dt.timedelta(hours=48)) == []
    assert channel.overdue_batches(T0 + dt.timedelta(hours=48, seconds=1)) == [batch_id]
    (channel.folders.receipts / f"{batch_id}.xml").write_bytes(receipt_xml(batch_id, [(s.id, 2, 2, 180, 2200, "")]))
    assert channel.overdue_batches(T0 + dt.timedelta(hours=49)) == []
    channel.poll([])
    assert (channel.folders.receipts / "processed" / f"{batch_id}.xml").exists()
    assert channel.overdue_batches(T0 + dt.timedelta(hours=49)) == []
