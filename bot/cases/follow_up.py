"""Reminders about forwarded cases whose body has not answered (issue 17 items 2 and 3).

The outbox worker's periodic scan (``bot.notify.scans.scan_once``) calls
:func:`scan_follow_ups`, next to the working-hours overdue scan. For every forwarding still
waiting for the body's answer on an unfinished case it queues at most two ``follow_up`` rows
for the unit's Telegram group, naming the officer in charge:

* ``soon`` — from ``LEGAL_WARN_WORKING_DAYS`` working days (content/calendar.yml) before the
  answer is due;
* ``late`` — the day after the due day, when the answer is late.

Each is once-only, like ``overdue_notices``: the row's ``warned_at`` / ``late_at`` is set by an
``UPDATE … WHERE … IS NULL`` that only one scanner can win. The payload holds ids, the body's
name, the reference, the due day and the assignee's id — never the citizen's name, phone or
channel id, whatever the case's legal type (a tố cáo's sender is protected by law).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.cases.forwarding import local_today
from bot.cases.sla import WorkingCalendar, load_calendar
from bot.db.models import TERMINAL_STATUSES, Case, CaseForwarding, OutboxKind
from bot.db.types import ensure_aware, utcnow
from bot.delivery.outbox import enqueue

__all__ = ["LATE", "SOON", "scan_follow_ups", "warn_from"]

SOON, LATE = "soon", "late"


def warn_from(due_on: date, working_days: int, calendar: WorkingCalendar) -> date:
    """The first day of the warning: ``working_days`` working days before ``due_on``."""
    day, counted = due_on, 0
    while counted < working_days:
        day -= timedelta(days=1)
        counted += calendar.is_working_day(day)
    return day


def _claim(session: Session, row_id: int, column: str, now: datetime) -> bool:
    stamp = getattr(CaseForwarding, column)
    result = session.execute(
        update(CaseForwarding)
        .where(CaseForwarding.id == row_id, stamp.is_(None))
        .values({column: now})
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


def scan_follow_ups(
    session: Session,
    *,
    now: datetime | None = None,
    warn_working_days: int | None = None,
    calendar: WorkingCalendar | None = None,
    limit: int = 500,
) -> int:
    """Queue the ``soon`` and ``late`` reminders that are due; returns how many were queued."""
    from bot.settings import legal_warn_working_days

    now = ensure_aware(now, "now") if now is not None else utcnow()
    calendar = calendar or load_calendar()
    days = legal_warn_working_days() if warn_working_days is None else warn_working_days
    today = local_today(now, calendar)
    rows = session.execute(
        select(CaseForwarding, Case.ref_code, Case.unit_code, Case.assignee_id)
        .join(Case, Case.id == CaseForwarding.case_id)
        .where(
            CaseForwarding.answered_on.is_(None),
            CaseForwarding.answer_due_on.is_not(None),
            CaseForwarding.late_at.is_(None),
            Case.status.notin_([s.value for s in TERMINAL_STATUSES]),
        )
        .order_by(CaseForwarding.answer_due_on, CaseForwarding.id)
        .limit(limit)
    ).all()
    queued = 0
    for forwarding, ref_code, unit_code, assignee_id in rows:
        due_on: date = forwarding.answer_due_on
        if today > due_on:
            stage, column = LATE, "late_at"
        elif (
            forwarding.warned_at is None and days > 0 and today >= warn_from(due_on, days, calendar)
        ):
            stage, column = SOON, "warned_at"
        else:
            continue
        with session.begin_nested():
            if not _claim(session, forwarding.id, column, now):
                continue  # another scanner sent it
            enqueue(
                session,
                OutboxKind.FOLLOW_UP,
                case_id=forwarding.case_id,
                target=unit_code,
                payload={
                    "case_id": forwarding.case_id,
                    "ref_code": ref_code,
                    "unit_code": unit_code,
                    "forwarding_id": forwarding.id,
                    "body_name": forwarding.body_name,
                    "reference": forwarding.reference,
                    "due_on": due_on.isoformat(),
                    "basis": forwarding.due_basis,
                    "stage": stage,
                    "assignee_id": assignee_id,
                },
                now=now,
            )
        queued += 1
    return queued
