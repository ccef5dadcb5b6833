"""Workers: threads that claim due jobs and hand them to the dispatcher.

The gateway process runs ``dispatch.workers`` of them; ``gateway worker --config FILE`` runs
more in a process of their own, against the same database. Leases make a dead worker's
jobs claimable again once they expire.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

from gateway.dispatch.dispatcher import Dispatcher
from gateway.store.dispatch import DispatchStore

logger = logging.getLogger(__name__)


def worker_name(index: int = 0) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{index}:{uuid.uuid4().hex[:6]}"


@dataclass
class Worker:
    dispatcher: Dispatcher
    store: DispatchStore
    name: str = field(default_factory=worker_name)
    lease_seconds: float = 120.0
    poll_interval: float = 1.0
    #: Jobs leased per claim. A few at a time saves commits; the lease must cover them all.
    batch: int = 1

    def run_once(self) -> bool:
        """Claim and run due jobs (up to ``batch``); answers whether there were any."""
        claimed_at = self.dispatcher.clock()
        jobs = self.store.claim_many(self.name, now=claimed_at, lease_seconds=self.lease_seconds, limit=self.batch)
        for job in jobs:
            # A later job of the batch may have waited long: past half its lease, renew it
            # (or leave it to whoever took it over) before touching the channel.
            now = self.dispatcher.clock()
            if (now - claimed_at).total_seconds() > self.lease_seconds / 2:
                if not self.store.renew(job, now=now, lease_seconds=self.lease_seconds):
                    continue
            started = time.monotonic()
            self.dispatcher.handle(job)
            self.store.metrics.dispatch_seconds.labels(job.kind).observe(time.monotonic() - started)
        return bool(jobs)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # noqa: BLE001 - e.g. the database restarting; try again shortly
                logger.exception("worker %s could not claim a job", self.name)
                busy = False
            if not busy:
                stop.wait(self.poll_interval)


class WorkerPool:
    def __init__(self, dispatcher: Dispatcher, store: DispatchStore, *, count: int, lease_seconds: float, poll_interval: float,
                 batch: int = 1) -> None:
        self.stop_event = threading.Event()
        self.workers = [
            Worker(dispatcher, store, name=worker_name(i), lease_seconds=lease_seconds, poll_interval=poll_interval, batch=batch)
            for i in range(count)
        ]
        self.threads = [threading.Thread(target=w.run, args=(self.stop_event,), name=f"dispatch-{i}", daemon=True) for i, w in enumerate(self.workers)]

    def start(self) -> "WorkerPool":
        for t in self.threads:
            t.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=timeout)
