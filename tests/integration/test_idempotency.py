"""startNyForsendelse + sendForsendelseMedId: a repeat is answered, never stored twice."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import zeep

from tests.svarut_builders import forsendelse


def _code(exc: zeep.exceptions.Fault) -> str:
    return exc.detail.find(".//{urn:gateway:faults}code").text


def test_same_id_same_content_returns_same_id_once(gateway, svarut_client):
    client, svc = svarut_client(gateway)
    sid = svc.startNyForsendelse()
    f = forsendelse(client, eksternref="IDEM-1")
    assert svc.sendForsendelseMedId(forsendelse=f, forsendelsesid=sid) == sid
    assert svc.sendForsendelseMedId(forsendelse=f, forsendelsesid=sid) == sid
    assert svc.sendForsendelseMedId(forsendelse=f, forsendelsesid=sid.upper()) == sid
    assert gateway.runtime.repository.count_shipments() == 1
    assert svc.retrieveForsendelseIdByEksternRef(eksternRef="IDEM-1") == [sid]
    assert len(svc.retrieveForsendelseHistorikk(forsendelsesid=sid)) == 2


def test_same_id_different_content_is_a_conflict(gateway, svarut_client):
    client, svc = svarut_client(gateway)
    sid = svc.startNyForsendelse()
    svc.sendForsendelseMedId(forsendelse=forsendelse(client), forsendelsesid=sid)
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.sendForsendelseMedId(forsendelse=forsendelse(client, tittel="Noe annet"), forsendelsesid=sid)
    assert _code(err.value) == "SHIPMENT_ID_CONFLICT"
    assert gateway.runtime.repository.get(sid).shipment.title == "Vedtak om byggetillatelse"


@pytest.mark.parametrize("bad_id, code", [(None, "UNKNOWN_SHIPMENT_ID"), ("not-a-uuid", "INVALID_SHIPMENT_ID"), ("", "INVALID_SHIPMENT_ID")])
def test_unreserved_or_malformed_ids_are_refused(sqlite_gateway, svarut_client, bad_id, code):
    client, svc = svarut_client(sqlite_gateway)
    shipment_id = str(uuid.uuid4()) if bad_id is None else bad_id
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.sendForsendelseMedId(forsendelse=forsendelse(client), forsendelsesid=shipment_id)
    assert _code(err.value) == code
    assert sqlite_gateway.runtime.repository.count_shipments() == 0


def test_concurrent_repeats_store_one_shipment(gateway, svarut_client):
    client, svc = svarut_client(gateway)
    sid = svc.startNyForsendelse()
    f = forsendelse(client)
    services = [svarut_client(gateway)[1] for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda s: s.sendForsendelseMedId(forsendelse=f, forsendelsesid=sid), services))
    assert answers == [sid] * 6
    assert gateway.runtime.repository.count_shipments() == 1
    assert len(gateway.runtime.repository.events(sid)) == 2
