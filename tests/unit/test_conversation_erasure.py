"""Issue 12, item 4: erasure and retention reach the conversation store, on SQLite and
PostgreSQL (``db_url``), through Rasa's own SQL tracker store schema."""

from __future__ import annotations

import json
import time

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot.conversation.erasure import (
    REDACTED,
    redact_conversation,
    redact_conversations_idle_since,
    redact_event,
)
from bot.conversation.rasa_stores import tracker_store_kwargs

PHONE, NAME = "0912345678", "Nguyễn Văn A"


def _store(url: str) -> SQLTrackerStore:
    return SQLTrackerStore(Domain.empty(), **tracker_store_kwargs(url))


async def _conversation(store: SQLTrackerStore, sender: str, at: float) -> None:
    tracker = DialogueStateTracker(sender, [])
    for event in (
        UserUttered(f"Tôi là {NAME} {PHONE}, cống ngõ 5 tắc",
                    {"name": "submit_petition", "confidence": 0.9},
                    [{"entity": "phone", "value": PHONE, "start": 13, "end": 23}],
                    timestamp=at),
        SlotSet("case_phone", PHONE, timestamp=at),
        SlotSet("case_kind", "petition", timestamp=at),
        BotUttered(f"Xác nhận: {NAME}, {PHONE}", timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ):
        tracker.update(event)
    await store.save(tracker)


def _rows(url: str, sender: str) -> list[str]:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            return [r[0] for r in connection.execute(
                text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender})]
    finally:
        engine.dispose()


def test_redact_event_keeps_the_shape_and_drops_the_person() -> None:
    user = {"event": "user", "text": f"{NAME} {PHONE}", "metadata": {"attachments": ["u"]},
            "parse_data": {"text": PHONE, "intent": {"name": "inform"},
                           "entities": [{"entity": "phone", "value": PHONE}]}}
    out = redact_event(user)
    assert PHONE not in json.dumps(out) and out["parse_data"]["intent"] == {"name": "inform"}
    assert redact_event({"event": "slot", "name": "case_kind", "value": "petition"})["value"] \
        == "petition"
    assert redact_event({"event": "slot", "name": "case_name", "value": NAME})["value"] is None


async def test_one_citizen_is_erased_others_untouched_and_rasa_appends_after(db_url: str) -> None:
    store = _store(db_url)
    await _conversation(store, "victim", time.time())
    await _conversation(store, "neighbour", time.time())
    changed = redact_conversation(db_url, "victim")
    assert changed == 3  # the user message, the phone slot, the bot's summary
    assert redact_conversation(db_url, "victim") == 0  # idempotent
    victim = "\n".join(_rows(db_url, "victim"))
    assert PHONE not in victim and NAME not in victim and REDACTED in victim
    assert PHONE in "\n".join(_rows(db_url, "neighbour"))
    # Rasa goes on appending to the same conversation, and never writes the old events back.
    tracker = await store.retrieve("victim")
    assert tracker is not None
    tracker.update(UserUttered("xin chào", {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)
    after = _rows(db_url, "victim")
    assert len(after) == 6 and PHONE not in "\n".join(after)
    assert json.loads(after[-1])["text"] == "xin chào"


async def test_retention_erases_idle_conversations_only(db_url: str) -> None:
    store = _store(db_url)
    await _conversation(store, "old", time.time() - 400 * 86_400)
    await _conversation(store, "recent", time.time())
    talks, events = redact_conversations_idle_since(db_url, time.time() - 365 * 86_400)
    assert (talks, events) == (1, 3)
    assert PHONE not in "\n".join(_rows(db_url, "old"))
    assert PHONE in "\n".join(_rows(db_url, "recent"))


def test_an_empty_store_is_nothing_to_erase(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert redact_conversation(url, "x") == 0
    assert redact_conversations_idle_since(url, time.time()) == (0, 0)
