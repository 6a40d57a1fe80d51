"""The database's copy of the unit tree: cases and staff reference units by code, so the
``units`` table follows the units file on every start-up (see :func:`sync_units`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from bot.db.models import Unit
from bot.knowledge.units import UnitTree

__all__ = ["UNITS_SYNC_LOCK_KEY", "SyncReport", "sync_units"]

@dataclass(frozen=True)
class SyncReport:
    added: int
    updated: int
    deactivated: int


#: ``pg_advisory_xact_lock`` key of :func:`sync_units` ("MTTQ" in ASCII, then 2; migrations use 1).
UNITS_SYNC_LOCK_KEY = 0x4D54_5451_0002


def sync_units(session: Session, tree: UnitTree) -> SyncReport:
    """Make the ``units`` table match ``tree`` (in the caller's transaction).

    Units missing from the file are deactivated, not deleted: old cases and staff refer to them.
    A ``telegram_chat_id`` in the database is kept unless the file sets one, because the staff
    group linking command writes it there.

    Every process syncs on start-up, and several start at once (replicas, the action server
    pool, the web service and the worker): on PostgreSQL a transaction-scoped advisory lock makes
    the second one wait and then find the rows the first inserted, instead of failing on the
    primary key. SQLite's ``BEGIN IMMEDIATE`` already serialises writers.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": UNITS_SYNC_LOCK_KEY})
    existing = {u.code: u for u in session.execute(select(Unit)).scalars()}
    added = updated = 0
    for info in tree:  # parents come before children, so foreign keys hold at every insert
        row = existing.get(info.code)
        values: dict[str, Any] = {
            "name": info.name,
            "short_name": info.short_name,
            "parent_code": info.parent_code,
            "level": info.level,
            "active": True,
        }
        if info.telegram_chat_id is not None:
            values["telegram_chat_id"] = info.telegram_chat_id
        if row is None:
            session.add(Unit(code=info.code, **values))
            session.flush()
            added += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            updated += 1
    deactivated = 0
    for code, row in existing.items():
        if code not in tree and row.active:
            row.active = False
            deactivated += 1
    session.flush()
    return SyncReport(added=added, updated=updated, deactivated=deactivated)
