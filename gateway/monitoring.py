"""``GET /metrics``: the Prometheus text format, for the scrapers ``[metrics]`` allows.

The counters and histograms are this process's (or, in multi-process mode, every process's:
:func:`gateway.metrics.exposition`); the job queue is read from the database at scrape time
by :class:`QueueCollector`. The scrape runs on the reactor's own thread pool, not the SOAP
calls' one, so a gateway busy with letters still answers it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from twisted.internet import threads
from twisted.web import resource, server

from gateway.config.metrics import MetricsAccess
from gateway.metrics import CONTENT_TYPE_LATEST, exposition
from gateway.model import Clock
from gateway.runtime import Runtime
from gateway.store.queue_stats import DUE, WAITING, queue_stats
from gateway.store.jobs import DEAD, RUNNING

logger = logging.getLogger(__name__)

STATES = (DUE, WAITING, RUNNING, DEAD)


class QueueCollector(Collector):
    """``gateway_jobs``, ``gateway_jobs_oldest_due_age_seconds`` and ``gateway_database_up``,
    read when scraped (two grouped queries; see :mod:`gateway.store.queue_stats`)."""

    def __init__(self, engine: Engine, *, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("gateway_database_up", "1 when the database answered this scrape's queue queries")
        now = self.clock()
        try:
            stats = queue_stats(self.engine, now=now)
        except Exception as exc:  # noqa: BLE001 - the other metrics must still be scraped
            logger.error("metrics: the job queue could not be read: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily("gateway_jobs", "Dispatch jobs by kind and state (due: pending and due now; "
                                 "waiting: pending, due later; running: leased; dead: given up)", labels=["kind", "state"])
        kinds = sorted({kind for kind, _state in stats.jobs})
        for kind in kinds:
            for state in STATES:
                jobs.add_metric([kind, state], stats.jobs.get((kind, state), 0))
        yield jobs
        age = GaugeMetricFamily("gateway_jobs_oldest_due_age_seconds",
                                "How long the oldest due job of each kind has waited for a worker (0: none due)", labels=["kind"])
        for kind in kinds:
            first = stats.oldest_due.get(kind)
            age.add_metric([kind], max(0.0, (now - first).total_seconds()) if first else 0.0)
        yield age


class MetricsResource(resource.Resource):
    """``/metrics``: 403 outside ``metrics.allowed_networks``, 401 without the bearer token
    (when one is configured), else the scrape."""

    isLeaf = True

    def __init__(self, runtime: Runtime, reactor: Any) -> None:
        super().__init__()
        self.runtime = runtime
        self.reactor = reactor
        self.access = MetricsAccess.of(runtime.settings.metrics)
        self.queue = QueueCollector(runtime.engine, clock=runtime.dispatcher.clock)

    def render_GET(self, request: server.Request) -> Any:
        client = request.getClientAddress()
        if not self.access.address_allowed(getattr(client, "host", "")):
            return _refuse(request, 403, b"metrics are not served to this address\n")
        if not self.access.token_accepted(request.getHeader(b"authorization")):
            request.setHeader(b"www-authenticate", b'Bearer realm="gateway-metrics"')
            return _refuse(request, 401, b"metrics need the bearer token\n")
        gone: list[bool] = []  # the scraper gave up: nothing more is written
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        scrape = threads.deferToThreadPool(self.reactor, self.reactor.getThreadPool(), exposition,
                                           self.runtime.metrics, (self.queue,))
        scrape.addCallbacks(_answer, _failed, callbackArgs=(request, gone), errbackArgs=(request, gone))
        return server.NOT_DONE_YET


def _refuse(request: server.Request, code: int, text: bytes) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return text


def _answer(body: bytes, request: server.Request, gone: list[bool]) -> None:
    if gone:
        return
    request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
    request.write(body)
    request.finish()


def _failed(failure: Any, request: server.Request, gone: list[bool]) -> None:
    logger.error("metrics: the scrape failed: %s", failure.getErrorMessage())
    if gone:
        return
    request.setResponseCode(500)
    request.finish()
