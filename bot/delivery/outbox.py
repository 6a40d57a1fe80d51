"""Queueing a delivery: the one place that writes outbox rows.

Every message that leaves the system (a Telegram card for a unit's group, a staff reply or a
status change for a citizen, a hand-back into a conversation) is first a row in ``outbox``,
written in the same transaction as the change that caused it, so a crash after the commit
cannot lose it and a rollback cannot send it. The worker in :mod:`bot.notify.outbox` delivers
the rows. Which kinds exist is :class:`bot.db.models.OutboxKind`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.db.models import Case, CaseKind, Outbox, OutboxKind, OutboxStatus
from bot.db.types import ensure_aware, utcnow

__all__ = ["enqueue", "enqueue_many", "queue_citizen_message", "staff_notice"]


def enqueue(
    session: Session,
    kind: str,
    *,
    target: str,
    payload: dict[str, Any],
    case_id: int | None = None,
    now: datetime | None = None,
) -> Outbox:
    """Add one pending delivery to the caller's transaction (flushed, so it has its id).

    ``target`` is a unit code for staff kinds and ``channel:user id`` for citizen kinds;
    ``payload`` must be JSON-able and carry no name or phone (the worker logs it)."""
    if kind not in OutboxKind.ALL:
        raise ValueError(f"unknown outbox kind {kind!r}")
    now = ensure_aware(now, "now") if now is not None else utcnow()
    row = Outbox(
        kind=kind,
        case_id=case_id,
        target=target,
        payload=payload,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def enqueue_many(
    session: Session,
    kind: str,
    rows: list[tuple[str, dict[str, Any]]],
    *,
    now: datetime | None = None,
) -> int:
    """Add many pending deliveries of one kind (``(target, payload)`` each) in one statement, for
    an announcement's thousands of recipients; returns how many. Same rules as :func:`enqueue`."""
    if kind not in OutboxKind.ALL:
        raise ValueError(f"unknown outbox kind {kind!r}")
    if not rows:
        return 0
    now = ensure_aware(now, "now") if now is not None else utcnow()
    session.execute(
        insert(Outbox),
        [
            {
                "kind": kind,
                "case_id": None,
                "target": target,
                "payload": payload,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for target, payload in rows
        ],
    )
    return len(rows)


def staff_notice(
    session: Session, case: Case, unit_code: str, now: datetime, **extra: Any
) -> Outbox:
    """A new (or transferred) case → a card in the Telegram group of ``unit_code``; the worker
    resolves the unit's chat at delivery time. ``extra`` adds to the payload (a transfer says
    where from)."""
    return enqueue(
        session,
        OutboxKind.STAFF_NOTIFY,
        case_id=case.id,
        target=unit_code,
        payload={
            "case_id": case.id,
            "ref_code": case.ref_code,
            "kind": CaseKind(case.kind).value,
            "category": case.category,
            "unit_code": unit_code,
            **extra,
        },
        now=now,
    )


def queue_citizen_message(
    session: Session, case_id: int, text: str, *, now: datetime | None = None
) -> int:
    """Queue "the citizen wrote again on this case" for the unit's group; returns the row id.

    For the handoff flow and for messages a citizen sends about an open case: the group sees the
    text quoted under the case card, and an officer answers by replying to it. Call it in the
    same transaction that records the citizen's message.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise ValueError(f"no case {case_id}")
    row = enqueue(
        session,
        OutboxKind.CITIZEN_MESSAGE,
        case_id=case.id,
        target=case.unit_code,
        payload={
            "case_id": case.id,
            "ref_code": case.ref_code,
            "unit_code": case.unit_code,
            "text": text,
        },
        now=now,
    )
    return int(row.id)
