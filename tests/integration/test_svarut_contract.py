"""A zeep client built from the official ForsendelsesServiceV9 WSDL drives all 12 operations."""
from __future__ import annotations

import datetime as dt

import pytest
import zeep
from lxml import etree

from tests.svarut_builders import ORGNR, PERSON_FNR, forsendelse

STATUSES = {
    "MOTTATT", "AKSEPTERT", "AVVIST", "VARSLET", "LEST", "SENDT_PRINT", "PRINTET", "MANUELT_HANDTERT",
    "SENDT_DIGITALT", "SENDT_SDP", "LEVERT_SDP", "KLAR_FOR_MOTTAK", "IKKE_LEVERT",
}


def test_all_twelve_operations(gateway, svarut_client):
    client, svc = svarut_client(gateway)

    # 1 sendForsendelse
    first = svc.sendForsendelse(forsendelse=forsendelse(client, eksternref="REF-1"))
    assert first and len(first) == 36

    # 2 startNyForsendelse + 3 sendForsendelseMedId
    reserved = svc.startNyForsendelse()
    second = svc.sendForsendelseMedId(forsendelse=forsendelse(client, eksternref="REF-1", tittel="Andre"), forsendelsesid=reserved)
    assert second == reserved

    # 4 retrieveForsendelseStatus
    assert svc.retrieveForsendelseStatus(forsendelsesid=first) == "AKSEPTERT"

    # 5 retrieveForsendelseStatuser
    results = svc.retrieveForsendelseStatuser(forsendelseider=[first, second])
    assert [r.forsendelsesid for r in results] == [first, second]
    assert {r.forsendelseStatus for r in results} <= STATUSES
    assert all(isinstance(r.sisteStatusEndring, dt.datetime) for r in results)

    # 6 retrieveForsendelseHistorikk
    history = svc.retrieveForsendelseHistorikk(forsendelsesid=first)
    # zeep unwraps the single-member forsendelseHistorikk into its hendelsesLogg list
    assert [h.hendelse for h in history] == ["Forsendelse mottatt", "Forsendelse akseptert og lagret"]
    assert all(dt.datetime.fromisoformat(h.tidspunkt) for h in history)

    # 7 retrieveForsendelseIdByEksternRef
    assert svc.retrieveForsendelseIdByEksternRef(eksternRef="REF-1") == [first, second]
    assert svc.retrieveForsendelseIdByEksternRef(eksternRef="NO-SUCH-REF") == []

    # 8 setForsendelseLestAvEksterntSystem
    assert svc.setForsendelseLestAvEksterntSystem(
        forsendelsesid=first, lestAvFodselsnummer=PERSON_FNR, navnPaEksterntSystem="Min side",
        datoLest=dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc),
    ) is None
    assert svc.retrieveForsendelseStatus(forsendelsesid=first) == "LEST"
    texts = [h.hendelse for h in svc.retrieveForsendelseHistorikk(forsendelsesid=first)]
    assert texts[-1].startswith("Forsendelse markert som lest av eksternt system: Min side, lest av 150765*****")

    # 9 retreiveForsendelseTyper (the contract's spelling)
    assert svc.retreiveForsendelseTyper() == ["Vedtak", "Brev"]

    # 10 retrieveMottakerSystemForOrgnr
    systems = svc.retrieveMottakerSystemForOrgnr(organisasjonsnr=ORGNR)
    assert [(s.orgnr, s.mottakersystem, s.forsendelseType, s.niva) for s in systems] == [(ORGNR, "Public 360", "Byggesak", 3)]
    assert svc.retrieveMottakerSystemForOrgnr(organisasjonsnr="964338531") == []

    # 11 retrieveSigneringshistorikk
    signing = svc.retrieveSigneringshistorikk(forsendelseid=first)
    assert signing.forsendelseid == first and signing.logg == []

    # 12 retrieveSigneringshistorikkForFlereForsendelser
    many = svc.retrieveSigneringshistorikkForFlereForsendelser(forsendelseider=[first, second])
    assert [h.forsendelseid for h in many] == [first, second]


