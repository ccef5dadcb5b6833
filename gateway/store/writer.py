"""Write transactions, with group commit on SQLite.

SQLite has one writer at a time and each commit is an fsync. When many intake threads
commit at once, :class:`GroupCommitWriter` lets whichever thread holds the write lock run
every queued unit of work in one transaction, each in its own SAVEPOINT (so one unit's
failure, such as a duplicate id, touches nobody else), and commit once. Every caller
returns only after the commit that holds its rows: "accepted means durable" is unchanged,
the fsync is shared. PostgreSQL commits concurrently and gets :class:`DirectWriter`.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy.engine import Connection, Engine

from gateway.store.engine import WRITE

T = TypeVar("T")
Work = Callable[[Connection], T]


class Writer(Protocol):
    def run(self, work: Work[T]) -> T: ...


class DirectWriter:
    """One transaction per unit of work."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine.execution_options(**WRITE)

    def run(self, work: Work[T]) -> T:
        with self._engine.begin() as conn:
            return work(conn)


class _Unit:
    __slots__ = ("work", "result", "error", "done")

    def __init__(self, work: Work[object]) -> None:
        self.work = work
        self.result: object = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommitWriter:
    """Queue units of work; the thread holding the lock commits them all at once."""

    def __init__(self, engine: Engine, *, max_batch: int = 64) -> None:
        self._engine = engine.execution_options(**WRITE)
        self._max_batch = max_batch
        self._commit_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Unit] = []

    def run(self, work: Work[T]) -> T:
        unit = _Unit(work)
        with self._queue_lock:
            self._queue.append(unit)
        while not unit.done:
            with self._commit_lock:
                if unit.done:
                    break
                # nobody took it along yet: lead a batch (ours may be beyond max_batch: loop)
                with self._queue_lock:
                    batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                self._commit(batch)
        if unit.error is not None:
            raise unit.error
        return unit.result  # type: ignore[return-value]

    def _commit(self, batch: list[_Unit]) -> None:
        try:
            with self._engine.begin() as conn:
                if len(batch) == 1:
                    batch[0].result = batch[0].work(conn)
                else:
                    for unit in batch:
                        try:
                            with conn.begin_nested():
                                unit.result = unit.work(conn)
                        except Exception as exc:  # noqa: BLE001 - handed to its own caller
                            unit.error = exc
        except BaseException as exc:  # the commit itself failed: nobody's rows are durable
            for unit in batch:
                if unit.error is None:
                    unit.error = exc
                    unit.result = None
        finally:
            for unit in batch:
                unit.done = True


_WRITERS: "weakref.WeakKeyDictionary[Engine, Writer]" = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def writer_for(engine: Engine) -> Writer:
    """One writer per engine: every store of a database shares its commit lock."""
    with _WRITERS_LOCK:
        writer = _WRITERS.get(engine)
        if writer is None:
            writer = _WRITERS[engine] = GroupCommitWriter(engine) if engine.dialect.name == "sqlite" else DirectWriter(engine)
        return writer
