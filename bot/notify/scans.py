"""The outbox worker's periodic scans: they queue rows; the worker (:mod:`bot.notify.outbox`)
delivers them.

:func:`scan_overdue` queues one notice per missed deadline; :func:`scan_once` is what the worker's
loop runs every ``overdue_interval``: that scan, the bodies' answers due soon or late, the morning
summaries and Monday's digest, and forgetting message ids no platform will redeliver, each step
committing on its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import TERMINAL_STATUSES, Case, OutboxKind, OverdueNotice
from bot.db.types import ensure_aware, utcnow
from bot.delivery.outbox import enqueue

if TYPE_CHECKING:
    from bot.notify.outbox import SessionFactory

__all__ = ["scan_once", "scan_overdue"]


def scan_overdue(session: Session, *, now: datetime | None = None, limit: int = 500) -> int:
    """Queue one ``overdue`` notification per open case and missed deadline; returns how many.

    A case is overdue when it is not finished and its ``sla_due_at`` has passed. The unique
    ``overdue_notices (case_id, due_at)`` row makes the notification once-only even when two
    scanners run at once; a case given a new deadline (e.g. transferred) can be notified again
    when that one passes too.
    """
    now = ensure_aware(now, "now") if now is not None else utcnow()
    due = session.execute(
        select(Case.id, Case.ref_code, Case.unit_code, Case.sla_due_at)
        .outerjoin(
            OverdueNotice,
            (OverdueNotice.case_id == Case.id) & (OverdueNotice.due_at == Case.sla_due_at),
        )
        .where(
            Case.sla_due_at.is_not(None),
            Case.sla_due_at <= now,
            Case.status.notin_([s.value for s in TERMINAL_STATUSES]),
            OverdueNotice.id.is_(None),
        )
        .order_by(Case.sla_due_at, Case.id)
        .limit(limit)
    ).all()
    queued = 0
    for case_id, ref_code, unit_code, due_at in due:
        try:
            with session.begin_nested():
                notice = OverdueNotice(case_id=case_id, due_at=due_at, created_at=now)
                session.add(notice)
                session.flush()
                row = enqueue(
                    session,
                    OutboxKind.OVERDUE,
                    case_id=case_id,
                    target=unit_code,
                    payload={
                        "case_id": case_id,
                        "ref_code": ref_code,
                        "unit_code": unit_code,
                        "due_at": due_at.isoformat(),
                    },
                    now=now,
                )
                notice.outbox_id = row.id
                session.flush()
        except IntegrityError:
            continue  # another scanner queued it first
        queued += 1
    return queued


def scan_once(factory: SessionFactory) -> int:
    """The periodic scans: missed deadlines, bodies' answers due soon or late (issue 17), morning
    summaries (Mondays: the digest), and forgetting message ids no platform will redeliver."""
    from zoneinfo import ZoneInfo

    from bot.cases.daily_summary import queue_daily_summaries
    from bot.cases.follow_up import scan_follow_ups
    from bot.cases.inbound import prune_seen_messages
    from bot.cases.weekly_digest import queue_weekly_digests
    from bot.settings import daily_summary_at, get_settings, seen_messages_days, weekly_digest_at

    with factory() as session:
        queued = scan_overdue(session)
    with factory() as session:
        queued += scan_follow_ups(session)
    with factory() as session:
        prune_seen_messages(session, utcnow() - timedelta(days=seen_messages_days()))
    at = daily_summary_at()
    if at is not None:
        with factory() as session:
            queued += queue_daily_summaries(session, tz=ZoneInfo(get_settings().timezone), at=at)
    weekly = weekly_digest_at()
    if weekly is not None:
        with factory() as session:
            queued += queue_weekly_digests(session, tz=ZoneInfo(get_settings().timezone), at=weekly)
    return queued
