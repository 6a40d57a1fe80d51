"""Incoming messages before they can become cases: platform redelivery dedupe, quarantine.

Separate from filing because neither touches a case: the channels and the Telegram bot drop a
redelivered message with :func:`record_seen_message`, and moderation holds a stopped message with
:func:`quarantine` until a person turns it into a case or discards it
(``bot.moderation.quarantine_review``). Like ``bot.cases.service``, every function takes the
caller's ``Session`` and never commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Quarantine, SeenMessage
from bot.db.types import ensure_aware, utcnow

__all__ = ["prune_seen_messages", "quarantine", "record_seen_message"]


def record_seen_message(
    session: Session, channel: str, message_id: str, now: datetime | None = None
) -> bool:
    """Remember a platform message id; False if it was already seen (a redelivery).

    Relies on the unique (channel, message_id) constraint with ``ON CONFLICT DO NOTHING``, so two
    workers handling the same redelivery at once cannot both get True.
    """
    now = ensure_aware(now, "now") if now is not None else utcnow()
    values = {"channel": channel, "message_id": message_id, "seen_at": now}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = (
            postgresql.insert(SeenMessage)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["channel", "message_id"])
        )
    elif dialect == "sqlite":
        stmt = (
            sqlite.insert(SeenMessage)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["channel", "message_id"])
        )
    else:  # pragma: no cover - other databases: let the constraint fail inside a savepoint
        try:
            with session.begin_nested():
                session.add(SeenMessage(**values))
            return True
        except IntegrityError:
            return False
    return bool(session.execute(stmt).rowcount == 1)


def prune_seen_messages(session: Session, older_than: datetime) -> int:
    """Forget message ids seen before ``older_than`` (platforms redeliver within hours)."""
    result = session.execute(
        delete(SeenMessage).where(SeenMessage.seen_at < ensure_aware(older_than, "older_than"))
    )
    return int(result.rowcount)


def quarantine(
    session: Session,
    *,
    channel: str,
    channel_user_id: str,
    text: str,
    reason: str,
    category: str | None = None,
    now: datetime | None = None,
) -> int:
    """Hold a message that moderation stopped, exactly as typed, for a person to review."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    row = Quarantine(
        channel=channel,
        channel_user_id=channel_user_id,
        text=text,
        category=category,
        reason=reason,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return int(row.id)
