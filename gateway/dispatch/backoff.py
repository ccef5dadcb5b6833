"""Retry timing: exponential backoff with jitter."""
from __future__ import annotations

import random


def backoff_seconds(attempt: int, *, base: float, cap: float, rng: random.Random, retry_after: float | None = None) -> float:
    """Delay before attempt ``attempt + 1``: base·2^(attempt-1), capped, with "equal jitter"
    (half fixed, half random) so a crowd of retries spreads out; never below ``retry_after``."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    return max(delay, retry_after or 0.0)
