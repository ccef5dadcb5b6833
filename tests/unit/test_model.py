import datetime as dt

from gateway.model import CaseMetadata, Document, Link, Party, PartyKind, PostalAddress, Shipment, from_data, to_data


def test_shipment_survives_json_roundtrip():
    s = Shipment(
        id="x", tenant="t", title="T",
        recipient=Party(identifier="1", kind=PartyKind.NO_PERSON, address=PostalAddress(name="N", lines=("a", "b"))),
        documents=(Document(filename="a.pdf", media_type="application/pdf", size=1, sha256="0" * 64, storage_ref="r", giro_pages=(1, 2)),),
        links=(Link(url="https://x", text="x"),),
        case_metadata=CaseMetadata(case_year=2026, case_sequence_number=1, journal_year=2026, journal_sequence_number=2,
                                   journal_entry_number=3, journal_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                                   extra=(("k", "v"),)),
    )
    import json

    assert from_data(Shipment, json.loads(json.dumps(to_data(s)))) == s
