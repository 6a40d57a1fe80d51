"""What the messaging channels keep in the feedback DB (plain service: no Rasa, no HTTP).

* :func:`admit` records each incoming platform message id once (``seen_messages`` through
  :func:`bot.cases.inbound.record_seen_message`) and when that person last wrote, in one transaction, so
  a webhook answers 200 only once both are stored and a redelivery is recognised.
* :func:`last_inbound` feeds Facebook's window rules (24 hours; 7 days for a person's reply).
* :func:`set_options` / :func:`get_options`: the choices last offered as numbered text.
* :func:`load_token` / :func:`save_token`: the Zalo OA's access and refresh token, rotated on
  every refresh (a refresh token works once, so losing the new one would lock the OA out).

Every function takes an ``Engine`` and runs one short unit of work; the channels call them in a
worker thread (``asyncio.to_thread``) so the web server's event loop never waits on the DB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.cases.inbound import record_seen_message
from bot.channels.render import Choice
from bot.db.engine import session_scope
from bot.db.models import ChannelToken, ChannelUser
from bot.db.types import UTCDateTime, ensure_aware, utcnow

__all__ = [
    "OPTIONS_TTL",
    "Arrival",
    "StoredToken",
    "admit",
    "get_options",
    "last_inbound",
    "load_token",
    "mark_unfollowed",
    "save_token",
    "set_options",
]

#: Numbered choices older than this no longer turn a bare number into a payload.
OPTIONS_TTL = timedelta(hours=2)


@dataclass(frozen=True)
class Arrival:
    """One incoming platform event to record: its id, its sender, and the platform's time of it
    (``None`` for events that open no messaging window)."""

    message_id: str
    user_id: str
    at: datetime | None = None


@dataclass(frozen=True)
class StoredToken:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    seed_hash: str | None


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"channels store: unsupported database {dialect}")  # pragma: no cover


def _user(session: Session, channel: str, user_id: str) -> ChannelUser:
    """The row of ``(channel, user_id)``, created if missing (safe against a concurrent insert)."""
    session.execute(
        _insert(session, ChannelUser)
        .values(channel=channel, user_id=user_id, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["channel", "user_id"])
    )
    row: ChannelUser = session.execute(
        select(ChannelUser).where(ChannelUser.channel == channel, ChannelUser.user_id == user_id)
    ).scalar_one()
    return row


def _touch_inbound(session: Session, channel: str, user_id: str, at: datetime,
                   now: datetime) -> None:
    """``last_inbound_at = max(stored, at)`` (a late, older message moves nothing).

    Two small statements with bound parameters (cached once compiled): move the time forward if
    the row exists, else insert it (a concurrent insert of the same person is ignored)."""
    connection = session.connection()
    values = {"c": channel, "u": user_id, "at": at, "now": now}
    moved = connection.execute(_forward_statement(), values)
    if moved.rowcount:
        return
    dialect = connection.dialect.name
    connection.execute(_insert_user_statement(dialect), values)
    # Not inserted: the row exists with a time at least as recent, which is what we want.


@cache
def _forward_statement() -> Any:
    at = bindparam("at", type_=UTCDateTime)
    return (
        update(ChannelUser.__table__)
        .where(ChannelUser.channel == bindparam("c"), ChannelUser.user_id == bindparam("u"),
               or_(ChannelUser.last_inbound_at.is_(None), ChannelUser.last_inbound_at < at))
        .values(last_inbound_at=at, updated_at=bindparam("now", type_=UTCDateTime))
    )


@cache
def _insert_user_statement(dialect: str) -> Any:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(ChannelUser.__table__)
        .values(channel=bindparam("c"), user_id=bindparam("u"),
                last_inbound_at=bindparam("at", type_=UTCDateTime),
                updated_at=bindparam("now", type_=UTCDateTime))
        .on_conflict_do_nothing(index_elements=["channel", "user_id"])
    )


def admit(engine: Engine, channel: str, arrivals: Sequence[Arrival],
          now: datetime | None = None) -> list[bool]:
    """Record every arrival in one transaction; True for each one seen for the first time
    (False: a redelivery, also when the same id comes twice in ``arrivals``)."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    fresh: list[bool] = []
    with session_scope(engine) as session:
        for arrival in arrivals:
            new = record_seen_message(session, channel, arrival.message_id, now)
            fresh.append(new)
            if new and arrival.at is not None:
                at = min(ensure_aware(arrival.at, "at"), now)
                _touch_inbound(session, channel, arrival.user_id, at, now)
    return fresh


def last_inbound(engine: Engine, channel: str, user_id: str) -> datetime | None:
    """When ``user_id`` last wrote to us on ``channel`` (None: never, as far as we know)."""
    with session_scope(engine, read_only=True) as session:
        value: datetime | None = session.execute(
            select(ChannelUser.last_inbound_at).where(
                ChannelUser.channel == channel, ChannelUser.user_id == user_id
            )
        ).scalar_one_or_none()
        return value


def set_options(engine: Engine, channel: str, user_id: str,
                options: Sequence[Choice] | None, now: datetime | None = None) -> None:
    """Remember the choices just shown as numbered text (None or empty: forget them)."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    with session_scope(engine) as session:
        row = _user(session, channel, user_id)
        if options:
            row.options = [{"title": o.title, "payload": o.payload} for o in options]
            row.options_at = now
        else:
            row.options = None
            row.options_at = None
        row.updated_at = now


def get_options(engine: Engine, channel: str, user_id: str,
                now: datetime | None = None) -> list[Choice]:
    """The choices last shown to ``user_id`` as numbered text, if still fresh."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    with session_scope(engine, read_only=True) as session:
        found = session.execute(
            select(ChannelUser.options, ChannelUser.options_at).where(
                ChannelUser.channel == channel, ChannelUser.user_id == user_id
            )
        ).one_or_none()
    if found is None or not found.options or found.options_at is None:
        return []
    if now - found.options_at > OPTIONS_TTL:
        return []
    return [Choice(str(o.get("title") or ""), str(o.get("payload") or ""))
            for o in found.options if isinstance(o, dict)]


def mark_unfollowed(engine: Engine, channel: str, user_id: str, at: datetime | None = None) -> None:
    """Record that the person unfollowed (Zalo OA); nothing else happens."""
    at = ensure_aware(at, "at") if at is not None else utcnow()
    with session_scope(engine) as session:
        row = _user(session, channel, user_id)
        row.unfollowed_at = at
        row.updated_at = utcnow()


def load_token(engine: Engine, channel: str) -> StoredToken | None:
    with session_scope(engine, read_only=True) as session:
        row = session.get(ChannelToken, channel)
        if row is None:
            return None
        return StoredToken(row.access_token, row.refresh_token, row.expires_at, row.seed_hash)


def save_token(engine: Engine, channel: str, token: StoredToken) -> None:
    """Store ``token`` as the channel's current one (replacing the previous)."""
    with session_scope(engine) as session:
        row = session.get(ChannelToken, channel)
        if row is None:
            row = ChannelToken(channel=channel)
            session.add(row)
        row.access_token = token.access_token
        row.refresh_token = token.refresh_token
        row.expires_at = token.expires_at
        row.seed_hash = token.seed_hash
        row.updated_at = utcnow()
