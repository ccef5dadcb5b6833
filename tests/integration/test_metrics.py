"""``/metrics`` of a real gateway on loopback: letters through SvarUt (a zeep client from the
official WSDL) and noarkExchange (the integrasjonspunkt's own sample), some refused with known
fault codes, dispatched to the Altinn 3 double; the scrape is read with Prometheus' own text
parser and every counter and histogram count is what the test did. Who may scrape is
``[metrics]``: loopback by default, other networks when named, a bearer token when given."""
from __future__ import annotations

import collections
import dataclasses
import time
import uuid

import pytest
import requests
import zeep
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import MetricsSettings
from gateway.soap.noark import PATH as NOARK_PATH
from gateway.soap.svarut import PATH as SVARUT_PATH
from gateway.store import tables
from tests.conftest import SENDER_PASSWORD
from tests.integration.test_dispatch import rig  # noqa: F401  (the fixture)
from tests.noark_samples import sample
from tests.svarut_builders import PERSON_FNR, forsendelse

TYPES = "http://www.arkivverket.no/Noark/Exchange/types"
PUT_MESSAGE = '"http://www.arkivverket.no/Noark/Exchange/IEDUImport/PutMessage"'


def scrape(base_url: str, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``, parsed by prometheus_client's text parser: (name, labels) → value."""
    response = requests.get(base_url + "/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def settled(base_url: str, requests_by_endpoint: dict[str, int], timeout: float = 30) -> dict:
    """A scrape once every request the client has made is counted: a server counts a request
    when it has finished it, which may be just after the client has read the whole answer."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(base_url)
        counted = {e: value(samples, "gateway_request_duration_seconds_count", endpoint=e) for e in requests_by_endpoint}
        if counted == requests_by_endpoint or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` that has ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def noark_put(base_url: str, data: bytes) -> etree._Element:
    response = requests.post(base_url + NOARK_PATH, data=data, auth=("kommune-sak", SENDER_PASSWORD), timeout=30,
                             headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": PUT_MESSAGE})
    assert response.status_code == 200
    return etree.fromstring(response.content).find(f".//{{{TYPES}}}PutMessageResponse/result")


def fault_code(exc: zeep.exceptions.Fault) -> str:
    return exc.detail.find(".//{urn:gateway:faults}code").text


def test_counters_and_histograms_are_what_the_test_did(rig, svarut_client):
    gw, base = rig.gw, rig.gw.base_url
    handled: collections.Counter[str] = collections.Counter()
    dispatcher = gw.runtime.dispatcher
    handle = dispatcher.handle

    def counting(job):
        handled[job.kind] += 1
        return handle(job)

    dispatcher.handle = counting  # the worker calls it: the test counts the jobs handled
    calls = collections.Counter()
    rig.register(PERSON_FNR, "digital")

    ids = [rig.svc.sendForsendelse(forsendelse=forsendelse(rig.client)) for _ in range(3)]
    calls[SVARUT_PATH] += 3
    for _ in range(2):
        with pytest.raises(zeep.exceptions.Fault) as refused:
            rig.svc.retrieveForsendelseStatus(forsendelsesid=str(uuid.uuid4()))
        assert fault_code(refused.value) == "SHIPMENT_NOT_FOUND"
    calls[SVARUT_PATH] += 2
    client, intruder = svarut_client(gw, "kommune-sak", "not-the-password")
    with pytest.raises(zeep.exceptions.Fault) as refused:
        intruder.sendForsendelse(forsendelse=forsendelse(client))
    assert fault_code(refused.value) == "AUTHENTICATION_FAILED"
    calls[SVARUT_PATH] += 1

    data, conversation_id = sample("example")
    assert noark_put(base, data).get("type") == "OK"
    assert noark_put(base, data).get("type") == "OK"  # the same message again: nothing new is stored
    other = data.replace(b"jpInnhold&gt;Test MSH Difi", b"jpInnhold&gt;Noe annet", 1)
    assert other != data
    result = noark_put(base, other)
    assert result.get("type") == "ERROR" and result.find("message").get("code") == "SHIPMENT_ID_CONFLICT"
    calls[NOARK_PATH] += 3

    rig.clock.advance(seconds=30)  # the letters' route jobs have waited 30 s for a worker
    before = scrape(base)
    assert value(before, "gateway_jobs", kind="route", state="due") == 4
    assert value(before, "gateway_jobs_oldest_due_age_seconds", kind="route") == 30
    assert value(before, "gateway_database_up") == 1

    rig.drain()
    rig.advance(seconds=61)  # the poll finds the correspondences published: notified
    [first, *_] = rig.double.correspondences
    rig.double.mark_read(first)
    rig.advance(seconds=61)
    assert [rig.status(sid) for sid in ids].count("LEST") == 1
    calls[SVARUT_PATH] += 3

    after = settled(base, dict(calls))
    assert value(after, "gateway_letters_accepted_total", operation="sendForsendelse") == 3
    assert value(after, "gateway_letters_accepted_total", operation="PutMessage") == 1
    assert total(after, "gateway_letters_accepted_total") == 4
    assert value(after, "gateway_requests_refused_total", endpoint=SVARUT_PATH, code="SHIPMENT_NOT_FOUND") == 2
    assert value(after, "gateway_requests_refused_total", endpoint=SVARUT_PATH, code="AUTHENTICATION_FAILED") == 1
    assert value(after, "gateway_requests_refused_total", endpoint=NOARK_PATH, code="SHIPMENT_ID_CONFLICT") == 1
    assert total(after, "gateway_requests_refused_total") == 4

    # deliveries: what the letters' histories say, channel by channel
    assert value(after, "gateway_deliveries_total", channel="altinn3", outcome="sent_digital") == 3
    assert value(after, "gateway_deliveries_total", channel="altinn3", outcome="notified") == 3
    assert value(after, "gateway_deliveries_total", channel="altinn3", outcome="read") == 1
    # the archive's letter is to an organisation no mailbox knows, and digital only: it ends there
    assert value(after, "gateway_deliveries_total", channel="none", outcome="not_delivered") == 1
    with gw.runtime.engine.connect() as conn:
        events = conn.execute(tables.events.select()).mappings().all()
    history = collections.Counter((e["channel"] or "none", e["kind"]) for e in events
                                  if e["kind"] in {"sent_digital", "sent_to_print", "notified", "read", "delivered", "printed",
                                                   "fallback_print", "print_cancelled", "not_delivered"})
    counted = {(dict(ls)["channel"], dict(ls)["outcome"]): v for (n, ls), v in after.items() if n == "gateway_deliveries_total"}
    assert counted == {key: float(n) for key, n in history.items()}

    for endpoint, n in calls.items():
        assert value(after, "gateway_request_duration_seconds_count", endpoint=endpoint) == n
        assert value(after, "gateway_request_duration_seconds_bucket", endpoint=endpoint, le="+Inf") == n
        assert value(after, "gateway_request_duration_seconds_sum", endpoint=endpoint) > 0
    for kind, n in handled.items():
        assert value(after, "gateway_dispatch_duration_seconds_count", kind=kind) == n
    assert total(after, "gateway_dispatch_duration_seconds_count") == sum(handled.values()) > 0

    with gw.runtime.engine.connect() as conn:
        pending = collections.Counter(row.kind for row in conn.execute(
            tables.jobs.select().where(tables.jobs.c.state == "pending")))
    assert value(after, "gateway_jobs", kind="route", state="due") == 0
    for kind, n in pending.items():
        assert value(after, "gateway_jobs", kind=kind, state="waiting") + value(after, "gateway_jobs", kind=kind, state="due") == n


# ---------------------------------------------------------------- who may scrape


def _gateway(start_gateway, settings_factory, **metrics):
    settings = settings_factory()
    return start_gateway(dataclasses.replace(settings, metrics=MetricsSettings(**metrics)))


def test_only_loopback_scrapes_by_default(start_gateway, settings_factory):
    gw = _gateway(start_gateway, settings_factory)
    assert "gateway_letters_accepted_total" not in scrape(gw.base_url)  # no letter yet: no series
    other = _gateway(start_gateway, settings_factory, allowed_networks=("10.0.0.0/8", "2001:db8::/32"))
    response = requests.get(other.base_url + "/metrics", timeout=30)
    assert response.status_code == 403 and "gateway_" not in response.text


def test_a_bearer_token_is_asked_for_when_configured(start_gateway, settings_factory, tmp_path):
    token = "t0ken-" + uuid.uuid4().hex
    (tmp_path / "metrics.token").write_text(token + "\n", encoding="utf-8")
    gw = _gateway(start_gateway, settings_factory, bearer_token_file=str(tmp_path / "metrics.token"))
    for headers in ({}, {"Authorization": "Bearer wrong-" + token}, {"Authorization": f"Basic {token}"}):
        response = requests.get(gw.base_url + "/metrics", headers=headers, timeout=30)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert value(scrape(gw.base_url, Authorization=f"Bearer {token}"), "gateway_database_up") == 1


def test_disabled_metrics_are_not_served(start_gateway, settings_factory):
    gw = _gateway(start_gateway, settings_factory, enabled=False)
    assert requests.get(gw.base_url + "/metrics", timeout=30).status_code == 404
