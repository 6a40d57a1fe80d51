"""Concurrent messages of one conversation on two Rasa replicas: no event lost with our lock store.

Two replicas share one PostgreSQL tracker store (a fresh database) and one Redis; 40
conversations each send 6 messages in 3 rounds, the 2 messages of a round at the same instant,
one to each replica (``bench/lock_store.py`` does the work; the benchmark prints the same
figures). Every message carries a tag in its metadata, and the tracker store is read back.

* ours (``LOCK_STORE_URL=redis://…`` → ``bot.conversation.redis_lock.RedisMutexLockStore``): every message is
  stored exactly once, rounds in order, turns never overlap;
* stock (``lock_store: {type: redis}``, Rasa 3.6's ``RedisLockStore``): loses messages
  (RasaHQ/rasa#9213). Measured with this plan on the 2-core development machine: every one of 9
  passes lost messages, 3 to 11 of 240. The test runs up to 4 passes and stops at the first
  loss, so one pass that happens to lose nothing does not fail it; it shows the comparison is
  real, i.e. that the "ours" half would catch a lock store that is not atomic.

Each half starts its two replicas once (ready in 20–56 s in the runs measured here; the whole
module took 60 s). Skipped locally when PostgreSQL or Redis is unreachable; under ``CI`` that
fails instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from trained_model import trained_model

from bench import backends
from bench.lock_store import LockRun, Plan, run_config

pytestmark = pytest.mark.slow

PLAN = Plan(conversations=40, messages=6, burst=2, parallel=20, repeats=1)
STOCK_PASSES = 4


@pytest.fixture(scope="module", autouse=True)
def _backends() -> None:
    problem = backends.backends_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem} (CI is set, so the lock store test must run)")
    pytest.skip(problem)


def _describe(run: LockRun, logs: Path) -> str:
    return "; ".join(
        f"pass {n + 1}: sent {p.sent}, answered {p.answered}, stored {p.stored}, lost {p.lost}, "
        f"duplicated {p.duplicated}, out of order {p.out_of_order}, interleaved {p.interleaved} "
        f"{p.examples[:3]}"
        for n, p in enumerate(run.passes)
    ) + f" (logs: {logs})"


def test_our_lock_store_loses_no_event_on_two_replicas(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    run = run_config("ours", trained_model(), PLAN, tmp_path, log_dir=logs, progress=print)
    (p,) = run.passes
    detail = _describe(run, logs)
    assert (p.sent, p.answered, p.errors, p.empty_replies) == (240, 240, 0, 0), detail
    assert p.stored == p.sent, detail
    assert (p.lost, p.duplicated, p.unexpected, p.out_of_order, p.interleaved) == (0,) * 5, detail


def test_stock_redis_lock_store_loses_events_on_two_replicas(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    plan = Plan(
        PLAN.conversations, PLAN.messages, PLAN.burst, PLAN.parallel, repeats=STOCK_PASSES
    )
    run = run_config(
        "stock", trained_model(), plan, tmp_path, log_dir=logs, until_loss=True, progress=print
    )
    assert run.total("lost") >= 1, (
        f"Rasa's RedisLockStore lost nothing in {len(run.passes)} passes: the load does not "
        f"make replicas race, so the test of our lock store proves little. {_describe(run, logs)}"
    )
