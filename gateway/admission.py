"""Admission of large requests against a per-process memory budget.

An inline (base64) document costs several times its size while it is parsed, decoded,
checked and stored (the tree holds the base64 text, then the bytes, then the PDF reader's
view of them): about 4× the request body, measured with ``bench/bench_intake.py``. Sixteen
SOAP threads taking 350 MB letters at once would need more memory than the machine has.
Each call with a large body therefore claims its estimated cost from a
:class:`MemoryBudget` before the body is parsed, and waits for room; one that finds none
within ``wait_seconds`` is answered 503 ``SERVER_BUSY`` (with Retry-After) and can be
retried. MTOM attachments are streamed to disk and do not count, only their root part.
A claim larger than the whole budget is cut down to it, so it runs, alone. Claims are
served first come, first served. The estimate counts tags too (:func:`parse_cost`): a
body of many small elements costs lxml far more than its size.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

from gateway.errors import FaultCode, GatewayError

#: Memory a call needs per byte of inline request body (measured: see the module docstring).
INLINE_COST_FACTOR = 4
#: What lxml holds per node of a parsed tree (measured: 128 bytes for an empty element, 256
#: with its text); a body of many small elements costs far more than 4x its size.
NODE_COST_BYTES = 256
#: Bodies below this are not worth a claim (the budget is for the large ones).
CLAIM_THRESHOLD_BYTES = 1024 * 1024


def parse_cost(data: bytes | bytearray) -> int:
    """Memory to parse ``data`` and handle what it says, estimated from its size and its
    number of tags (one C-speed count): about 4x the bytes, plus lxml's cost per node."""
    return len(data) * INLINE_COST_FACTOR + data.count(b"<") * NODE_COST_BYTES


class ServerBusyError(GatewayError):
    default_code = FaultCode.SERVER_BUSY


@dataclass(frozen=True, slots=True)
class Claim:
    budget: "MemoryBudget"
    nbytes: int

    def release(self) -> None:
        self.budget._release(self.nbytes)


class MemoryBudget:
    def __init__(self, total_bytes: int, *, wait_seconds: float) -> None:
        if total_bytes < 1:
            raise ValueError("a memory budget needs at least one byte")
        self.total = total_bytes
        self.wait_seconds = wait_seconds
        self.used = 0
        self._cond = threading.Condition()
        self._queue: collections.deque[object] = collections.deque()

    def claim(self, nbytes: int) -> Claim | None:
        """Reserve ``nbytes`` (None for a small call that needs no claim), waiting for room.

        Claims are served in the order they came: a large one at the head of the queue is
        not overtaken by a stream of smaller ones that would each fit."""
        if nbytes < CLAIM_THRESHOLD_BYTES:
            return None
        nbytes = min(nbytes, self.total)
        deadline = time.monotonic() + self.wait_seconds
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self.used + nbytes > self.total:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ServerBusyError(
                            f"the gateway is busy with other large letters ({self.used // 2**20} of "
                            f"{self.total // 2**20} MiB in use); retry later",
                            code=FaultCode.SERVER_BUSY,
                        )
                    self._cond.wait(left)
                self.used += nbytes
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()
        return Claim(self, nbytes)

    def _release(self, nbytes: int) -> None:
        with self._cond:
            self.used -= nbytes
            self._cond.notify_all()
