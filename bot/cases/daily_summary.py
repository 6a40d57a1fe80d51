"""The morning summary each unit's Telegram group gets: what came in yesterday, what is open,
what is late, and (for the top units, who review it) what moderation is holding back.

Issue 12 asks that a mistaken refusal be seen: quarantined messages are counted in the console's
overview and here, so the officers who can restore one are reminded every morning. It is one
outbox row per unit and day, queued by the outbox worker's periodic scan after
:data:`SEND_AFTER` local time; a unique "seen" key per unit and day (the same table that
de-duplicates platform redeliveries) makes it once-only even with several workers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cases.inbound import record_seen_message
from bot.db.models import TERMINAL_STATUSES, Case, OutboxKind, Quarantine, Unit
from bot.db.types import ensure_aware, utcnow
from bot.delivery.outbox import enqueue

__all__ = ["SEND_AFTER", "DaySummary", "queue_daily_summaries", "summarise_unit"]

#: Local time after which the day's summary is queued by default (before the 08:00 start of
#: work); ``DAILY_SUMMARY_AT`` in :mod:`bot.settings` changes it or turns it off.
SEND_AFTER = time(7, 30)
_SEEN_CHANNEL = "daily-summary"


@dataclass(frozen=True)
class DaySummary:
    """Counts for one unit; ``quarantined`` is None for units that do not review moderation."""

    unit_code: str
    day: str  # ISO date of the day reported on (yesterday, local)
    received: int
    finished: int
    open: int
    overdue: int
    quarantined: int | None


def summarise_unit(session: Session, unit: Unit, day: date, tz: ZoneInfo,
                   now: datetime) -> DaySummary:
    """Yesterday's flow and today's backlog of the cases routed to ``unit`` itself."""
    start = datetime.combine(day, time(0), tz)
    end = start + timedelta(days=1)
    mine = Case.unit_code == unit.code
    unfinished = Case.status.not_in(list(TERMINAL_STATUSES))

    def count(*where: object) -> int:
        return int(session.execute(select(func.count(Case.id)).where(mine, *where)).scalar_one())

    quarantined = None
    if unit.parent_code is None:  # the top committee reviews what moderation held back
        quarantined = int(session.execute(
            select(func.count(Quarantine.id)).where(Quarantine.reviewed_by.is_(None))
        ).scalar_one())
    return DaySummary(
        unit_code=unit.code,
        day=day.isoformat(),
        received=count(Case.created_at >= start, Case.created_at < end),
        finished=count(Case.status.in_(list(TERMINAL_STATUSES)), Case.updated_at >= start,
                       Case.updated_at < end),
        open=count(unfinished),
        overdue=count(unfinished, Case.sla_due_at.is_not(None), Case.sla_due_at < now),
        quarantined=quarantined,
    )


def queue_daily_summaries(session: Session, *, tz: ZoneInfo, now: datetime | None = None,
                          at: time = SEND_AFTER) -> int:
    """Queue today's summary for every unit with a linked Telegram group, once; returns how many
    were queued now (0 before ``at``, local time, or when they already were)."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    local = now.astimezone(tz)
    if local.time() < at:
        return 0
    yesterday = local.date() - timedelta(days=1)
    units = session.execute(
        select(Unit).where(Unit.telegram_chat_id.is_not(None)).order_by(Unit.code)
    ).scalars().all()
    queued = 0
    for unit in units:
        if not record_seen_message(session, _SEEN_CHANNEL, f"{unit.code}:{local.date()}", now):
            continue
        summary = summarise_unit(session, unit, yesterday, tz, now)
        enqueue(session, OutboxKind.DAILY_SUMMARY, target=unit.code, payload=asdict(summary),
                now=now)
        queued += 1
    return queued
