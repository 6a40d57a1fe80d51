"""Erase what a citizen typed from the conversation store (Rasa's tracker store).

"xóa dữ liệu của tôi" cleared name and phone on the cases, but the conversation kept every
message as typed: a citizen who wrote "Nguyễn Văn A 0912345678" kept that line forever (issue
12). The citizen's right to erasure (Law 91/2025/QH15, Article 4 and Article 14) reaches every
copy; the conversation is one.

Rasa's SQL tracker store keeps one row per event in ``events`` (``sender_id``, ``type_name``,
``data`` as JSON). The rows are rewritten in place, never deleted: Rasa appends a turn's new
events by counting the rows it already has, so deleting rows would make it write the whole
conversation, personal data included, back at the end of the very turn that erased it.
Rewritten:

* every message the citizen sent: its text, the parsed text, the entities' values and the
  channel metadata (attachments' URLs);
* every message the assistant sent: its text (summaries and confirmations repeat name, phone
  and the case content);
* the personal slots of the intake form (content, place, name, phone, attachments) and the
  ward of a subscription being made.

The conversation's snapshot (``tracker_snapshots``, :mod:`bot.conversation.tracker_tail`: slot
values at a point of the conversation, kept so a turn need not read the whole conversation) is
deleted in the same transaction; the next turn rebuilds it from the rewritten events.

What stays is the shape of the conversation (intents, actions, timestamps), which holds nothing
about the person and keeps the analytics and the handoff history meaningful.

``./mttq retention`` applies the same to conversations whose last event is older than the
retention period.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

REDACTED = "[đã xóa theo yêu cầu bảo vệ dữ liệu cá nhân]"
#: Slots that hold what the citizen typed into the form or who they are.
PERSONAL_SLOTS = frozenset({
    "case_content", "case_location", "case_name", "case_phone", "case_attachments",
    "case_confirm", "sub_unit",
})


def redact_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with every personal field replaced (pure; unchanged for other events)."""
    kind = event.get("event")
    if kind == "user":
        event = {**event, "text": REDACTED, "metadata": {}}
        parse = event.get("parse_data")
        if isinstance(parse, dict):
            event["parse_data"] = {
                **parse, "text": REDACTED, "metadata": {},
                "entities": [{"entity": e.get("entity"), "value": REDACTED}
                             for e in parse.get("entities") or [] if isinstance(e, dict)],
            }
    elif kind == "bot":
        event = {**event, "text": REDACTED if event.get("text") else event.get("text")}
    elif kind == "slot" and event.get("name") in PERSONAL_SLOTS and event.get("value"):
        event = {**event, "value": None}
    return event


def _engine(url: str) -> Engine:
    return create_engine(url, future=True)


def _has_events(engine: Engine) -> bool:
    return bool(inspect(engine).has_table("events"))


def _rewrite(engine: Engine, where: str, params: dict[str, Any]) -> int:
    changed = 0
    snapshots = inspect(engine).has_table("tracker_snapshots")
    with engine.begin() as connection:
        if snapshots:
            connection.execute(text(f"DELETE FROM tracker_snapshots WHERE {where}"), params)
        rows = connection.execute(
            text(f"SELECT id, data FROM events WHERE {where}"), params).all()
        for row_id, data in rows:
            try:
                event = json.loads(data or "{}")
            except ValueError:
                continue
            redacted = redact_event(event)
            if redacted != event:
                connection.execute(text("UPDATE events SET data = :data WHERE id = :id"),
                                   {"data": json.dumps(redacted, ensure_ascii=False),
                                    "id": row_id})
                changed += 1
    return changed


def redact_conversation(url: str, sender_id: str) -> int:
    """Rewrite the personal fields of every stored event of ``sender_id``; the number of
    events changed (0 when the store holds nothing for them)."""
    engine = _engine(url)
    try:
        if not _has_events(engine):
            return 0
        return _rewrite(engine, "sender_id = :sender", {"sender": sender_id})
    finally:
        engine.dispose()


def redact_conversations_idle_since(url: str, cutoff_timestamp: float) -> tuple[int, int]:
    """Retention: redact every conversation whose last event is older than the cutoff (a Unix
    timestamp). Returns (conversations, events changed)."""
    engine = _engine(url)
    try:
        if not _has_events(engine):
            return 0, 0
        with engine.connect() as connection:
            senders = [row[0] for row in connection.execute(text(
                "SELECT sender_id FROM events GROUP BY sender_id "
                "HAVING MAX(timestamp) < :cutoff"), {"cutoff": cutoff_timestamp})]
        changed = 0
        for sender in senders:
            changed += _rewrite(engine, "sender_id = :sender", {"sender": sender})
        return len(senders), changed
    finally:
        engine.dispose()
