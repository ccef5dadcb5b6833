"""HTTP Basic per sender system, and a sender sees only its own shipments."""
from __future__ import annotations

import pytest
import requests
import zeep

from tests.conftest import OTHER_PASSWORD
from tests.svarut_builders import PERSON_FNR, forsendelse

STATUS_CALL = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:v9="http://www.ks.no/svarut/servicesV9">'
    "<s:Body><v9:retreiveForsendelseTyper/></s:Body></s:Envelope>"
).encode()


def _code(exc: zeep.exceptions.Fault) -> str:
    return exc.detail.find(".//{urn:gateway:faults}code").text


@pytest.mark.parametrize(
    "auth",
    [("kommune-sak", "wrong"), ("kommune-sak", ""), ("nobody", "s3cret-kommune"), None],
    ids=["wrong-password", "empty-password", "unknown-sender", "no-credentials"],
)
def test_bad_credentials_are_refused_before_parsing(sqlite_gateway, auth):
    r = requests.post(
        sqlite_gateway.svarut_url, data=STATUS_CALL, auth=auth, timeout=30,
        headers={"Content-Type": "application/soap+xml; charset=utf-8"},
    )
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic ")
    assert b"<ns0:code>AUTHENTICATION_FAILED</ns0:code>" in r.content or b"AUTHENTICATION_FAILED" in r.content
    assert b"Vedtak" not in r.content


def test_wrong_password_via_zeep_is_a_fault(sqlite_gateway, svarut_client):
    client, svc = svarut_client(sqlite_gateway, "kommune-sak", "not-the-password")
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.sendForsendelse(forsendelse=forsendelse(client))
    assert _code(err.value) == "AUTHENTICATION_FAILED"
    assert sqlite_gateway.runtime.repository.count_shipments() == 0


def test_wsdl_is_public(sqlite_gateway):
    r = requests.get(sqlite_gateway.svarut_url + "?wsdl", timeout=30)
    assert r.status_code == 200 and b"ForsendelsesServiceV9" in r.content


def test_other_senders_shipments_are_invisible(gateway, svarut_client):
    client, owner = svarut_client(gateway)
    _c2, other = svarut_client(gateway, "annen-kommune", OTHER_PASSWORD)
    sid = owner.sendForsendelse(forsendelse=forsendelse(client, eksternref="FELLES-REF"))
    reserved = owner.startNyForsendelse()

    calls = {
        "status": lambda: other.retrieveForsendelseStatus(forsendelsesid=sid),
        "statuser": lambda: other.retrieveForsendelseStatuser(forsendelseider=[sid]),
        "historikk": lambda: other.retrieveForsendelseHistorikk(forsendelsesid=sid),
        "lest": lambda: other.setForsendelseLestAvEksterntSystem(forsendelsesid=sid, lestAvFodselsnummer=PERSON_FNR),
        "signering": lambda: other.retrieveSigneringshistorikk(forsendelseid=sid),
        "signering-flere": lambda: other.retrieveSigneringshistorikkForFlereForsendelser(forsendelseider=[sid]),
    }
    for name, call in calls.items():
        with pytest.raises(zeep.exceptions.Fault) as err:
            call()
        assert _code(err.value) == "SHIPMENT_NOT_FOUND", name

    assert other.retrieveForsendelseIdByEksternRef(eksternRef="FELLES-REF") == []
    assert owner.retrieveForsendelseIdByEksternRef(eksternRef="FELLES-REF") == [sid]

    # another sender cannot use (or probe) an id reserved by someone else, nor reuse a used one
    for shipment_id in (reserved, sid):
        with pytest.raises(zeep.exceptions.Fault) as err:
            other.sendForsendelseMedId(forsendelse=forsendelse(client), forsendelsesid=shipment_id)
        assert _code(err.value) == "UNKNOWN_SHIPMENT_ID"
    assert owner.retrieveForsendelseStatus(forsendelsesid=sid) == "AKSEPTERT"
