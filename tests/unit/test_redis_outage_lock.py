"""Issue 14 item 2: a turn whose Redis is briefly away waits for it; a Redis that stays away
gives way to a lock that still serialises a conversation (PostgreSQL advisory locks across
replicas, or this process). Nothing answers "please resend"."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from bot.conversation.fallback_lock import FallbackLocks, advisory_key
from bot.conversation.redis_lock import RedisMutexLockStore
from tests.conftest import PG_URL, _postgres_problem


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _need_postgres() -> None:
    problem = _postgres_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem} (CI is set, so the PostgreSQL fallback must be tested)")
    pytest.skip(problem)


@pytest.fixture
def redis_later() -> Iterator[tuple[str, subprocess.Popen[bytes] | None]]:
    """A Redis URL whose server is not running yet; the test starts it (``start``)."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (CI is set)")
        pytest.skip("redis-server is not installed")
    port = _free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    try:
        yield f"redis://127.0.0.1:{port}/0", start  # type: ignore[misc]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


async def _turns(store: RedisMutexLockStore, conversation: str, n: int,
                 hold: float) -> list[tuple[float, float]]:
    """``n`` concurrent turns of one conversation; the (start, end) of each, as held."""
    spans: list[tuple[float, float]] = []

    async def turn() -> None:
        async with store.lock(conversation):
            started = time.monotonic()
            await asyncio.sleep(hold)
            spans.append((started, time.monotonic()))

    await asyncio.gather(*(turn() for _ in range(n)))
    return sorted(spans)


def _overlap(spans: list[tuple[float, float]]) -> bool:
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))


async def test_a_turn_waits_for_redis_to_come_back(redis_later) -> None:  # type: ignore[no-untyped-def]
    url, start = redis_later
    store = RedisMutexLockStore(url, outage_wait=15, fallback_url="sqlite://")
    loop = asyncio.get_running_loop()
    loop.call_later(1.0, start)  # Redis restarts a second after the message arrives
    began = time.monotonic()
    async with store.lock("conv-blink"):
        waited = time.monotonic() - began
        assert store.red.exists("mttq:lock:conv-blink")  # the Redis mutex, not the fallback
    assert 0.9 <= waited < 15
    assert store._fallback is None


async def test_redis_away_for_good_serialises_turns_on_postgresql() -> None:
    _need_postgres()
    url = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    replica_a = RedisMutexLockStore(url, outage_wait=0.3, fallback_url=PG_URL)
    replica_b = RedisMutexLockStore(url, outage_wait=0.3, fallback_url=PG_URL)
    spans: list[tuple[float, float]] = []

    async def turn(store: RedisMutexLockStore, conversation: str) -> None:
        async with store.lock(conversation):
            started = time.monotonic()
            await asyncio.sleep(0.3)
            spans.append((started, time.monotonic()))

    # Two replicas, one conversation: one after the other. Another conversation runs alongside.
    other: list[float] = []

    async def other_turn() -> None:
        async with replica_b.lock("conv-other"):
            other.append(time.monotonic())
            await asyncio.sleep(0.3)

    began = time.monotonic()
    await asyncio.gather(turn(replica_a, "conv-1"), turn(replica_b, "conv-1"), other_turn())
    assert replica_a._fallback is not None and replica_a._fallback.shared
    assert not _overlap(sorted(spans))
    assert other[0] - began < 1.5  # not queued behind conv-1's turns


async def test_without_postgresql_the_fallback_serialises_within_the_process() -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0"
    store = RedisMutexLockStore(url, outage_wait=0.2, fallback_url="sqlite:///unused.db")
    spans = await _turns(store, "conv-2", 3, hold=0.1)
    assert store._fallback is not None and not store._fallback.shared
    assert len(spans) == 3 and not _overlap(spans)


def test_advisory_keys_are_stable_signed_64_bit_and_distinct() -> None:
    keys = {advisory_key(f"conv-{i}") for i in range(1000)}
    assert len(keys) == 1000
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert advisory_key("conv-1") == advisory_key("conv-1")
    assert FallbackLocks("sqlite://").shared is False
