"""A citizen's personal data in cases: what is held (access), erasure on request, retention.

Separate from filing because these are the only functions that rewrite finished cases and their
append-only event trail, under the data protection law (Law 91/2025/QH15): keeping them together
keeps that exception in one place. Like ``bot.cases.service``, every function takes the caller's
``Session`` and never commits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.cases.linking import forget_case
from bot.cases.service import Actor
from bot.db.models import TERMINAL_STATUSES, Case, CaseEvent
from bot.db.types import ensure_aware, utcnow

__all__ = [
    "ERASED_NAME",
    "ERASED_PHONE",
    "HeldData",
    "anonymise_citizen",
    "anonymise_closed_older_than",
    "personal_data_of",
    "scrub_personal",
]

#: What replaces a phone number or the citizen's name inside an erased case's texts.
ERASED_PHONE = "[số điện thoại đã xóa]"
ERASED_NAME = "[họ tên đã xóa]"


def scrub_personal(text: str | None, name: str | None) -> str | None:
    """``text`` without phone numbers and without ``name`` (any case): what a citizen typed
    into a case keeps the matter and loses who they are (issue 12: the case text kept
    whatever the citizen wrote in it after "xóa dữ liệu của tôi")."""
    from bot.observability.logs import PHONE_MASK, mask_phones

    if not text:
        return text
    text = mask_phones(text).replace(PHONE_MASK, ERASED_PHONE)
    if name and len(name.strip()) >= 2:
        text = re.sub(re.escape(name.strip()), ERASED_NAME, text, flags=re.IGNORECASE)
    return text


def _anonymise(
    session: Session, case: Case, *, actor: Actor, now: datetime, detail: Mapping[str, Any]
) -> None:
    erased = [name for name in ("person_name", "phone") if getattr(case, name) is not None]
    name = case.person_name
    case.content = scrub_personal(case.content, name) or ""
    case.location_text = scrub_personal(case.location_text, name)
    rows = session.execute(
        select(CaseEvent.id, CaseEvent.detail).where(CaseEvent.case_id == case.id)
    ).all()
    for event_id, event_detail in rows:
        text = event_detail.get("text") if isinstance(event_detail, dict) else None
        if isinstance(text, str):  # the citizen's messages during a handoff, staff replies
            # The one sanctioned rewrite of the append-only trail: the right to erasure (Law
            # 91/2025/QH15, Article 14) outranks it. A bulk UPDATE, so the ORM guard that stops
            # accidental rewrites stays in force everywhere else; the action itself is recorded
            # below as an "anonymised" event.
            session.execute(
                update(CaseEvent).where(CaseEvent.id == event_id)
                .values(detail={**event_detail, "text": scrub_personal(text, name)})
                .execution_options(synchronize_session=False)
            )
    forget_case(session, case.id)  # the same-issue signature is made of the citizen's words
    case.person_name = None
    case.phone = None
    case.anonymised = True
    case.updated_at = now
    session.add(
        CaseEvent(
            case_id=case.id,
            actor_kind=actor.kind,
            actor_id=actor.id,
            action="anonymised",
            detail={**detail, "erased": erased},
            created_at=now,
        )
    )


@dataclass(frozen=True)
class HeldData:
    """What one case holds about the citizen who filed it (the right to access)."""

    ref_code: str
    created_at: datetime
    person_name: str | None
    phone: str | None
    anonymised: bool


def personal_data_of(session: Session, channel: str, channel_user_id: str) -> list[HeldData]:
    """Every case this channel user filed, with the personal data it still holds, newest
    first (Law 91/2025/QH15: the citizen may ask what is held about them)."""
    cases = session.execute(
        select(Case).where(Case.channel == channel, Case.channel_user_id == channel_user_id)
        .order_by(Case.created_at.desc(), Case.id.desc())
    ).scalars()
    return [HeldData(c.ref_code, c.created_at, c.person_name, c.phone, bool(c.anonymised))
            for c in cases]


def anonymise_citizen(
    session: Session,
    channel: str,
    channel_user_id: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> int:
    """Erase name and phone from every case of this channel user ("delete my data").

    The content and the channel user id stay: the first is the record of the matter, the second
    lets the citizen still ask about the case and staff still reply. Returns the number of cases
    changed (already anonymised cases are skipped), one ``anonymised`` event each.
    """
    now = ensure_aware(now, "now") if now is not None else utcnow()
    cases = session.execute(
        select(Case).where(
            Case.channel == channel,
            Case.channel_user_id == channel_user_id,
            Case.anonymised.is_(False),
        )
    ).scalars()
    count = 0
    for case in cases.all():
        _anonymise(session, case, actor=actor, now=now, detail={"reason": "citizen_request"})
        count += 1
    session.flush()
    return count


def anonymise_closed_older_than(session: Session, days: int, now: datetime | None = None) -> int:
    """Retention: anonymise finished cases (resolved, rejected, closed) untouched for ``days``."""
    if days < 0:
        raise ValueError("days must not be negative")
    now = ensure_aware(now, "now") if now is not None else utcnow()
    cutoff = now - timedelta(days=days)
    cases = session.execute(
        select(Case).where(
            Case.status.in_([s.value for s in TERMINAL_STATUSES]),
            Case.updated_at < cutoff,
            Case.anonymised.is_(False),
        )
    ).scalars()
    count = 0
    for case in cases.all():
        _anonymise(
            session,
            case,
            actor=Actor.system(),
            now=now,
            detail={"reason": "retention", "days": days},
        )
        count += 1
    session.flush()
    return count
