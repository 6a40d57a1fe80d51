"""A channel message whose turn meets a store outage is tried again, not dropped.

Facebook and Zalo get their 200 before the turn runs, so a turn that fails because Redis or the
conversation database is away would otherwise lose the citizen's message.
"""

from __future__ import annotations

import asyncio

import pytest
import redis
from rasa.core.lock_store import LockError

from bot.channels import pipeline
from bot.channels.pipeline import ConversationQueues, is_store_outage, run_retrying_outages
from bot.conversation.rasa_stores import TrackerStoreUnavailable


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "OUTAGE_RETRY_DELAYS", (0.01, 0.01, 0.01))


def test_outages_are_told_apart_from_bad_turns() -> None:
    assert is_store_outage(LockError("no lock"))
    assert is_store_outage(TrackerStoreUnavailable("db away"))
    assert is_store_outage(redis.ConnectionError("refused"))
    assert not is_store_outage(ValueError("a bug"))


def test_a_turn_is_run_again_after_an_outage() -> None:
    calls: list[int] = []

    async def turn() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise redis.ConnectionError("Connection refused")

    asyncio.run(run_retrying_outages("c", turn))
    assert len(calls) == 3


def test_a_bug_is_not_retried_and_a_long_outage_gives_up() -> None:
    calls: list[int] = []

    async def buggy() -> None:
        calls.append(1)
        raise ValueError("bug")

    with pytest.raises(ValueError):
        asyncio.run(run_retrying_outages("c", buggy))
    assert len(calls) == 1

    async def down() -> None:
        calls.append(1)
        raise LockError("no lock")

    with pytest.raises(LockError):
        asyncio.run(run_retrying_outages("c", down))
    assert len(calls) == 1 + 4  # first try + three retries


def test_the_queue_keeps_the_order_while_it_retries() -> None:
    done: list[str] = []
    failures = {"first": 2}

    def job(name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            if failures.get(name, 0) > 0:
                failures[name] -= 1
                raise TrackerStoreUnavailable("db away")
            done.append(name)

        return run

    async def main() -> None:
        queues = ConversationQueues(limit=2)
        for name in ("first", "second"):
            queues.submit("conversation", job(name)).set_result(True)
        await queues.join(timeout=5)

    asyncio.run(main())
    assert done == ["first", "second"]
