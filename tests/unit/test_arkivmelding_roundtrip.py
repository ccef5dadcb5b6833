"""Noark 4 → canonical → arkivmelding → canonical keeps every field both formats carry.

Every real sample of ../shared/specs/noark/noarkexchange/samples goes through
letter_from_melding, arkivmelding_from_shipment (valid against arkivmelding.xsd) and
letter_from_arkivmelding, and is compared field by field. The fields are listed: a canonical
field that is neither compared nor named as not carried fails the test, so none is dropped
unnoticed. Generated letters (hypothesis) take the same way from canonical and back.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.domain.noark_payload import parse_payload, payload_source
from gateway.mapping.arkivmelding import letter_from_arkivmelding, table
from gateway.mapping.arkivmelding_out import arkivmelding_from_shipment
from gateway.mapping.noark4 import letter_from_melding
from gateway.mapping.noark_fields import archive_shipment, document
from gateway.model import Attention, CaseMetadata, Document, Party, PostalAddress, Shipment
from tests.noark_samples import SAMPLES, sample
from tests.unit.test_arkivmelding_mapping import SENDER, assert_valid

TYPES = "{http://www.arkivverket.no/Noark/Exchange/types}"

#: Every CaseMetadata field: both formats carry each one.
CASE_FIELDS = ("case_year", "case_sequence_number", "document_date", "journal_entry_type", "journal_status", "title",
               "journal_year", "journal_sequence_number", "journal_entry_number", "journal_date", "case_officer", "extra",
               "case_title", "public_title", "access_code", "access_basis", "administrative_unit", "records_unit",
               "case_officer_id", "archive_part")
#: Document fields both carry (the bytes are compared too), and those neither says.
DOCUMENT_FIELDS = ("filename", "media_type", "size", "sha256", "role", "exclude_from_print", "document_type", "title")
DOCUMENT_NOT_CARRIED = ("storage_ref", "giro_pages", "language", "page_count", "sign_requested")
#: The recipient as both carry it; its identifier and kind are the envelope's in an arkivmelding.
RECIPIENT_FIELDS = ("name", "address", "attention")
RECIPIENT_NOT_CARRIED = ("identifier", "kind")
#: Shipment fields both carry, and those neither says (the envelope, the gateway or the channel
#: set them) or only the Noark 4 side does (``exchange.journal_entry_id``, the envelope's).
SHIPMENT_FIELDS = ("title", "sender", "sender_party", "documents", "case_metadata", "delivery", "recipient")
SHIPMENT_NOT_CARRIED = ("id", "source_system", "links", "import_metadata", "routing", "print_options", "cost_code",
                        "external_ref", "reply_to", "reply_to_shipment_id", "reply_link_requested", "signing",
                        "security_level", "source_contract", "exchange")


def test_the_lists_name_every_field():
    assert set(CASE_FIELDS) == {f.name for f in dataclasses.fields(CaseMetadata)}
    assert set(DOCUMENT_FIELDS + DOCUMENT_NOT_CARRIED) == {f.name for f in dataclasses.fields(Document)}
    assert set(RECIPIENT_FIELDS + RECIPIENT_NOT_CARRIED) == {f.name for f in dataclasses.fields(Party)}
    assert set(SHIPMENT_FIELDS + SHIPMENT_NOT_CARRIED) == {f.name for f in dataclasses.fields(Shipment)}


def round_trip(shipment: Shipment, contents) -> tuple[Shipment, tuple, bytes]:
    """The letter written as an arkivmelding (checked against the schema) and read back, with
    its documents as the request's files by their references."""
    data = arkivmelding_from_shipment(shipment)
    assert_valid(data)
    parts = {d.filename: c for d, c in zip(shipment.documents, contents)}
    letter = letter_from_arkivmelding(etree.fromstring(data), sender=SENDER, files=parts.get)
    [candidate] = letter.candidates if shipment.recipient != Party() else (Party(),)
    return dataclasses.replace(letter.shipment, recipient=candidate), letter.contents, data


