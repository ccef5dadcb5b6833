"""The memory budget: large calls wait for room, time out as SERVER_BUSY, small ones pass."""
from __future__ import annotations

import threading
import time

import pytest

from gateway.admission import CLAIM_THRESHOLD_BYTES, MemoryBudget, ServerBusyError, parse_cost

MiB = 1024 * 1024


def test_small_calls_need_no_claim():
    budget = MemoryBudget(64 * MiB, wait_seconds=0)
    assert budget.claim(CLAIM_THRESHOLD_BYTES - 1) is None
    assert budget.used == 0


def test_a_claim_waits_for_room_and_gets_it_when_another_ends():
    budget = MemoryBudget(100 * MiB, wait_seconds=10)
    first = budget.claim(80 * MiB)
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(budget.claim(40 * MiB)))
    waiter.start()
    time.sleep(0.2)
    assert got == [] and budget.used == 80 * MiB  # still waiting
    first.release()
    waiter.join(5)
    assert got and budget.used == 40 * MiB
    got[0].release()
    assert budget.used == 0


def test_no_room_in_time_is_server_busy():
    budget = MemoryBudget(100 * MiB, wait_seconds=0.1)
    held = budget.claim(90 * MiB)
    with pytest.raises(ServerBusyError) as err:
        budget.claim(20 * MiB)
    assert err.value.code == "SERVER_BUSY" and err.value.info.http_status == 503
    held.release()


def test_a_claim_larger_than_the_budget_runs_alone():
    budget = MemoryBudget(100 * MiB, wait_seconds=0.1)
    alone = budget.claim(500 * MiB)
    assert budget.used == 100 * MiB
    with pytest.raises(ServerBusyError):
        budget.claim(2 * MiB)
    alone.release()
    budget.claim(2 * MiB).release()


def test_claims_are_served_in_order():
    """A large claim at the head of the queue is not overtaken by smaller ones that fit."""
    budget = MemoryBudget(100 * MiB, wait_seconds=5)
    first = budget.claim(30 * MiB)
    order: list[str] = []
    big = threading.Thread(target=lambda: (budget.claim(100 * MiB), order.append("big")))
    big.start()
    time.sleep(0.2)
    small = threading.Thread(target=lambda: (budget.claim(10 * MiB), order.append("small")))
    small.start()
    time.sleep(0.2)
    assert order == []  # the small one fits, but waits behind the big one
    first.release()
    big.join(5)
    assert order == ["big"]
    budget._release(100 * MiB)
    small.join(5)
    assert order == ["big", "small"]


def test_the_estimate_counts_tags():
    text = b"<m>" + b"a" * 1000 + b"</m>"
    tags = b"<m>" + b"<x/>" * 250 + b"</m>"
    assert parse_cost(tags) > 10 * parse_cost(text)
