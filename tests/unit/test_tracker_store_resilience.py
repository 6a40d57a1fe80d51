"""SettingsTrackerStore: SQLite tuning, retries through a database outage, failing loudly."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.conversation import rasa_stores
from bot.conversation.rasa_stores import SettingsTrackerStore, TrackerStoreUnavailable
from bot.settings import get_settings


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SettingsTrackerStore:
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    get_settings.cache_clear()
    try:
        return SettingsTrackerStore(domain=Domain.empty())
    finally:
        get_settings.cache_clear()


def _tracker(sender: str, *texts: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, [])
    for text in texts:
        tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    return tracker


def _outage(times: int) -> Any:
    """A replacement for a store method that fails ``times`` times like a dropped database."""
    calls = {"n": 0}

    async def flaky(self: Any, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= times:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return None

    return flaky, calls


def test_sqlite_runs_in_wal_mode(store: SettingsTrackerStore, tmp_path: Path) -> None:
    asyncio.run(store.save(_tracker("a", "xin chào")))
    with sqlite3.connect(tmp_path / "tracker.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = asyncio.run(store.retrieve("a"))
    assert again is not None and again.latest_message.text == "xin chào"


def test_a_short_outage_is_retried(
    store: SettingsTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky, calls = _outage(times=2)
    # retrieve reads through _retrieve_tail (the bounded tail, bot/conversation/tracker_tail.py)
    monkeypatch.setattr(SettingsTrackerStore, "_retrieve_tail", flaky)
    monkeypatch.setattr(rasa_stores, "_RETRY_DELAYS", (0.01, 0.01, 0.01))
    assert asyncio.run(store.retrieve("a")) is None
    assert calls["n"] == 3


def test_a_long_outage_fails_within_the_retry_window(
    store: SettingsTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky, calls = _outage(times=1000)
    monkeypatch.setattr(SettingsTrackerStore, "_save_and_publish", flaky)
    monkeypatch.setattr(rasa_stores, "_RETRY_DELAYS", (0.05, 0.05, 0.05))
    started = time.monotonic()
    with pytest.raises(TrackerStoreUnavailable, match="save"):
        asyncio.run(store.save(_tracker("a", "x")))
    assert calls["n"] == 4  # first try + three retries
    assert time.monotonic() - started < rasa_stores.RETRY_SECONDS


def test_sql_errors_that_are_not_outages_are_not_retried(
    store: SettingsTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}

    async def broken(self: Any, *args: Any) -> Any:
        calls["n"] += 1
        raise ProgrammingError("SELECT nonsense", {}, Exception("syntax error"))

    monkeypatch.setattr(SettingsTrackerStore, "_retrieve_tail", broken)
    with pytest.raises(ProgrammingError):
        asyncio.run(store.retrieve("a"))
    assert calls["n"] == 1


def test_save_twice_stores_each_event_once(store: SettingsTrackerStore) -> None:
    """A retried save (commit acknowledged late) must not duplicate events."""
    tracker = _tracker("b", "một", "hai")
    asyncio.run(store.save(tracker))
    asyncio.run(store.save(tracker))
    again = asyncio.run(store.retrieve("b"))
    assert again is not None
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["một", "hai"]


class _Broker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)


def test_new_events_are_published_once_without_reading_the_conversation_again(
    store: SettingsTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = _Broker()
    store.event_broker = broker  # type: ignore[assignment]
    tracker = _tracker("c", "một")
    asyncio.run(store.save(tracker))
    tracker.update(UserUttered("hai", {"name": "greet", "confidence": 1.0}))

    async def no_reads(self: Any, *args: Any) -> Any:
        raise AssertionError("save must not retrieve the conversation")

    monkeypatch.setattr(SQLTrackerStore, "retrieve", no_reads)
    asyncio.run(store.save(tracker))
    asyncio.run(store.save(tracker))  # nothing new: nothing published
    texts = [e.get("text") for e in broker.published if e["event"] == "user"]
    assert texts == ["một", "hai"]
    assert all(e["sender_id"] == "c" for e in broker.published)


def test_rasa_wrapper_lets_our_failures_through(
    store: SettingsTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rasa wraps every store in FailSafeTrackerStore, which would swallow the outage and go on
    with an empty in-memory conversation; for our store the error must reach the channel."""
    wrapped = Agent._create_tracker_store(store, Domain.empty())

    async def down(self: Any, *args: Any) -> Any:
        raise TrackerStoreUnavailable("conversation database unreachable")

    monkeypatch.setattr(SettingsTrackerStore, "retrieve", down)
    monkeypatch.setattr(SettingsTrackerStore, "save", down)
    with pytest.raises(TrackerStoreUnavailable):
        asyncio.run(wrapped.retrieve("a"))
    with pytest.raises(TrackerStoreUnavailable):
        asyncio.run(wrapped.save(_tracker("a", "x")))


def test_other_stores_keep_rasas_behaviour() -> None:
    from rasa.core.tracker_store import InMemoryTrackerStore

    inner = InMemoryTrackerStore(Domain.empty())
    wrapped = Agent._create_tracker_store(inner, Domain.empty())
    assert getattr(wrapped, "_on_tracker_store_error", None) is None