def assert_same(before: Shipment, after: Shipment) -> None:
    for name in CASE_FIELDS:
        assert getattr(after.case_metadata, name) == getattr(before.case_metadata, name), f"case_metadata.{name}"
    assert len(after.documents) == len(before.documents), "documents"
    for index, (a, b) in enumerate(zip(after.documents, before.documents)):
        for name in DOCUMENT_FIELDS:
            assert getattr(a, name) == getattr(b, name), f"documents[{index}].{name}"
    for name in RECIPIENT_FIELDS:
        assert getattr(after.recipient, name) == getattr(before.recipient, name), f"recipient.{name}"
    for name in ("title", "sender", "sender_party", "delivery"):
        assert getattr(after, name) == getattr(before, name), name


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_real_sample_keeps_every_field_through_arkivmelding(name):
    data, _ = sample(name)
    payload = etree.fromstring(data).find(f".//{TYPES}PutMessageRequest/payload")
    melding = letter_from_melding(parse_payload(payload_source(payload)), sender=SENDER)
    assert melding.candidates, "each sample names a recipient"
    for candidate in melding.candidates:
        before = dataclasses.replace(melding.shipment, recipient=candidate)
        after, contents, _ = round_trip(before, melding.contents)
        assert_same(before, after)
        assert contents == melding.contents
        assert after.recipient.identifier is None  # the envelope's receiver names it


# ---------------------------------------------------------------- generated letters

_TEXT = st.text(st.characters(whitelist_categories=("L", "N", "P", "Zs"), blacklist_characters="\u00a0\u2007\u202f"),
                min_size=1, max_size=30).map(str.strip).filter(bool)
_MAYBE = st.none() | _TEXT
#: File names as the canonical model takes them (validation refuses '"<>?*|:/\\').
_NAME = _TEXT.map(lambda text: "".join("_" if ch in '"<>?*|:/\\' else ch for ch in text))
_NUMBER = st.integers(min_value=0, max_value=999_999_999)
_DAY = st.none() | st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(
    lambda d: dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc))


def _code(name: str):
    return st.none() | st.sampled_from(sorted(table()["codes"][name]["values"])) | st.sampled_from(["R", "Q"])


_CASE = st.builds(
    CaseMetadata, case_year=_NUMBER, case_sequence_number=_NUMBER, journal_year=_NUMBER, journal_sequence_number=_NUMBER,
    journal_entry_number=_NUMBER, document_date=_DAY, journal_date=_DAY, journal_entry_type=_code("journal_entry_type"),
    journal_status=_code("journal_status"), title=_MAYBE, case_officer=_MAYBE,
    extra=st.lists(st.tuples(_TEXT, _TEXT), max_size=4).map(tuple), case_title=_MAYBE, public_title=_MAYBE,
    access_code=_MAYBE, access_basis=_MAYBE, administrative_unit=_MAYBE, records_unit=_MAYBE, case_officer_id=_MAYBE,
    archive_part=_MAYBE)


@st.composite
def _recipient(draw) -> Party:
    name = draw(_MAYBE)
    address = draw(st.none() | st.builds(PostalAddress, name=st.just(name), lines=st.lists(_TEXT, max_size=3).map(tuple),
                                         postcode=_MAYBE, city=_TEXT, country=st.sampled_from(["NO", "SE", "DK"])))
    email = draw(_MAYBE)
    return Party(name=name, address=address, attention=Attention(email=email) if email else None)


@st.composite
def _letter(draw) -> tuple[Shipment, tuple[bytes, ...]]:
    count = draw(st.integers(min_value=0, max_value=3))
    contents = tuple(draw(st.binary(min_size=1, max_size=20)) for _ in range(count))
    documents = tuple(
        document(data, filename=f"{draw(_NAME)}-{i}.{ext}", media_type=table()["media_types"][ext],
                 role=draw(st.sampled_from(["MAIN", "ATTACHMENT"])), title=draw(_MAYBE), document_type=draw(_MAYBE))
        for i, (data, ext) in enumerate(zip(contents, draw(st.lists(st.sampled_from(["pdf", "docx", "png"]),
                                                                    min_size=count, max_size=count)))))
    shipment = archive_shipment(sender=SENDER, title=draw(_TEXT), documents=documents, case=draw(_CASE),
                                non_pdf=table()["delivery"]["non_pdf"], contract="arkivmelding")
    return dataclasses.replace(shipment, recipient=draw(_recipient())), contents


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_letter())
def test_generated_letters_keep_every_field_through_arkivmelding(letter):
    before, contents = letter
    after, read, _ = round_trip(before, contents)
    assert_same(before, after)
    assert read == contents
