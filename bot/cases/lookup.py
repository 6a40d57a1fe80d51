"""Looking cases up: a citizen's own case by reference code or their latest, a case for staff.

Separate from filing because it only reads, and because it carries its own privacy rule: a
status lookup answers only the channel user who filed the case. Like ``bot.cases.service``, every
function takes the caller's ``Session`` and returns frozen dataclasses, not ORM rows (except
:func:`find_case`, which is for staff code that goes on to change the case).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Case, CaseKind, CaseStatus
from bot.db.refcodes import normalise_ref_code

__all__ = ["StatusView", "find_case", "get_case_status", "last_case_for"]


@dataclass(frozen=True)
class StatusView:
    """What a citizen may see about their own case."""

    ref_code: str
    kind: CaseKind
    status: CaseStatus
    category: str | None
    unit_code: str
    unit_name: str
    created_at: datetime
    updated_at: datetime
    rating: int | None


def _status_view(case: Case) -> StatusView:
    return StatusView(
        ref_code=case.ref_code,
        kind=CaseKind(case.kind),
        status=CaseStatus(case.status),
        category=case.category,
        unit_code=case.unit_code,
        unit_name=case.unit.name,
        created_at=case.created_at,
        updated_at=case.updated_at,
        rating=case.rating,
    )


def find_case(session: Session, ref_code: str) -> Case | None:
    """Staff-side lookup by reference code in any typed form (no owner check: staff only)."""
    code = normalise_ref_code(ref_code)
    if code is None:
        return None
    return session.execute(select(Case).where(Case.ref_code == code)).scalar_one_or_none()


def get_case_status(
    session: Session, ref_code: str, channel: str, channel_user_id: str
) -> StatusView | None:
    """The status of the caller's own case, or None.

    None both when the code does not exist and when it belongs to someone else, in one query, so
    neither the answer nor its timing tells a guesser that a code exists.
    """
    code = normalise_ref_code(ref_code)
    if code is None:
        return None
    case = session.execute(
        select(Case).where(
            Case.ref_code == code,
            Case.channel == channel,
            Case.channel_user_id == channel_user_id,
        )
    ).scalar_one_or_none()
    return _status_view(case) if case is not None else None


def last_case_for(session: Session, channel: str, channel_user_id: str) -> StatusView | None:
    """The most recent case this channel user filed ("what about my last petition?")."""
    case = (
        session.execute(
            select(Case)
            .where(Case.channel == channel, Case.channel_user_id == channel_user_id)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )
    return _status_view(case) if case is not None else None
