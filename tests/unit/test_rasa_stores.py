"""Tracker and lock stores chosen by configuration alone, and the Redis mutex lock store."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import read_endpoint_config

from bot.settings import ROOT, get_settings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} unreachable under CI: {error}")
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {error}")


def test_endpoints_file_gives_a_sql_tracker_store_on_sqlite(rasa_env, tmp_path: Path) -> None:
    """Rasa falls back to an in-memory store when a custom class fails to import: not here."""
    from bot.conversation.rasa_stores import SettingsTrackerStore

    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    store = TrackerStore.create(config, Domain.empty())
    inner = getattr(store, "_tracker_store", store)
    assert isinstance(inner, SettingsTrackerStore)
    assert (tmp_path / "tracker.db").exists()


def test_lock_store_is_in_process_by_default(rasa_env) -> None:
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "lock_store")
    assert isinstance(LockStore.create(config), InMemoryLockStore)


def test_lock_store_is_the_redis_mutex_with_a_redis_url(rasa_env) -> None:
    _redis_or_skip()
    from bot.conversation.redis_lock import RedisMutexLockStore

    rasa_env.setenv("LOCK_STORE_URL", REDIS_URL)
    get_settings.cache_clear()
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "lock_store")
    assert isinstance(LockStore.create(config), RedisMutexLockStore)


def test_bad_lock_store_url_is_a_clear_error(rasa_env) -> None:
    rasa_env.setenv("LOCK_STORE_URL", "memcached://x")
    get_settings.cache_clear()
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "lock_store")
    with pytest.raises(Exception, match="LOCK_STORE_URL must be empty or a redis"):
        LockStore.create(config)


async def test_redis_mutex_serialises_two_stores_on_one_conversation() -> None:
    """Two store instances (two replicas) never hold one conversation at the same time."""
    _redis_or_skip()
    from bot.conversation.redis_lock import RedisMutexLockStore

    first, second = RedisMutexLockStore(REDIS_URL), RedisMutexLockStore(REDIS_URL)
    conversation = f"test-{os.getpid()}"
    first.delete_lock(conversation)
    inside = 0
    overlaps = 0
    order: list[int] = []

    async def turn(store: RedisMutexLockStore, n: int) -> None:
        nonlocal inside, overlaps
        async with store.lock(conversation, lock_lifetime=10):
            inside += 1
            overlaps += inside > 1
            await asyncio.sleep(0.01)
            order.append(n)
            inside -= 1

    await asyncio.gather(*(turn(first if n % 2 else second, n) for n in range(20)))
    assert overlaps == 0 and sorted(order) == list(range(20))


async def test_redis_mutex_released_only_by_its_holder() -> None:
    _redis_or_skip()
    from bot.conversation.redis_lock import RedisMutexLockStore

    store = RedisMutexLockStore(REDIS_URL)
    conversation = f"test-expire-{os.getpid()}"
    store.delete_lock(conversation)
    assert store.try_acquire(conversation, "a", lifetime=0.05)
    await asyncio.sleep(0.1)  # expired: someone else may take it
    assert store.try_acquire(conversation, "b", lifetime=5)
    assert not store.release(conversation, "a")  # the late first holder must not free b's lock
    assert store.release(conversation, "b")


async def test_a_finished_turn_survives_redis_going_away_before_release(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The turn is stored by the time the lock is released: losing Redis then must not turn
    it into an error (the citizen would be told to retry a petition that was saved)."""
    _redis_or_skip()
    import redis

    from bot.conversation.redis_lock import RedisMutexLockStore

    store = RedisMutexLockStore(REDIS_URL)
    conversation = f"test-release-{os.getpid()}"
    store.delete_lock(conversation)

    def redis_gone(*args: object, **kwargs: object) -> bool:
        raise redis.ConnectionError("Connection refused")

    finished = False
    async with store.lock(conversation, lock_lifetime=1):
        store.release = redis_gone  # type: ignore[method-assign]
        finished = True
    assert finished
    assert "expires within" in caplog.text


async def test_no_turn_starts_without_a_lock_when_redis_is_away() -> None:
    """Without Redis there is no Redis mutex: after waiting ``outage_wait`` the turn runs under
    the fallback lock (issue 14: a blink must not fail the message), never unlocked — two turns
    of one conversation still run one after the other."""
    from bot.conversation.redis_lock import RedisMutexLockStore

    store = RedisMutexLockStore("redis://127.0.0.1:1/0", outage_wait=0.2,
                                fallback_url="sqlite://")  # nothing listens there
    running = 0
    overlaps = 0

    async def turn() -> None:
        nonlocal running, overlaps
        async with store.lock("anyone", lock_lifetime=1):
            running += 1
            overlaps += running > 1
            await asyncio.sleep(0.05)
            running -= 1

    await asyncio.gather(turn(), turn())
    assert overlaps == 0 and store._fallback is not None


async def test_a_long_turn_keeps_its_lock_and_a_dead_holder_frees_it_within_a_lease() -> None:
    _redis_or_skip()
    from bot.conversation.redis_lock import RedisMutexLockStore

    store = RedisMutexLockStore(REDIS_URL, lease=0.3)
    other = RedisMutexLockStore(REDIS_URL, lease=0.3)
    conversation = f"test-lease-{os.getpid()}"
    store.delete_lock(conversation)
    async with store.lock(conversation, lock_lifetime=60):
        await asyncio.sleep(0.8)  # well past one lease: renewed, still ours
        assert not other.try_acquire(conversation, "intruder", lifetime=5)
    # A holder that dies never releases: its hold lapses after one lease, not Rasa's 60 s.
    assert store.try_acquire(conversation, "crashed", lifetime=0.3)
    await asyncio.sleep(0.4)
    assert other.try_acquire(conversation, "next", lifetime=5)
    assert other.release(conversation, "next")


def test_a_starting_store_waits_for_its_database_then_gives_up(monkeypatch) -> None:
    """A replica restarted while PostgreSQL restarts waits for it instead of dying at start-up."""
    from sqlalchemy.exc import OperationalError

    from bot.conversation import rasa_stores

    monkeypatch.setattr(rasa_stores.time, "sleep", lambda _s: None)
    calls: list[int] = []

    def shutting_down_twice() -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise OperationalError("create", {}, Exception("the database system is shutting down"))

    rasa_stores._wait_for_database(shutting_down_twice, wait=60)
    assert len(calls) == 3

    def always_down() -> None:
        raise OperationalError("create", {}, Exception("connection refused"))

    with pytest.raises(OperationalError):
        rasa_stores._wait_for_database(always_down, wait=0)