def _fault_code(exc: zeep.exceptions.Fault) -> str:
    detail = exc.detail
    code = detail.find(".//{urn:gateway:faults}code")
    assert exc.subcodes and exc.subcodes[0].localname == code.text
    return code.text


def test_signing_history_refuses_more_than_ten_ids(sqlite_gateway, svarut_client):
    client, svc = svarut_client(sqlite_gateway)
    ids = [svc.sendForsendelse(forsendelse=forsendelse(client)) for _ in range(11)]
    assert len(svc.retrieveSigneringshistorikkForFlereForsendelser(forsendelseider=ids[:10])) == 10
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.retrieveSigneringshistorikkForFlereForsendelser(forsendelseider=ids)
    assert _fault_code(err.value) == "TOO_MANY_IDS"


def test_unknown_orgnr_format_is_refused(sqlite_gateway, svarut_client):
    _client, svc = svarut_client(sqlite_gateway)
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.retrieveMottakerSystemForOrgnr(organisasjonsnr="123456789")
    assert _fault_code(err.value) == "INVALID_ORGANIZATION_NUMBER"
    assert "organisasjonsnr" in err.value.message


def test_answers_validate_against_the_official_schema(sqlite_gateway, svarut_client, svarut_wsdl):
    """Raw responses of every read operation validate against the contract's own XSD."""
    import requests

    client, svc = svarut_client(sqlite_gateway)
    sid = svc.sendForsendelse(forsendelse=forsendelse(client))
    schema = _contract_schema(svarut_wsdl)
    calls = {
        "sendForsendelse": None,
        "retrieveForsendelseStatus": f"<forsendelsesid>{sid}</forsendelsesid>",
        "retrieveForsendelseStatuser": f"<forsendelseider>{sid}</forsendelseider>",
        "retrieveForsendelseHistorikk": f"<forsendelsesid>{sid}</forsendelsesid>",
        "retrieveForsendelseIdByEksternRef": "<eksternRef>x</eksternRef>",
        "retreiveForsendelseTyper": "",
        "retrieveMottakerSystemForOrgnr": f"<organisasjonsnr>{ORGNR}</organisasjonsnr>",
        "retrieveSigneringshistorikk": f"<forsendelseid>{sid}</forsendelseid>",
        "retrieveSigneringshistorikkForFlereForsendelser": f"<forsendelseider>{sid}</forsendelseider>",
        "startNyForsendelse": "",
        "setForsendelseLestAvEksterntSystem": f"<forsendelsesid>{sid}</forsendelsesid>",
    }
    for op, body in calls.items():
        if body is None:
            continue
        envelope = (
            '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:v9="http://www.ks.no/svarut/servicesV9">'
            f"<s:Body><v9:{op}>{body}</v9:{op}></s:Body></s:Envelope>"
        ).encode()
        r = requests.post(sqlite_gateway.svarut_url, data=envelope, auth=("kommune-sak", "s3cret-kommune"),
                          headers={"Content-Type": "application/soap+xml; charset=utf-8"}, timeout=30)
        assert r.status_code == 200, (op, r.text)
        answer = etree.fromstring(r.content).find("{http://www.w3.org/2003/05/soap-envelope}Body")[0]
        assert answer.tag == f"{{http://www.ks.no/svarut/servicesV9}}{op}Response"
        schema.assertValid(answer)


def _contract_schema(wsdl_path) -> etree.XMLSchema:
    wsdl = etree.parse(str(wsdl_path))
    xsd = wsdl.find(".//{http://www.w3.org/2001/XMLSchema}schema")
    xsd = etree.fromstring(etree.tostring(xsd))
    for imp in xsd.findall("{http://www.w3.org/2001/XMLSchema}import"):
        xsd.remove(imp)  # xmlmime: only an annotation attribute, not needed to validate
    for el in xsd.iter("{http://www.w3.org/2001/XMLSchema}element"):
        el.attrib.pop("{http://www.w3.org/2005/05/xmlmime}expectedContentTypes", None)
    return etree.XMLSchema(xsd)
