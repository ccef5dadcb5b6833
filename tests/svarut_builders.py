"""Building SvarUt V9 requests with a zeep client made from the official WSDL."""
from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import SVARUT_NS, make_pdf

PERSON_FNR = "15076500565"  # valid check digits
ORGNR = "974720760"


def person(client: Any, fnr: str = PERSON_FNR) -> Any:
    return client.get_type(f"{{{SVARUT_NS}}}personDigitalAdresse")(fnr=fnr)


def organisation(client: Any, orgnr: str = ORGNR) -> Any:
    return client.get_type(f"{{{SVARUT_NS}}}organisasjonDigitalAdresse")(orgnr=orgnr)


def dokument(data: bytes | None = None, filnavn: str = "vedtak.pdf", **extra: Any) -> dict[str, Any]:
    doc = {
        "data": make_pdf() if data is None else data,
        "ekskluderesFraPrint": False,
        "filnavn": filnavn,
        "mimetype": "application/pdf",
        "skalSigneres": False,
    }
    doc.update(extra)
    return doc


def post_adresse(**extra: Any) -> dict[str, Any]:
    address = {"navn": "Ola Nordmann", "adresse1": "Storgata 1", "postnr": "0155", "poststed": "Oslo", "land": "Norge"}
    address.update(extra)
    return address


def forsendelse(client: Any, **overrides: Any) -> dict[str, Any]:
    """A minimal valid shipment to a person, with one PDF; override any field."""
    f: dict[str, Any] = {
        "tittel": "Vedtak om byggetillatelse",
        "krevNiva4Innlogging": False,
        "kryptert": False,
        "kunDigitalLevering": False,
        "svarPaForsendelseLink": False,
        "signaturtype": None,
        "signeringUtloper": None,
        "mottaker": {"digitalAdresse": person(client), "postAdresse": post_adresse()},
        "dokumenter": [dokument()],
    }
    f.update(overrides)
    return f


def full_forsendelse(client: Any, first: bytes, second: bytes) -> dict[str, Any]:
    """Two PDFs, Noark metadata, metadata for import, two deep links and print options."""
    when = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.timezone.utc)
    return forsendelse(
        client,
        avgivendeSystem="Public 360",
        eksternref="P360-2026/1234-5",
        forsendelseType="Vedtak",
        konteringskode="BYGG-2026.1",
        dokumenter=[
            dokument(first, "Vedtak.pdf", dokumentType="Vedtak"),
            dokument(second, "Vedlegg situasjonsplan.pdf", giroarkSider=[1]),
        ],
        lenker=[
            {"urlLenke": "https://minside.kommune.no/byggesak/2026-1234", "urlTekst": "Se saken din", "ledetekst": "Byggesak"},
            {"urlLenke": "https://minside.kommune.no/klage?sak=2026-1234", "urlTekst": "Klag på vedtaket"},
        ],
        metadataFraAvleverendeSystem={
            "dokumentetsDato": when,
            "ekstraMetadata": [{"key": "arkivdel", "value": "BYGG"}, {"key": "klasse", "value": "GBNR 12/34"}],
            "journalaar": 2026,
            "journaldato": when,
            "journalpostnummer": 5,
            "journalposttype": "U",
            "journalsekvensnummer": 4711,
            "journalstatus": "F",
            "saksaar": 2026,
            "saksbehandler": "Kari Saksbehandler",
            "sakssekvensnummer": 1234,
            "tittel": "Byggetillatelse Storgata 1",
        },
        metadataForImport={
            "dokumentetsDato": when,
            "journalposttype": "I",
            "journalstatus": "M",
            "saksaar": 2026,
            "sakssekvensnummer": 99,
            "tittel": "Søknad om byggetillatelse",
        },
        printkonfigurasjon={"brevtype": "APOST", "fargePrint": True, "tosidig": True},
        svarSendesTil={"digitalAdresse": organisation(client), "postAdresse": post_adresse(navn="Kommune, byggesak", postnr="0037")},
    )
