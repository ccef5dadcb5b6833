"""The gateway's Prometheus metrics: what is counted, and how a scrape gathers it.

One :class:`Metrics` per :class:`~gateway.runtime.Runtime` (so each test's gateway counts
from zero), created where the thing happens: letters accepted where the shipment service
commits them, refusals where a fault is answered and where noarkExchange answers an ERROR
receipt, deliveries where the store commits a dispatch outcome, request time in the Twisted
resource, dispatch time in the worker. Recording is an increment in memory, never a
database call. Queue depth and age are read from the database when scraped (see
:mod:`gateway.monitoring`).

With several processes (``server.processes`` > 1 and the dispatch process) each writes its
values to files in :data:`MULTIPROC_ENV` (prometheus_client's multi-process mode; the
supervisor sets it for every child before it starts, see :func:`prepare_directory`), and a
scrape of any serving process sums the files of all of them, those of processes that have
died included, so counters never go back.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "MULTIPROC_ENV", "Metrics", "exposition", "mark_dead", "prepare_directory"]

#: The environment variable prometheus_client reads when it is imported: its directory.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds: a SOAP call with a few small PDFs takes milliseconds; a 100 MB one, seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, float("inf"))


class Metrics:
    """The gateway's counters and histograms (their names are documented in the README)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.letters_accepted = Counter(
            "gateway_letters_accepted", "Letters stored (accepted means durable), by intake operation",
            ["operation"], registry=r)
        self.requests_refused = Counter(
            "gateway_requests_refused", "SOAP faults answered, and noarkExchange ERROR receipts, by endpoint and fault code",
            ["endpoint", "code"], registry=r)
        self.deliveries = Counter(
            "gateway_deliveries", "What became of letters in each channel (committed dispatch outcomes)",
            ["channel", "outcome"], registry=r)
        self.request_seconds = Histogram(
            "gateway_request_duration_seconds", "HTTP requests to the SOAP endpoints, from the whole body received "
            "to the last byte of the answer", ["endpoint"], buckets=BUCKETS, registry=r)
        self.dispatch_seconds = Histogram(
            "gateway_dispatch_duration_seconds", "Dispatch jobs handled (channel calls included), by job kind",
            ["kind"], buckets=BUCKETS, registry=r)


class _Sources(Collector):
    """Several collectors scraped as one (a scrape builds this; nothing is registered)."""

    def __init__(self, sources: Iterable[Collector]) -> None:
        self.sources = tuple(sources)

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(metrics: Metrics, extra: Iterable[Collector] = ()) -> bytes:
    """The text format of a scrape: this process's metrics (or, in multi-process mode, every
    process's from the files) and ``extra`` collectors read now."""
    directory = multiprocess_directory()
    if directory is not None:
        from prometheus_client.multiprocess import MultiProcessCollector

        own: Collector = MultiProcessCollector(None, path=directory)
    else:
        own = metrics.registry
    return generate_latest(_Sources((own, *extra)))


def prepare_directory(directory: Path) -> Path:
    """An empty directory for a run's multi-process files: what a previous run left (its
    processes are gone) would be added to this run's counters."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


def mark_dead(directory: Path, pid: int) -> None:
    """A child process exited: drop its live gauges' files (its counters stay and keep counting
    in the sums)."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(pid, str(directory))
