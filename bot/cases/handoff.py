"""Handing a conversation to a person, and back.

A handoff is a case of kind ``handoff``: staff see it in their queue and Telegram group like any
other case, every citizen message during the handoff is appended to it (and notified), and it
ends when an officer hands the conversation back or it has been idle too long. The assistant
stays silent meanwhile (``bot.conversation.policies.HandoffPolicy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases.service import Actor, CaseDraft, CreatedCase, create_case
from bot.db.models import Case, CaseEvent, CaseKind, CaseStatus, OutboxKind
from bot.db.types import utcnow
from bot.delivery.outbox import enqueue, queue_citizen_message

#: Outbox kind that tells the citizen's conversation the assistant is back.
CITIZEN_HANDBACK = OutboxKind.CITIZEN_HANDBACK
#: Event action on the handoff case for each citizen message.
CITIZEN_MESSAGE = "citizen_message"
HANDED_BACK = "handed_back"
FINISHED = (CaseStatus.RESOLVED, CaseStatus.REJECTED, CaseStatus.CLOSED)


@dataclass(frozen=True)
class Handoff:
    case_id: int
    ref_code: str
    unit_code: str


def start_handoff(
    session: Session,
    *,
    channel: str,
    channel_user_id: str,
    conversation_id: str,
    unit_code: str,
    reason: str,
    idempotency_key: str,
) -> CreatedCase:
    """Open (or, for a repeated request, return) the handoff case of this conversation."""
    open_case = open_handoff(session, channel, channel_user_id)
    if open_case is not None:
        return CreatedCase(
            id=open_case.id, ref_code=open_case.ref_code, kind=CaseKind.HANDOFF,
            status=open_case.status, unit_code=open_case.unit_code,
            created_at=open_case.created_at, created=False,
        )
    draft = CaseDraft(
        kind="handoff",  # type: ignore[arg-type]
        content=reason,
        channel=channel,
        channel_user_id=channel_user_id,
        conversation_id=conversation_id,
        unit_code=unit_code,
        moderation_verdict="clean",
    )
    return create_case(session, draft, idempotency_key=idempotency_key)


def open_handoff(session: Session, channel: str, channel_user_id: str) -> Case | None:
    """The conversation's handoff case that no one has handed back yet."""
    return session.execute(
        select(Case)
        .where(
            Case.kind == CaseKind.HANDOFF,
            Case.channel == channel,
            Case.channel_user_id == channel_user_id,
            Case.status.not_in(FINISHED),
        )
        .order_by(Case.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def forward_citizen_message(
    session: Session, case: Case, text: str, *, attachments: list[dict] | None = None,
    now: datetime | None = None,
) -> None:
    """Append what the citizen wrote to the handoff case and notify the unit's staff."""
    now = now or utcnow()
    session.add(CaseEvent(
        case_id=case.id, actor_kind="citizen", actor_id=case.channel_user_id,
        action=CITIZEN_MESSAGE, detail={"text": text, "attachments": attachments or []},
        created_at=now,
    ))
    queue_citizen_message(session, case.id, text, now=now)
    case.updated_at = now


def hand_back(session: Session, case: Case, *, actor: Actor, reason: str,
              now: datetime | None = None) -> None:
    """End the handoff: close the case and tell the citizen's conversation (outbox)."""
    now = now or utcnow()
    if case.status in FINISHED:
        return
    case.status = CaseStatus.CLOSED
    case.updated_at = now
    session.add(CaseEvent(
        case_id=case.id, actor_kind=actor.kind.value, actor_id=actor.id, action=HANDED_BACK,
        detail={"reason": reason}, created_at=now,
    ))
    enqueue(
        session, CITIZEN_HANDBACK, case_id=case.id,
        target=f"{case.channel}:{case.channel_user_id}",
        payload={"case_id": case.id, "ref_code": case.ref_code, "reason": reason,
                 "channel": case.channel, "channel_user_id": case.channel_user_id,
                 "conversation_id": case.conversation_id},
        now=now,
    )


def idle_handoffs(session: Session, idle: timedelta, now: datetime | None = None) -> list[Case]:
    """Open handoffs with no activity for ``idle``: they return to the assistant."""
    now = now or utcnow()
    return list(session.execute(
        select(Case).where(
            Case.kind == CaseKind.HANDOFF,
            Case.status.not_in(FINISHED),
            Case.updated_at < now - idle,
        )
    ).scalars())
