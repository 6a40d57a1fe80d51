"""Who may see the sender of a tố cáo (issue 17 item 4).

The Law on Denunciations (25/2018/QH14) gives the denouncer the right to have their name,
address, handwriting and other personal information kept secret (Art. 9 khoản 1 điểm b) and makes
that protection a duty of whoever receives the denunciation (Art. 47–48; Decree 31/2019/NĐ-CP,
Chapter VI; Law 136/2025/QH15, in force 1 July 2026, strengthens it). The Front forwards a tố cáo and follows it up,
so its officers need the sender only to do that: here the sender's name, phone and channel id
are for the officer assigned to the case and the unit's admins, and every time they are shown the
case's history records who saw them. Telegram cards, the CSV export and the morning summary never
carry them for any case (``bot/notify/messages.py``); the console and the JSON API ask here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.cases.legal_type_record import LEGAL_TYPE_EVENT
from bot.db.models import ActorKind, Case, CaseEvent, Staff, StaffRole
from bot.db.types import utcnow

__all__ = ["IDENTITY_VIEWED", "PROTECTED_TYPES", "identity_protected", "may_see_identity",
           "record_identity_view"]

#: Legal types whose sender is protected by law.
PROTECTED_TYPES = frozenset({"to_cao"})
#: The history event of one look at a protected sender.
IDENTITY_VIEWED = "identity_viewed"


def identity_protected(case: Case) -> bool:
    """A tố cáo's sender is protected; so is the sender of a case whose type was last set by the
    classifier with ``protect_identity`` (a likely tố cáo the model gave another type:
    :func:`bot.cases.legal_type.protects_identity`), until a citizen or staff sets the type."""
    if case.legal_type in PROTECTED_TYPES:
        return True
    last = next((e for e in reversed(case.events) if e.action == LEGAL_TYPE_EVENT), None)
    detail = last.detail if last is not None and isinstance(last.detail, dict) else {}
    return detail.get("source") == "classifier" and bool(detail.get("protect_identity"))


def may_see_identity(case: Case, staff: Staff) -> bool:
    """Anyone who may see the case sees an ordinary sender; a protected one only the assigned
    officer and admins."""
    if not identity_protected(case):
        return True
    role = StaffRole(staff.role)
    return case.assignee_id == staff.id or role in (StaffRole.UNIT_ADMIN, StaffRole.SYSTEM_ADMIN)


def record_identity_view(session: Session, case: Case, staff: Staff, *, where: str,
                         now: datetime | None = None) -> None:
    """Audit one showing of a protected sender (nothing for ordinary cases)."""
    if not identity_protected(case):
        return
    session.add(CaseEvent(case_id=case.id, actor_kind=ActorKind.STAFF, actor_id=str(staff.id),
                          action=IDENTITY_VIEWED, detail={"where": where},
                          created_at=now or utcnow()))
