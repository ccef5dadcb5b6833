"""Admission of large requests against a per-process memory budget.

An inline (base64) document costs several times its size while it is parsed, decoded,
checked and stored (the tree holds the base64 text, then the bytes, then the PDF reader's
view of them): about 4× the request body, measured with ``bench/bench_intake.py``. Sixteen
SOAP threads taking 350 MB letters at once would need more memory than the machine has.
Each call with a large body therefore claims its estimated cost from a
:class:`MemoryBudget` before the body is parsed, and waits for room; one that finds none
within ``wait_seconds`` is answered 503 ``SERVER_BUSY`` (with Retry-After) and can be
retried. MTOM attachments are streamed to disk and do not count, only their root part.
A claim larger than the whole budget is cut down to it, so it runs, alone.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from gateway.errors import FaultCode, GatewayError

#: Memory a call needs per byte of inline request body (measured: see the module docstring).
INLINE_COST_FACTOR = 4
#: Bodies below this are not worth a claim (the budget is for the large ones).
CLAIM_THRESHOLD_BYTES = 1024 * 1024


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

    def claim(self, nbytes: int) -> Claim | None:
        """Reserve ``nbytes`` (None for a small call that needs no claim), waiting for room."""
        if nbytes < CLAIM_THRESHOLD_BYTES:
            return None
        nbytes = min(nbytes, self.total)
        deadline = time.monotonic() + self.wait_seconds
        with self._cond:
            while self.used + nbytes > self.total:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServerBusyError(
                        f"the gateway is busy with other large letters ({self.used // 2**20} of "
                        f"{self.total // 2**20} MiB in use); retry later",
                        code=FaultCode.SERVER_BUSY,
                    )
                self._cond.wait(left)
            self.used += nbytes
        return Claim(self, nbytes)

    def _release(self, nbytes: int) -> None:
        with self._cond:
            self.used -= nbytes
            self._cond.notify_all()
