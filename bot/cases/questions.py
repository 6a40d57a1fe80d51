"""The questions citizens ask the assistant, recorded for trainers (issue 15, the digest's last
section): which programme questions are asked most, and what the assistant could not answer.

Before this nothing recorded them (the Rasa event broker only counts fallbacks for ``/metrics``,
and the tracker store is per conversation, erased on request and after idling). A row here says
nothing of who asked (no channel, no sender id); the words are kept only for a question the
assistant could not answer, masked (:func:`bot.cases.masking.mask_identity`) and cut short, and
:func:`forget_older_than` deletes rows past the retention period (the daily retention run).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.cases.masking import mask_identity
from bot.db.models import AssistantQuestion, QuestionKind
from bot.db.types import ensure_aware, utcnow

__all__ = [
    "MAX_TEXT",
    "RETENTION_DAYS",
    "QuestionStats",
    "forget_older_than",
    "question_stats",
    "record_question",
]

#: Characters of an unanswered question kept.
MAX_TEXT = 200
#: Rows older than this are deleted by :func:`forget_older_than`.
RETENTION_DAYS = 180


def record_question(
    session: Session,
    kind: str,
    *,
    unit_code: str | None = None,
    programme: str | None = None,
    aspect: str | None = None,
    text: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record one question; ``text`` is stored (masked, cut) only when it was not answered."""
    if kind not in QuestionKind.ALL:
        raise ValueError(f"unknown question kind {kind!r}")
    kept = None
    if kind != QuestionKind.ANSWERED and text and text.strip():
        kept = mask_identity(" ".join(text.split()), strict=True)[:MAX_TEXT]
    session.add(
        AssistantQuestion(
            kind=kind,
            unit_code=unit_code,
            programme=programme,
            aspect=aspect,
            text=kept,
            created_at=now or utcnow(),
        )
    )


def forget_older_than(
    session: Session, days: int = RETENTION_DAYS, now: datetime | None = None
) -> int:
    """Delete the rows older than ``days``; returns how many went."""
    cutoff = (ensure_aware(now, "now") if now else utcnow()) - timedelta(days=days)
    result = session.execute(delete(AssistantQuestion).where(AssistantQuestion.created_at < cutoff))
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class QuestionStats:
    """Programme questions by (programme, aspect), most asked first, and the latest questions the
    assistant could not answer (masked words, or the programme and aspect when no words)."""

    asked: list[tuple[str, str | None, int]]
    unanswered: list[tuple[str, str | None, str | None, int]]  # (text, programme, aspect, times)
    not_understood: int


def question_stats(
    session: Session, units: Iterable[str] | None, start: datetime, end: datetime, *, top: int = 10
) -> QuestionStats:
    """Questions asked in [start, end) in conversations of ``units`` (None: everywhere; questions
    from conversations without a unit count for every unit's digest, since nobody knows theirs)."""
    where = [AssistantQuestion.created_at >= start, AssistantQuestion.created_at < end]
    if units is not None:
        codes = sorted(set(units))
        where.append(AssistantQuestion.unit_code.in_(codes) | AssistantQuestion.unit_code.is_(None))
    asked = session.execute(
        select(AssistantQuestion.programme, AssistantQuestion.aspect, func.count())
        .where(
            *where,
            AssistantQuestion.programme.is_not(None),
            AssistantQuestion.kind != QuestionKind.NOT_UNDERSTOOD,
        )
        .group_by(AssistantQuestion.programme, AssistantQuestion.aspect)
        .order_by(func.count().desc(), AssistantQuestion.programme)
        .limit(top)
    ).all()
    rows = session.execute(
        select(AssistantQuestion.text, AssistantQuestion.programme, AssistantQuestion.aspect)
        .where(*where, AssistantQuestion.kind != QuestionKind.ANSWERED)
        .order_by(AssistantQuestion.id.desc())
        .limit(500)
    ).all()
    counts: Counter[tuple[str, str | None, str | None]] = Counter(
        ((r.text or "").strip(), r.programme, r.aspect) for r in rows
    )
    not_understood = int(
        session.execute(
            select(func.count())
            .select_from(AssistantQuestion)
            .where(*where, AssistantQuestion.kind == QuestionKind.NOT_UNDERSTOOD)
        ).scalar_one()
    )
    return QuestionStats(
        asked=[(str(p), a, int(n)) for p, a, n in asked],
        unanswered=[(t, p, a, n) for (t, p, a), n in counts.most_common(top)],
        not_understood=not_understood,
    )
