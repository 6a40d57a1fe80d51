"""Recording a case's legal type (issue 17): set at intake from the classifier or the citizen's
choice, changed by staff; every change is a :class:`~bot.db.models.CaseEvent`.

Like :mod:`bot.cases.casework`, the function takes the caller's ``Session`` and never commits, so
the change and its event are saved together or not at all. The event's detail holds only the
type codes (``from``, ``to``), the ``source`` (``classifier``, ``citizen``, ``staff``) and, for
the classifier, its confidence and, when :func:`bot.cases.legal_type.protects_identity` held for a
guess of another type, ``protect_identity``: never the citizen's words.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases.casework import CaseworkError
from bot.cases.legal_type import LEGAL_TYPES
from bot.cases.service import Actor
from bot.db.models import ActorKind, Case, CaseEvent
from bot.db.types import ensure_aware, utcnow

__all__ = ["LEGAL_TYPE_EVENT", "SOURCES", "set_legal_type"]

#: The ``CaseEvent.action`` of a change of legal type.
LEGAL_TYPE_EVENT = "legal_type_changed"
SOURCES = frozenset({"classifier", "citizen", "staff"})


def set_legal_type(
    session: Session,
    case_id: int,
    legal_type: str | None,
    actor: Actor,
    *,
    source: str | None = None,
    confidence: float | None = None,
    protect_identity: bool = False,
    now: datetime | None = None,
) -> bool:
    """Set the legal type of case ``case_id`` (None: unknown again); True when it changed.

    ``source`` defaults to ``staff`` for a staff actor, ``citizen`` for a citizen and
    ``classifier`` otherwise. Setting the type it already has records nothing. Raises
    :class:`~bot.cases.casework.CaseworkError` (a Vietnamese sentence) for an unknown case or type.
    ``protect_identity`` (the classifier only) marks a guess that is not tố cáo but whose tố cáo
    probability was high enough that the sender stays protected until someone sets the type
    (:func:`bot.cases.identity.identity_protected`).
    """
    if legal_type is not None and legal_type not in LEGAL_TYPES:
        raise CaseworkError("Loại vụ việc không hợp lệ (phản ánh, kiến nghị, khiếu nại, tố cáo).")
    kind = ActorKind(actor.kind)
    if source is None:
        source = {ActorKind.STAFF: "staff", ActorKind.CITIZEN: "citizen"}.get(kind, "classifier")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; known: {sorted(SOURCES)}")
    moment = ensure_aware(now, "now") if now is not None else utcnow()
    case = session.execute(
        select(Case).where(Case.id == case_id).with_for_update(of=Case)
    ).scalar_one_or_none()
    if case is None:
        raise CaseworkError("Không tìm thấy hồ sơ.")
    previous = case.legal_type
    if previous == legal_type:
        return False
    case.legal_type = legal_type
    detail: dict[str, object] = {"from": previous, "to": legal_type, "source": source}
    if confidence is not None:
        detail["confidence"] = round(float(confidence), 4)
    if protect_identity and source == "classifier" and legal_type != "to_cao":
        detail["protect_identity"] = True
    session.add(
        CaseEvent(
            case_id=case.id,
            actor_kind=kind,
            actor_id=actor.id,
            action=LEGAL_TYPE_EVENT,
            detail=detail,
            created_at=moment,
        )
    )
    session.flush()
    return True
