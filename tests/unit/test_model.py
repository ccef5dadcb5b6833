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


def test_content_digest_is_stable_across_releases():
    """Stored shipments keep the digest they were accepted with: if the digest of the same
    content ever changed, an identical repeat sent after an upgrade would be refused as a
    conflict. The value was computed by the first implementation."""
    from gateway.domain.shipments import content_digest
    from gateway.model import DocumentRole, RoutingMetadata

    s = Shipment(
        id="x", tenant="t", title="Vedtak om byggetillatelse ÆØÅ",
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
