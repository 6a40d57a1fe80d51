"""Staff review of quarantined messages: restore one as a case, or confirm it as spam.

Moderation stops spam before it becomes a case (``bot/moderation/gate.py``); a mistaken stop
must be visible and reversible (issue 12). A restored message becomes a petition of the
reviewing officer's unit (transfer it if it belongs elsewhere) and the citizen is told its
reference code through the channel they wrote on; a confirmed one stays in the table, marked
reviewed, and is exported as a labelled line the trainer can add to the moderation evaluation.
Both decisions are recorded once: a second click changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cases.casework import reply_to_citizen
from bot.cases.service import Actor, CaseDraft, create_case
from bot.db.models import CaseKind, Quarantine
from bot.db.types import utcnow
from bot.knowledge.replies import reply_text


class AlreadyReviewed(ValueError):
    """The message was restored or confirmed already (by this officer or another)."""


@dataclass(frozen=True)
class Restored:
    case_id: int
    ref_code: str


def unreviewed(session: Session, limit: int = 200) -> list[Quarantine]:
    """Messages waiting for a person, newest first."""
    return list(session.execute(
        select(Quarantine).where(Quarantine.reviewed_by.is_(None))
        .order_by(Quarantine.created_at.desc(), Quarantine.id.desc()).limit(limit)
    ).scalars())


def unreviewed_count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Quarantine)
                               .where(Quarantine.reviewed_by.is_(None))).scalar_one())


def _claim(session: Session, quarantine_id: int, staff_id: int, now: datetime) -> Quarantine:
    row = session.execute(select(Quarantine).where(Quarantine.id == quarantine_id)
                          .with_for_update()).scalar_one_or_none()
    if row is None:
        raise LookupError(quarantine_id)
    if row.reviewed_by is not None:
        raise AlreadyReviewed(quarantine_id)
    row.reviewed_by, row.reviewed_at = staff_id, now
    return row


def restore(session: Session, quarantine_id: int, *, staff_id: int, unit_code: str,
            when_label: str, now: datetime | None = None) -> Restored:
    """Make the message a petition of ``unit_code`` and tell the citizen its code."""
    now = now or utcnow()
    row = _claim(session, quarantine_id, staff_id, now)
    created = create_case(session, CaseDraft(
        kind=CaseKind.PETITION, content=row.text, channel=row.channel,
        channel_user_id=row.channel_user_id, conversation_id=row.channel_user_id,
        unit_code=unit_code, moderation_verdict="restored",
    ), idempotency_key=f"quarantine-{row.id}", now=now, actor=Actor.staff(staff_id))
    reply_to_citizen(session, created.id, reply_text("quarantine_restored", when=when_label,
                                                             ref=created.ref_code),
                     actor=Actor.staff(staff_id), now=now)
    return Restored(created.id, created.ref_code)


def confirm_spam(session: Session, quarantine_id: int, *, staff_id: int,
                 now: datetime | None = None) -> None:
    """Keep the message as spam, reviewed."""
    _claim(session, quarantine_id, staff_id, now or utcnow())


def labelled_lines(session: Session) -> list[str]:
    """Reviewed decisions as ``label<TAB>kind<TAB>text`` (the blind sets' format): restored
    messages are ``allow`` (the filter was wrong), confirmed ones ``stop``."""
    from bot.db.models import Case

    restored = set(session.execute(
        select(Case.idempotency_key).where(Case.idempotency_key.like("quarantine-%"))).scalars())
    lines = []
    for row in session.execute(select(Quarantine).where(Quarantine.reviewed_by.is_not(None))
                               .order_by(Quarantine.id)).scalars():
        label = "allow" if f"quarantine-{row.id}" in restored else "stop"
        text = " ".join(str(row.text).split())
        lines.append(f"{label}\t{row.category or 'unknown'}\t{text}")
    return lines
