"""The tracker store hands Rasa a bounded tail and still stores every event once (issue 14
item 3), on SQLite and PostgreSQL (``db_url``).

A long conversation is held turn by turn as Rasa holds it (retrieve, add the turn's events,
save), alternating between two store instances as two replicas would. After every turn the
bounded tracker must agree with the full one (slots, active loop and flags, latest message and
action), the stored events must be exactly the events of the conversation, in order, and no
prefix event may be stored. Erasure must reach the snapshot; a new session must not use it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot.conversation import tracker_tail
from bot.conversation.erasure import redact_conversation
from bot.conversation.rasa_stores import SettingsTrackerStore
from bot.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
NAME = "Nguyễn Văn A"


@pytest.fixture
def stores(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[SettingsTrackerStore]]:
    """Two store instances on one database: two replicas."""
    monkeypatch.setenv("TRACKER_STORE_URL", db_url)
    get_settings.cache_clear()
    domain = Domain.load(str(ROOT / "domain.yml"))
    made = [SettingsTrackerStore(domain=domain), SettingsTrackerStore(domain=domain)]
    get_settings.cache_clear()
    yield made
    for store in made:
        store.engine.dispose()


def _turns(events: list[Event]) -> list[list[Event]]:
    starts = [0, *tracker_tail.turn_starts(events), len(events)]
    return [events[a:b] for a, b in zip(starts, starts[1:], strict=False) if b > a]


def _stored(url: str, sender: str) -> list[dict[str, Any]]:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            return [
                json.loads(row[0])
                for row in connection.execute(
                    text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
                )
            ]
    finally:
        engine.dispose()


def _snapshots(url: str, sender: str) -> int:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT COUNT(*) FROM tracker_snapshots WHERE sender_id = :s"),
                    {"s": sender},
                ).scalar()
                or 0
            )
    finally:
        engine.dispose()


def _state(tracker: DialogueStateTracker) -> dict[str, Any]:
    loop = tracker.active_loop
    return {
        "slots": tracker.current_slot_values(),
        "loop": None if loop is None else (loop.name, loop.is_interrupted, loop.rejected),
        "message": (tracker.latest_message.text, tracker.latest_message.intent)
        if tracker.latest_message
        else None,
        "action": tracker.latest_action_name,
        "paused": tracker.is_paused(),
    }


async def _hold(
    stores: list[SettingsTrackerStore], sender: str, events: list[Event], url: str
) -> DialogueStateTracker:
    """Hold the conversation turn by turn; check store and tracker after every turn."""
    done: list[Event] = []
    tracker: DialogueStateTracker | None = None
    for n, turn in enumerate(_turns(events)):
        store = stores[n % len(stores)]
        tracker = await store.retrieve(sender)
        if tracker is None:
            tracker = DialogueStateTracker.from_events(sender, [], store.domain.slots)
        for event in turn:
            tracker.update(event)
        await store.save(tracker)
        done += turn
        bounded = await stores[(n + 1) % len(stores)].retrieve(sender)
        full = await store.retrieve_full_tracker(sender)
        assert bounded is not None and full is not None
        assert _state(bounded) == _state(full), n
        if n % 5 == 0:
            assert _stored(url, sender) == [e.as_dict() for e in done], n
    assert _stored(url, sender) == [e.as_dict() for e in done]
    assert tracker is not None
    return tracker


def test_a_long_conversation_is_stored_whole_and_read_as_a_tail(
    stores: list[SettingsTrackerStore], db_url: str
) -> None:
    import test_tracker_tail

    events = test_tracker_tail.long_conversation()
    asyncio.run(_hold(stores, "long", events, db_url))
    bounded = asyncio.run(stores[0].retrieve("long"))
    assert bounded is not None
    upto, prefix = tracker_tail.prefix_length(bounded.events)
    assert upto is not None and prefix > 0
    tail_turns = len(tracker_tail.turn_starts(list(bounded.events)[prefix:]))
    assert tail_turns <= tracker_tail.TAIL_TURNS + tracker_tail.TAIL_STEP
    assert len(bounded.events) < len(events) / 2
    assert _snapshots(db_url, "long") == 1


def _chat(turns: int, start: float = 1_700_000_000.0) -> list[Event]:
    events: list[Event] = [ActionExecuted("action_listen", timestamp=start)]
    for n in range(turns):
        at = start + 10 * (n + 1)
        events += [
            UserUttered(f"tin {n}", {"name": "greet", "confidence": 1.0}, timestamp=at),
            ActionExecuted("utter_greet", timestamp=at + 1),
            BotUttered(f"chào {n}", timestamp=at + 2),
        ]
        if n == 2:
            events.append(SlotSet("case_name", NAME, timestamp=at + 3))
        events.append(ActionExecuted("action_listen", timestamp=at + 4))
    return events


def test_erasure_reaches_the_snapshot(stores: list[SettingsTrackerStore], db_url: str) -> None:
    asyncio.run(_hold(stores[:1], "erase", _chat(45), db_url))
    before = asyncio.run(stores[0].retrieve("erase"))
    assert before is not None and tracker_tail.prefix_length(before.events)[0] is not None
    assert before.get_slot("case_name") == NAME  # from the prefix: set 40 turns ago
    assert _snapshots(db_url, "erase") == 1

    redact_conversation(db_url, "erase")
    assert _snapshots(db_url, "erase") == 0
    after = asyncio.run(stores[0].retrieve("erase"))
    assert after is not None and after.get_slot("case_name") is None
    assert NAME not in json.dumps([e.as_dict() for e in after.events], ensure_ascii=False)


def test_a_new_session_does_not_use_the_old_snapshot(
    stores: list[SettingsTrackerStore], db_url: str
) -> None:
    events = _chat(45)
    later = events[-1].timestamp + 10_000
    events += [
        ActionExecuted("action_session_start", timestamp=later),
        SessionStarted(timestamp=later),
        SlotSet("case_name", NAME, timestamp=later),
        ActionExecuted("action_listen", timestamp=later),
        UserUttered("lại là tôi", {"name": "greet", "confidence": 1.0}, timestamp=later + 1),
        ActionExecuted("utter_greet", timestamp=later + 2),
        ActionExecuted("action_listen", timestamp=later + 3),
    ]
    asyncio.run(_hold(stores, "session", events, db_url))
    tracker = asyncio.run(stores[1].retrieve("session"))
    assert tracker is not None
    assert tracker_tail.prefix_length(tracker.events) == (None, 0)
    assert [e.type_name for e in tracker.events][:2] == ["action", "session_started"]
    assert tracker.get_slot("case_name") == NAME
