"""Every intake rule, broken over the wire: a stable fault code naming the field, and
nothing stored but one audit record."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import zeep

from gateway.config import IntakePolicy
from tests.conftest import make_encrypted_pdf, make_pdf
from tests.security.hostile_pdfs import content_stream_bomb
from tests.svarut_builders import dokument, forsendelse, organisation, person, post_adresse

Mutation = Callable[[Any, dict], None]


def _set(**fields: Any) -> Mutation:
    def apply(client: Any, f: dict) -> None:
        f.update(fields)
    return apply


def _address(**fields: Any) -> Mutation:
    def apply(client: Any, f: dict) -> None:
        f["mottaker"]["postAdresse"] = post_adresse(**fields)
    return apply


def _recipient_fnr(fnr: str) -> Mutation:
    def apply(client: Any, f: dict) -> None:
        f["mottaker"]["digitalAdresse"] = person(client, fnr)
    return apply


def _recipient_orgnr(orgnr: str) -> Mutation:
    def apply(client: Any, f: dict) -> None:
        f["mottaker"]["digitalAdresse"] = organisation(client, orgnr)
    return apply


def _documents(*docs: dict) -> Mutation:
    return _set(dokumenter=list(docs))


def _links(*links: dict) -> Mutation:
    return _set(lenker=list(links))


def _no_postal_address(client: Any, f: dict) -> None:
    f["mottaker"] = {"digitalAdresse": person(client)}


PDF = make_pdf()
LONG_NAME = "a" * 223 + ".pdf"  # 227 characters
BOMB_PDF = content_stream_bomb()


def _case_metadata(**fields: Any) -> Mutation:
    def apply(client: Any, f: dict) -> None:
        f["metadataFraAvleverendeSystem"] = {"journalaar": 2026, "journalpostnummer": 5, "journalsekvensnummer": 4711,
                                             "saksaar": 2026, "sakssekvensnummer": 1234, **fields}
    return apply

CASES: list[tuple[str, Mutation, str, str]] = [
    ("title-empty", _set(tittel=""), "TITLE_REQUIRED", "forsendelse.tittel"),
    ("title-blank", _set(tittel="   "), "TITLE_REQUIRED", "forsendelse.tittel"),
    ("recipient-missing", _set(mottaker=None), "RECIPIENT_REQUIRED", "forsendelse.mottaker"),
    ("fnr-second-check-digit", _recipient_fnr("15076500566"), "INVALID_NATIONAL_ID", "forsendelse.mottaker.digitalAdresse"),
    ("fnr-first-check-digit", _recipient_fnr("15076500575"), "INVALID_NATIONAL_ID", "forsendelse.mottaker.digitalAdresse"),
    ("fnr-ten-digits", _recipient_fnr("1507650056"), "INVALID_NATIONAL_ID", "forsendelse.mottaker.digitalAdresse"),
    ("fnr-letters", _recipient_fnr("1507650056X"), "INVALID_NATIONAL_ID", "forsendelse.mottaker.digitalAdresse"),
    ("dnr-bad-check", _recipient_fnr("55076500566"), "INVALID_NATIONAL_ID", "forsendelse.mottaker.digitalAdresse"),
    ("orgnr-check-digit", _recipient_orgnr("974720761"), "INVALID_ORGANIZATION_NUMBER", "forsendelse.mottaker.digitalAdresse"),
    ("orgnr-eight-digits", _recipient_orgnr("97472076"), "INVALID_ORGANIZATION_NUMBER", "forsendelse.mottaker.digitalAdresse"),
    ("address-missing-for-print", _no_postal_address, "ADDRESS_REQUIRED", "forsendelse.mottaker.postAdresse"),
    ("address-name-missing", _address(navn=None), "ADDRESS_NAME_REQUIRED", "forsendelse.mottaker.postAdresse.navn"),
    ("address-city-missing", _address(poststed=None), "ADDRESS_CITY_REQUIRED", "forsendelse.mottaker.postAdresse.poststed"),
    ("postcode-three-digits", _address(postnr="155"), "INVALID_POSTCODE", "forsendelse.mottaker.postAdresse.postnr"),
    ("postcode-five-digits", _address(postnr="01555"), "INVALID_POSTCODE", "forsendelse.mottaker.postAdresse.postnr"),
    ("postcode-letter", _address(postnr="O155"), "INVALID_POSTCODE", "forsendelse.mottaker.postAdresse.postnr"),
    ("postcode-missing-norway", _address(postnr=None, land=None), "INVALID_POSTCODE", "forsendelse.mottaker.postAdresse.postnr"),
    ("documents-none", _documents(), "DOCUMENTS_REQUIRED", "forsendelse.dokumenter"),
    ("filename-empty", _documents(dokument(PDF, "")), "FILENAME_REQUIRED", "forsendelse.dokumenter[0].filnavn"),
    ("filename-227", _documents(dokument(PDF, LONG_NAME)), "FILENAME_TOO_LONG", "forsendelse.dokumenter[0].filnavn"),
    ("filename-duplicate-case", _documents(dokument(PDF, "Vedtak.pdf"), dokument(PDF, "VEDTAK.PDF")), "FILENAME_DUPLICATE", "forsendelse.dokumenter[1].filnavn"),
    *[
        (f"filename-char-{ord(c)}", _documents(dokument(PDF, f"vedtak{c}1.pdf")), "FILENAME_INVALID_CHARACTERS", "forsendelse.dokumenter[0].filnavn")
        for c in '"<>?*|:/\\'
    ],
    ("document-empty", _documents(dokument(b"", "tom.pdf")), "DOCUMENT_EMPTY", "forsendelse.dokumenter[0].data"),
    ("document-not-pdf-for-print", _documents(dokument(b"hello", "brev.txt", mimetype="text/plain")), "DOCUMENT_NOT_PDF", "forsendelse.dokumenter[0].mimetype"),
    ("pdf-garbage", _documents(dokument(b"this is not a pdf at all", "x.pdf")), "PDF_UNREADABLE", "forsendelse.dokumenter[0].data"),
    ("pdf-truncated", _documents(dokument(PDF[: len(PDF) // 3], "x.pdf")), "PDF_UNREADABLE", "forsendelse.dokumenter[0].data"),
    ("pdf-password", _documents(dokument(make_encrypted_pdf(), "hemmelig.pdf")), "PDF_PASSWORD_PROTECTED", "forsendelse.dokumenter[0].data"),
    ("cost-code-underscore", _set(konteringskode="BYGG_2026"), "INVALID_COST_CODE", "forsendelse.konteringskode"),
    ("cost-code-21", _set(konteringskode="A" * 21), "INVALID_COST_CODE", "forsendelse.konteringskode"),
    ("link-url-missing", _links({"urlTekst": "Se saken"}), "LINK_URL_REQUIRED", "forsendelse.lenker[0].urlLenke"),
    ("link-text-missing", _links({"urlLenke": "https://minside.no"}), "LINK_TEXT_REQUIRED", "forsendelse.lenker[0].urlTekst"),
    ("link-ftp", _links({"urlLenke": "ftp://minside.no/x", "urlTekst": "x"}), "LINK_URL_INVALID", "forsendelse.lenker[0].urlLenke"),
    ("link-javascript", _links({"urlLenke": "javascript:alert(1)", "urlTekst": "x"}), "LINK_URL_INVALID", "forsendelse.lenker[0].urlLenke"),
    ("link-relative", _links({"urlLenke": "https://ok.no", "urlTekst": "ok"}, {"urlLenke": "minside.no/sak", "urlTekst": "x"}), "LINK_URL_INVALID", "forsendelse.lenker[1].urlLenke"),
    ("signing-document", _documents(dokument(PDF, skalSigneres=True)), "SIGNING_NOT_SUPPORTED", "forsendelse.dokumenter[0].skalSigneres"),
    ("signing-type", _set(signaturtype="AVANSERT_SIGNATUR"), "SIGNING_NOT_SUPPORTED", "forsendelse.signaturtype"),
    # issue 9, items 13-15
    ("pdf-deflate-bomb", _documents(dokument(BOMB_PDF, "x.pdf")), "PDF_TOO_COMPLEX", "forsendelse.dokumenter[0].data"),
    ("filename-rtl-override", _documents(dokument(PDF, "vedtak\u202efdp.exe")), "FILENAME_INVALID_CHARACTERS", "forsendelse.dokumenter[0].filnavn"),
    ("filename-zero-width-space", _documents(dokument(PDF, "vedtak\u200b.pdf")), "FILENAME_INVALID_CHARACTERS", "forsendelse.dokumenter[0].filnavn"),
    ("filename-bom", _documents(dokument(PDF, "\ufeffvedtak.pdf")), "FILENAME_INVALID_CHARACTERS", "forsendelse.dokumenter[0].filnavn"),
    ("filename-con", _documents(dokument(PDF, "CON.pdf")), "FILENAME_RESERVED", "forsendelse.dokumenter[0].filnavn"),
    ("filename-lpt9", _documents(dokument(PDF, "lpt9")), "FILENAME_RESERVED", "forsendelse.dokumenter[0].filnavn"),
    ("filename-trailing-dot", _documents(dokument(PDF, "vedtak.pdf.")), "FILENAME_RESERVED", "forsendelse.dokumenter[0].filnavn"),
    ("filename-trailing-space", _documents(dokument(PDF, "vedtak.pdf ")), "FILENAME_RESERVED", "forsendelse.dokumenter[0].filnavn"),
    ("mimetype-header-injection", _documents(dokument(PDF, mimetype="application/pdf\r\nX-Injected: 1")), "MEDIA_TYPE_INVALID", "forsendelse.dokumenter[0].mimetype"),
    ("mimetype-no-subtype", _documents(dokument(PDF, mimetype="pdf")), "MEDIA_TYPE_INVALID", "forsendelse.dokumenter[0].mimetype"),
    ("title-1001", _set(tittel="T" * 1001), "FIELD_TOO_LONG", "forsendelse.tittel"),
    ("sending-system-101", _set(avgivendeSystem="S" * 101), "FIELD_TOO_LONG", "forsendelse.avgivendeSystem"),
    ("external-ref-101", _set(eksternref="R" * 101), "FIELD_TOO_LONG", "forsendelse.eksternref"),
    ("address-line-2-71", _address(adresse2="A" * 71), "FIELD_TOO_LONG", "forsendelse.mottaker.postAdresse.adresse2"),
    ("address-name-101", _address(navn="N" * 101), "FIELD_TOO_LONG", "forsendelse.mottaker.postAdresse.navn"),
    ("link-url-1001", _links({"urlLenke": "https://minside.no/" + "u" * 982, "urlTekst": "x"}), "FIELD_TOO_LONG", "forsendelse.lenker[0].urlLenke"),
    ("link-text-101", _links({"urlLenke": "https://minside.no", "urlTekst": "t" * 101}), "FIELD_TOO_LONG", "forsendelse.lenker[0].urlTekst"),
    ("metadata-value-501", _case_metadata(ekstraMetadata=[{"key": "k", "value": "v"}, {"key": "k2", "value": "v" * 501}]), "FIELD_TOO_LONG",
     "forsendelse.metadataFraAvleverendeSystem.ekstraMetadata[1].value"),
    ("case-officer-101", _case_metadata(saksbehandler="s" * 101), "FIELD_TOO_LONG", "forsendelse.metadataFraAvleverendeSystem.saksbehandler"),
    ("reply-to-city-71", _set(svarSendesTil={"postAdresse": post_adresse(poststed="P" * 71)}), "FIELD_TOO_LONG", "forsendelse.svarSendesTil.postAdresse.poststed"),
]


def _fault(exc: zeep.exceptions.Fault) -> tuple[str, str | None]:
    code = exc.detail.find(".//{urn:gateway:faults}code").text
    field = exc.detail.find(".//{urn:gateway:faults}field")
    assert exc.code.endswith("Sender")
    assert exc.subcodes[0].localname == code
    return code, field.text if field is not None else None


def _blob_files(gw: Any) -> list[Path]:
    return [p for p in Path(gw.runtime.settings.storage.blob_dir).rglob("*") if p.is_file()]


@pytest.mark.parametrize("case, mutate, code, field", CASES, ids=[c[0] for c in CASES])
def test_rule_refuses_with_code_and_stores_nothing(sqlite_gateway, svarut_client, case, mutate, code, field):
    client, svc = svarut_client(sqlite_gateway)
    f = forsendelse(client)
    mutate(client, f)
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.sendForsendelse(forsendelse=f)
    assert _fault(err.value) == (code, field)
    assert err.value.message.startswith(field + ": ")

    repo = sqlite_gateway.runtime.repository
    assert repo.count_shipments() == 0
    assert _blob_files(sqlite_gateway) == []
    [audit] = repo.audit_records()
    assert (audit["outcome"], audit["sender"], audit["operation"]) == (code, "kommune-sak", "sendForsendelse")


def test_missing_forsendelse_element(sqlite_gateway, svarut_client):
    _client, svc = svarut_client(sqlite_gateway)
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.sendForsendelse()
    assert _fault(err.value) == ("SHIPMENT_REQUIRED", "forsendelse")


def test_printable_shipment_size_limit(start_gateway, settings_factory, svarut_client):
    gw = start_gateway(settings_factory(intake=IntakePolicy(max_print_shipment_bytes=len(PDF) * 2)))
    client, svc = svarut_client(gw)
    assert svc.sendForsendelse(forsendelse=forsendelse(client, dokumenter=[dokument(PDF, "a.pdf"), dokument(PDF, "b.pdf")]))
    too_big = forsendelse(client, dokumenter=[dokument(PDF, "a.pdf"), dokument(PDF, "b.pdf"), dokument(PDF, "c.pdf")])
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.sendForsendelse(forsendelse=too_big)
    assert _fault(err.value) == ("SHIPMENT_TOO_LARGE", "forsendelse.dokumenter")
    # digital-only shipments are not printed, so the print limit does not apply
    assert svc.sendForsendelse(forsendelse=dict(too_big, kunDigitalLevering=True))
    # documents excluded from print do not count
    excluded = forsendelse(client, dokumenter=[dokument(PDF, "a.pdf"), dokument(PDF, "b.pdf"), dokument(PDF, "c.pdf", ekskluderesFraPrint=True)])
    assert svc.sendForsendelse(forsendelse=excluded)


ACCEPTED: list[tuple[str, Mutation]] = [
    ("digital-only-without-postal-address", lambda c, f: (_no_postal_address(c, f), f.update(kunDigitalLevering=True))),
    ("digital-only-with-bad-postcode", lambda c, f: (_address(postnr="1", navn=None, poststed=None)(c, f), f.update(kunDigitalLevering=True))),
    ("foreign-address-without-norwegian-postcode", _address(land="Sverige", postnr="123 45", poststed="Göteborg")),
    ("foreign-address-without-postcode", _address(land="DK", postnr=None, poststed="København")),
    ("filename-226", _documents(dokument(PDF, "a" * 222 + ".pdf"))),
    ("non-pdf-excluded-from-print", _documents(dokument(PDF), dokument(b"<xml/>", "data.xml", mimetype="application/xml", ekskluderesFraPrint=True))),
    ("non-pdf-digital-only", lambda c, f: (_documents(dokument(b"hei", "brev.txt", mimetype="text/plain"))(c, f), f.update(kunDigitalLevering=True))),
    ("cost-code-norwegian-letters", _set(konteringskode="ÆØÅ-æøå.20")),
    ("organisation-recipient", _recipient_orgnr("974720760")),
    ("d-number-recipient", _recipient_fnr("55076500559")),
    ("owner-password-only-pdf", _documents(dokument(make_encrypted_pdf(user_password=""), "begrenset.pdf"))),
    ("http-link", _links({"urlLenke": "http://minside.no/x", "urlTekst": "x"})),
    ("limits-exactly", lambda c, f: (_address(adresse1="a" * 70, navn="n" * 100, poststed="p" * 70)(c, f),
                                     f.update(tittel="t" * 1000, avgivendeSystem="s" * 100, eksternref="r" * 100))),
    ("mimetype-with-parameters", _documents(dokument(PDF, mimetype="Application/PDF; name=\"vedtak.pdf\""))),
    ("filename-resembling-reserved", _documents(dokument(PDF, "CONTRACT.pdf"), dokument(PDF, "com10.pdf"))),
]


@pytest.mark.parametrize("case, mutate", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_rule_boundaries_are_accepted(sqlite_gateway, svarut_client, case, mutate):
    client, svc = svarut_client(sqlite_gateway)
    f = forsendelse(client)
    mutate(client, f)
    sid = svc.sendForsendelse(forsendelse=f)
    assert svc.retrieveForsendelseStatus(forsendelsesid=sid) == "AKSEPTERT"


def test_status_lookup_bounds_the_number_of_ids(start_gateway, settings_factory, svarut_client):
    gw = start_gateway(settings_factory(intake=IntakePolicy(max_ids_per_call=5)))
    client, svc = svarut_client(gw)
    sid = svc.sendForsendelse(forsendelse=forsendelse(client))
    assert len(svc.retrieveForsendelseStatuser(forsendelseider=[sid] * 5)) == 5
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.retrieveForsendelseStatuser(forsendelseider=[sid] * 6)
    assert _fault(err.value) == ("TOO_MANY_IDS", "forsendelseider")
    assert "at most 5 ids" in err.value.message


def test_default_bound_on_ids_is_one_thousand():
    assert IntakePolicy().max_ids_per_call == 1000


def test_a_refused_megabyte_is_not_echoed_or_audited(sqlite_gateway, svarut_client):
    """The fault text and the audit row quote a refused value only in part."""
    client, svc = svarut_client(sqlite_gateway)
    huge = "x" * 1_000_000
    for mutate, code in ((_set(tittel=huge), "FIELD_TOO_LONG"), (_address(postnr=huge), "INVALID_POSTCODE"),
                         (_documents(dokument(PDF, "v" * 200 + "\u202e.pdf")), "FILENAME_INVALID_CHARACTERS"),
                         (_documents(dokument(PDF, mimetype=huge)), "FIELD_TOO_LONG"),
                         (_links({"urlLenke": huge, "urlTekst": "x"}), "LINK_URL_INVALID")):
        f = forsendelse(client)
        mutate(client, f)
        with pytest.raises(zeep.exceptions.Fault) as err:
            svc.sendForsendelse(forsendelse=f)
        assert _fault(err.value)[0] == code
        assert len(err.value.message) < 400
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.retrieveForsendelseStatus(forsendelsesid=huge)
    assert _fault(err.value)[0] == "INVALID_SHIPMENT_ID" and len(err.value.message) < 400
    audits = sqlite_gateway.runtime.repository.audit_records()
    assert len(audits) == 5
    assert all(len(a["detail"]) <= 1000 and len(a["field"] or "") <= 200 for a in audits)


def test_lookup_arguments_are_bounded(sqlite_gateway, svarut_client):
    client, svc = svarut_client(sqlite_gateway)
    sid = svc.sendForsendelse(forsendelse=forsendelse(client))
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.setForsendelseLestAvEksterntSystem(forsendelsesid=sid, navnPaEksterntSystem="n" * 101)
    assert _fault(err.value) == ("FIELD_TOO_LONG", "navnPaEksterntSystem")
    svc.setForsendelseLestAvEksterntSystem(forsendelsesid=sid, navnPaEksterntSystem="n" * 100)
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.retrieveForsendelseIdByEksternRef(eksternRef="r" * 101)
    assert _fault(err.value) == ("FIELD_TOO_LONG", "eksternRef")
