"""A FIFO that tells whether anyone opened it, without ever blocking the opener for long.

A watcher thread opens the FIFO for writing, which blocks until a reader opens it. If the
code under test opens the file, the watcher wakes, records it and closes its end, so the
reader sees end-of-file at once (instead of hanging forever, as it would with no writer).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class FifoWatch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened = 0
        self._stopping = False
        os.mkfifo(path)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while True:
            fd = os.open(self.path, os.O_WRONLY)  # returns once a reader has opened the FIFO
            os.close(fd)
            if self._stopping:
                return
            self.opened += 1

    def stop(self) -> None:
        self._stopping = True
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # releases the watcher
        self._thread.join(10)
        os.close(fd)


@contextmanager
def fifo_watch(directory: Path, name: str = "probe.dtd") -> Iterator[FifoWatch]:
    watch = FifoWatch(directory / name)
    try:
        yield watch
    finally:
        watch.stop()
