"""Letters that do not fit Altinn 3 as they are, end to end: SvarUt intake → dispatcher → the
Altinn 3 double (which refuses what Altinn refuses) or print. Each ends as README.md says, and
none is printed by mistake."""
from __future__ import annotations

import zeep

from tests.conftest import make_pdf
from tests.integration.test_dispatch import _send, rig  # noqa: F401  (the fixture)
from tests.svarut_builders import PERSON_FNR, dokument

MSG = dokument(b"From: saksbehandler\r\n\r\nnotat", "notat.msg", mimetype="application/vnd.ms-outlook", ekskluderesFraPrint=True)


def _printed(rig, sid: str) -> bool:
    return bool(list(rig.print_dir.rglob(f"{sid}.pdf")))


def test_read_then_archived_is_read_and_never_printed(rig):
    rig.register(PERSON_FNR, "digital")
    sid = _send(rig)
    rig.drain()
    [cid] = rig.double.correspondences
    rig.double.mark_read(cid)
    rig.double.archive(cid)  # the overview's status is now Archived (9), with read set
    rig.advance(seconds=61)
    assert rig.status(sid) == "LEST"
    rig.advance(days=14)  # past the read deadline
    assert rig.status(sid) == "LEST" and not _printed(rig, sid)


def test_purged_after_reading_is_read(rig):
    rig.register(PERSON_FNR, "digital")
    sid = _send(rig)
    rig.drain()
    [cid] = rig.double.correspondences
    rig.double.mark_read(cid)
    rig.double.purge(cid)  # 404 (1001) from now on
    rig.advance(seconds=61)
    assert rig.status(sid) == "LEST"
    rig.advance(days=14)
    assert not _printed(rig, sid)


def test_long_title_and_fifteen_metadata_entries_are_delivered_digitally(rig):
    rig.register(PERSON_FNR, "digital")
    title = ("Vedtak om byggetillatelse for tilbygg på gnr. 12 bnr. 34 med dispensasjon fra reguleringsplanen " * 7)[:600]
    extra = [{"key": f"felt{i:02}", "value": f"verdi {i}"} for i in range(11)]
    metadata = {"saksaar": 2026, "sakssekvensnummer": 1234, "journalpostnummer": 5, "journalaar": 2026,
                "journalsekvensnummer": 4711, "ekstraMetadata": extra}
    sid = _send(rig, tittel=title, metadataFraAvleverendeSystem=metadata)  # 3 + 11 + eksternref? 14-15 entries
    rig.drain()
    [upload] = rig.double.uploads
    assert "refused" not in upload, upload.get("refused")
    body = upload["json"]
    assert len(body["Correspondence.Content.MessageTitle"]) <= 255
    assert len(body["Correspondence.PropertyList"]) == 10 and "felt10" in body["Correspondence.Content.MessageBody"]
    assert rig.status(sid) == "SENDT_DIGITALT" and not _printed(rig, sid)


def test_a_msg_file_in_a_printable_letter_goes_to_print_with_the_reason(rig):
    rig.register(PERSON_FNR, "digital")
    sid = _send(rig, dokumenter=[dokument(make_pdf("Vedtak"), "Vedtak.pdf"), MSG])
    rig.drain()
    assert rig.double.uploads == []  # never sent to Altinn
    assert rig.status(sid) == "SENDT_PRINT"
    assert any("notat.msg" in h and "Altinn" in h for h in rig.history(sid))


def test_a_msg_file_in_a_digital_only_letter_is_refused_at_intake(rig):
    rig.register(PERSON_FNR, "digital")
    try:
        _send(rig, kunDigitalLevering=True, dokumenter=[dokument(make_pdf("Vedtak"), "Vedtak.pdf"), MSG])
    except zeep.exceptions.Fault as fault:
        code = fault.detail.find(".//{urn:gateway:faults}code").text
        field = fault.detail.find(".//{urn:gateway:faults}field").text
        assert (code, field) == ("DOCUMENT_TYPE_NOT_FOR_ALTINN", "forsendelse.dokumenter[1].filnavn")
        assert "notat.msg" in fault.message
    else:
        raise AssertionError("accepted a digital-only letter Altinn cannot take")
    rig.drain()
    assert rig.double.uploads == []
