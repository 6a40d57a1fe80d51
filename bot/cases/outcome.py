"""An answer that says something (issue 17 item 5): the recorded outcome, and reopening.

Before a case is resolved or closed the officer records what was done, by whom and when, and may
point at evidence (:func:`record_outcome`; the evidence is a ``case_attachments`` row of kind
``file`` whose payload says a staff member added it). ``casework.change_status`` refuses
"resolved" and "closed" from staff while the case has no outcome.

A citizen who rates the answer 1 or 2 is offered to reopen the case for ``REOPEN_DAYS`` days
after it was finished (:func:`reopen_offer`); :func:`reopen_case` puts it back in progress.
A reopened case keeps everything: its history (a ``reopened`` event is appended, nothing is
removed), its working-hours deadline and its forwardings with their clocks; the unit's group
gets a card saying so.

Like :mod:`bot.cases.casework`, the functions take the caller's ``Session`` and never commit.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases.casework import CaseworkError, add_event, clean_text
from bot.cases.forwarding import local_today
from bot.cases.service import Actor
from bot.db.models import (
    ActorKind,
    AttachmentKind,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseOutcome,
    CaseStatus,
)
from bot.db.types import ensure_aware, utcnow
from bot.delivery.outbox import staff_notice

__all__ = [
    "REOPENED",
    "OUTCOME_RECORDED",
    "REOPENABLE",
    "case_outcomes",
    "finished_at",
    "record_outcome",
    "reopen_case",
    "reopen_offer",
]

OUTCOME_RECORDED = "outcome_recorded"
REOPENED = "reopened"
#: Statuses a dissatisfied citizen may reopen from (a rejection has its own stated reason).
REOPENABLE = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})
#: Ratings that count as "not satisfied".
UNSATISFIED = frozenset({1, 2})

MAX_ACTION_CHARS = 10_000
MAX_WHO_CHARS = 255


def _now(now: datetime | None) -> datetime:
    return ensure_aware(now, "now") if now is not None else utcnow()


def case_outcomes(session: Session, case_id: int) -> list[CaseOutcome]:
    return list(
        session.execute(
            select(CaseOutcome).where(CaseOutcome.case_id == case_id).order_by(CaseOutcome.id)
        ).scalars()
    )


def record_outcome(
    session: Session,
    case_id: int,
    *,
    action_text: str,
    done_by: str,
    done_on: date,
    actor: Actor,
    evidence_url: str | None = None,
    now: datetime | None = None,
) -> int:
    """Record what was done about case ``case_id`` (and optional evidence); returns its id."""
    now = _now(now)
    # Casework's free-text check (stripped; empty, NUL and over-long refused), with this form's
    # own words for an empty field.
    what = clean_text(
        action_text,
        limit=MAX_ACTION_CHARS,
        what="Nội dung",
        empty="Cần ghi rõ đã làm gì để giải quyết hồ sơ.",
    )
    who = clean_text(
        done_by, limit=MAX_WHO_CHARS, what="Nội dung", empty="Cần ghi rõ ai đã thực hiện."
    )
    if done_on > local_today(now):
        raise CaseworkError("Ngày thực hiện không được sau hôm nay.")
    case = session.get(Case, case_id)
    if case is None:
        raise CaseworkError("Không tìm thấy hồ sơ.")
    evidence_id = None
    link = (evidence_url or "").strip()
    if link:
        if not link.startswith(("https://", "http://")) or len(link) > 2000:
            raise CaseworkError("Đường dẫn minh chứng phải bắt đầu bằng https:// hoặc http://.")
        attachment = CaseAttachment(
            case_id=case.id,
            kind=AttachmentKind.FILE,
            url=link,
            payload={"added_by": "staff", "purpose": "evidence"},
            created_at=now,
        )
        session.add(attachment)
        session.flush()
        evidence_id = attachment.id
    staff_id = int(actor.id) if actor.kind == ActorKind.STAFF and actor.id else None
    outcome = CaseOutcome(
        case_id=case.id,
        action_text=what,
        done_by=who,
        done_on=done_on,
        recorded_by=staff_id,
        evidence_id=evidence_id,
        created_at=now,
    )
    session.add(outcome)
    session.flush()
    case.updated_at = now
    add_event(
        session,
        case.id,
        actor,
        OUTCOME_RECORDED,
        {"outcome_id": outcome.id, "done_on": done_on.isoformat(), "evidence_id": evidence_id},
        now,
    )
    session.flush()
    return int(outcome.id)


def finished_at(session: Session, case: Case) -> datetime | None:
    """When the case last became resolved or closed (from its history)."""
    events = session.execute(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.action == "status_changed")
        .order_by(CaseEvent.id.desc())
    ).scalars()
    for event in events:
        detail = event.detail if isinstance(event.detail, dict) else {}
        if detail.get("to") in {s.value for s in REOPENABLE}:
            return event.created_at
    return None


def reopen_offer(
    session: Session, case: Case, *, now: datetime | None = None, days: int | None = None
) -> bool:
    """True when the citizen may reopen ``case``: finished (resolved or closed) within the
    last ``REOPEN_DAYS`` days and rated 1 or 2."""
    from bot.settings import reopen_days

    window = reopen_days() if days is None else days
    if window <= 0 or case.rating not in UNSATISFIED:
        return False
    if CaseStatus(case.status) not in REOPENABLE:
        return False
    finished = finished_at(session, case)
    return finished is not None and _now(now) - finished <= timedelta(days=window)


def reopen_case(
    session: Session,
    case_id: int,
    *,
    actor: Actor,
    now: datetime | None = None,
    days: int | None = None,
) -> bool:
    """Put a finished case back in progress at the citizen's request; False when it may not be
    reopened (see :func:`reopen_offer`). Its deadline, forwardings and history are kept."""
    now = _now(now)
    case = session.execute(
        select(Case).where(Case.id == case_id).with_for_update(of=Case)
    ).scalar_one_or_none()
    if case is None or not reopen_offer(session, case, now=now, days=days):
        return False
    previous = CaseStatus(case.status)
    case.status = CaseStatus.IN_PROGRESS
    case.updated_at = now
    add_event(
        session, case.id, actor, REOPENED, {"from": previous.value, "rating": case.rating}, now
    )
    staff_notice(session, case, case.unit_code, now, event=REOPENED)
    session.flush()
    return True
