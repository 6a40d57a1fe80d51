"""Casework: what staff (and the citizen's rating) do to a case once it exists.

The web console, the JSON API and the Telegram buttons all call these functions, so a rule holds
the same way everywhere. Like ``bot.cases.service``, every function takes the caller's ``Session`` and
never commits: the change, its :class:`~bot.db.models.CaseEvent` and any
:class:`~bot.db.models.Outbox` row are saved together or not at all.

Rules kept here:

* every change appends a ``CaseEvent`` naming the actor;
* the first action of a staff member on a case also appends a ``first_response`` event (with the
  seconds since the case was filed), which the overview's median time to first response reads;
* status moves only forward (:data:`ALLOWED_TRANSITIONS`), "rejected" needs a reason, and every
  status change queues a ``citizen_status`` outbox row (``ask_rating`` when resolved);
* staff may resolve or close a case only once its outcome is recorded (what was done, by whom,
  when: ``bot.cases.outcome``, issue 17) — after it was last reopened, if it was;
* a reply to the citizen is an outbox row (``citizen_reply``); its delivery state is the row's;
* internal notes live in ``case_notes`` and events only point at them (``note_id``), so event
  details never hold free text that could contain personal data.

Errors a staff member can cause raise :class:`CaseworkError` with a Vietnamese message to show.
Visibility (which cases a staff member may see) is :func:`visible_unit_codes` and
:func:`case_for_staff`; callers check it before acting.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases.service import Actor
from bot.db.models import (
    TERMINAL_STATUSES,
    ActorKind,
    Case,
    CaseEvent,
    CaseKind,
    CaseNote,
    CaseOutcome,
    CaseStatus,
    OutboxKind,
    Staff,
    StaffRole,
    Unit,
)
from bot.db.types import ensure_aware, utcnow
from bot.delivery.outbox import enqueue, staff_notice
from bot.knowledge.units import UnitTree

__all__ = [
    "ALLOWED_TRANSITIONS",
    "MAX_NOTE_CHARS",
    "MAX_REPLY_CHARS",
    "NO_OUTCOME",
    "STATUS_LABELS",
    "CaseworkError",
    "add_note",
    "assign",
    "case_for_staff",
    "change_status",
    "citizen_target",
    "record_rating",
    "reply_to_citizen",
    "transfer",
    "visible_unit_codes",
]

#: Messengers cap a text message at about 2,000 characters (Facebook 2,000; Zalo similar).
MAX_REPLY_CHARS = 2000
MAX_NOTE_CHARS = 10_000

#: Status names as officers and citizens read them.
STATUS_LABELS: Mapping[CaseStatus, str] = {
    CaseStatus.NEW: "Mới",
    CaseStatus.ACKNOWLEDGED: "Đã tiếp nhận",
    CaseStatus.IN_PROGRESS: "Đang xử lý",
    CaseStatus.RESOLVED: "Đã giải quyết",
    CaseStatus.REJECTED: "Từ chối",
    CaseStatus.CLOSED: "Đã đóng",
}

#: new → acknowledged → in_progress → resolved | rejected | closed. A step may be skipped
#: ("Nhận xử lý" on a new case goes straight to in_progress) but never taken back; a resolved
#: case may still be closed; rejected and closed are final.
ALLOWED_TRANSITIONS: Mapping[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset(
        {
            CaseStatus.ACKNOWLEDGED,
            CaseStatus.IN_PROGRESS,
            CaseStatus.RESOLVED,
            CaseStatus.REJECTED,
            CaseStatus.CLOSED,
        }
    ),
    CaseStatus.ACKNOWLEDGED: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.REJECTED, CaseStatus.CLOSED}
    ),
    CaseStatus.IN_PROGRESS: frozenset(
        {CaseStatus.RESOLVED, CaseStatus.REJECTED, CaseStatus.CLOSED}
    ),
    CaseStatus.RESOLVED: frozenset({CaseStatus.CLOSED}),
    CaseStatus.REJECTED: frozenset(),
    CaseStatus.CLOSED: frozenset(),
}


#: Statuses that need the outcome recorded first (issue 17 item 5).
CLOSING_STATUSES = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})
NO_OUTCOME = ("Chưa thể kết thúc hồ sơ: hãy ghi nhận kết quả xử lý (đã làm gì, ai thực hiện, "
              "ngày nào) trước khi chuyển sang «Đã giải quyết» hoặc «Đã đóng».")


def _has_outcome(session: Session, case: Case) -> bool:
    """An outcome recorded since the case was last reopened (or ever, if it never was)."""
    reopened = session.execute(
        select(CaseEvent.created_at).where(CaseEvent.case_id == case.id,
                                           CaseEvent.action == "reopened")
        .order_by(CaseEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    query = select(CaseOutcome.id).where(CaseOutcome.case_id == case.id)
    if reopened is not None:
        query = query.where(CaseOutcome.created_at >= reopened)
    return session.execute(query.limit(1)).first() is not None


class CaseworkError(ValueError):
    """A refused staff action; ``str(error)`` is a Vietnamese sentence to show the officer."""


# --------------------------------------------------------------------------- visibility


def visible_unit_codes(tree: UnitTree, staff: Staff) -> set[str]:
    """The units whose cases ``staff`` may see: their own and every unit below it.

    A system admin sees every unit of the tree. A unit that has left the tree (deactivated) still
    shows its own cases to its own staff, and nothing else.
    """
    if StaffRole(staff.role) == StaffRole.SYSTEM_ADMIN:
        return {unit.code for unit in tree}
    code = str(staff.unit_code)
    if code not in tree:
        return {code}
    return {code} | {unit.code for unit in tree.descendants(code)}


def case_for_staff(session: Session, case_id: int, staff: Staff, tree: UnitTree) -> Case | None:
    """The case if ``staff`` may see it, else None — the same answer for "hidden" and "absent"."""
    if not staff.active:
        return None
    codes = visible_unit_codes(tree, staff)
    return session.execute(
        select(Case).where(Case.id == case_id, Case.unit_code.in_(sorted(codes)))
    ).scalar_one_or_none()


def _unit_within(session: Session, unit_code: str, ancestor_code: str) -> bool:
    """True when ``unit_code`` is ``ancestor_code`` or lies below it (read from ``units``)."""
    seen: set[str] = set()
    current: str | None = unit_code
    while current is not None and current not in seen:
        if current == ancestor_code:
            return True
        seen.add(current)
        unit = session.get(Unit, current)
        current = unit.parent_code if unit is not None else None
    return False


def _can_see_unit(session: Session, staff: Staff, unit_code: str) -> bool:
    if StaffRole(staff.role) == StaffRole.SYSTEM_ADMIN:
        return True
    return _unit_within(session, unit_code, str(staff.unit_code))


# --------------------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return ensure_aware(now, "now") if now is not None else utcnow()


def _load(session: Session, case_id: int) -> Case:
    """The case, locked for the rest of the transaction (PostgreSQL; SQLite's write lock
    already serialises writers), so two officers acting at once queue instead of interleaving."""
    case = session.execute(
        select(Case).where(Case.id == case_id).with_for_update(of=Case)
    ).scalar_one_or_none()
    if case is None:
        raise CaseworkError("Không tìm thấy hồ sơ.")
    return case


def add_event(
    session: Session,
    case_id: int,
    actor: Actor,
    action: str,
    detail: Mapping[str, Any] | None,
    now: datetime,
) -> None:
    """Append one row to case ``case_id``'s history (``case_events``), by ``actor`` at ``now``:
    the one way casework, forwarding and outcomes write it."""
    session.add(
        CaseEvent(
            case_id=case_id,
            actor_kind=ActorKind(actor.kind),
            actor_id=actor.id,
            action=action,
            detail=dict(detail) if detail is not None else None,
            created_at=now,
        )
    )


def _stamp_first_response(
    session: Session, case: Case, actor: Actor, action: str, now: datetime
) -> None:
    """Append ``first_response`` the first time any staff member acts on the case."""
    if ActorKind(actor.kind) != ActorKind.STAFF:
        return
    session.flush()
    already = session.execute(
        select(CaseEvent.id)
        .where(CaseEvent.case_id == case.id, CaseEvent.action == "first_response")
        .limit(1)
    ).first()
    if already is not None:
        return
    seconds = max(0, int((now - case.created_at).total_seconds()))
    case.first_response_at = now  # the digest's "unanswered" reads this (revision 0011)
    add_event(session, case.id, actor, "first_response", {"seconds": seconds, "by": action}, now)


def clean_text(text: str | None, *, limit: int, what: str, empty: str | None = None) -> str:
    """``text`` stripped, or CaseworkError naming ``what`` when it is empty (``empty`` words
    that instead), holds a NUL (PostgreSQL refuses it) or is over ``limit`` characters."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise CaseworkError(empty or f"{what} không được để trống.")
    if "\x00" in cleaned:
        raise CaseworkError(f"{what} chứa ký tự không hợp lệ.")
    if len(cleaned) > limit:
        raise CaseworkError(f"{what} quá dài (tối đa {limit} ký tự).")
    return cleaned


def _note_row(session: Session, case: Case, text: str, actor: Actor, now: datetime) -> int:
    note = CaseNote(
        case_id=case.id,
        actor_kind=ActorKind(actor.kind),
        actor_id=actor.id,
        text=text,
        created_at=now,
    )
    session.add(note)
    session.flush()
    return int(note.id)


def citizen_target(case: Case) -> str:
    """The outbox ``target`` of a message to the citizen: ``<channel>:<channel user id>``."""
    return f"{case.channel}:{case.channel_user_id}"


def _citizen_payload(case: Case) -> dict[str, Any]:
    """Where a citizen message goes; never name or phone (see ``bot.cases.service``)."""
    return {
        "case_id": case.id,
        "ref_code": case.ref_code,
        "channel": case.channel,
        "channel_user_id": case.channel_user_id,
        "conversation_id": case.conversation_id,
    }


def _outbox(
    session: Session, case: Case, kind: str, target: str, payload: dict[str, Any], now: datetime
) -> int:
    return int(enqueue(session, kind, case_id=case.id, target=target, payload=payload, now=now).id)


# --------------------------------------------------------------------------- actions


def assign(
    session: Session,
    case_id: int,
    staff_id: int | None,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    """Give the case to ``staff_id`` (None: take it back from whoever has it).

    The assignee must be an active staff member who can see the case (of its unit or a unit
    above it, or a system admin).
    """
    now = _now(now)
    case = _load(session, case_id)
    previous = case.assignee_id
    if staff_id is None:
        if previous is None:
            raise CaseworkError("Hồ sơ chưa được giao cho ai.")
    else:
        staff = session.get(Staff, staff_id)
        if staff is None or not staff.active:
            raise CaseworkError("Không tìm thấy cán bộ này hoặc tài khoản đã bị khoá.")
        if not _can_see_unit(session, staff, case.unit_code):
            raise CaseworkError(
                f"Cán bộ {staff.display_name or staff.login} không thuộc đơn vị phụ trách hồ sơ này."
            )
        if previous == staff_id:
            raise CaseworkError(f"Hồ sơ đã được giao cho {staff.display_name or staff.login}.")
    case.assignee_id = staff_id
    case.updated_at = now
    add_event(session, case.id, actor, "assigned", {"from": previous, "to": staff_id}, now)
    _stamp_first_response(session, case, actor, "assigned", now)
    session.flush()


def change_status(
    session: Session,
    case_id: int,
    status: CaseStatus,
    *,
    actor: Actor,
    note: str | None = None,
    now: datetime | None = None,
) -> None:
    """Move the case to ``status`` and queue a ``citizen_status`` message for the citizen.

    ``note`` is kept as an internal note; for "rejected" it is required and is also the reason
    sent to the citizen (payload ``reason``). "resolved" sets payload ``ask_rating: true`` so the
    deliverer asks the citizen for a 1–5 rating.
    """
    now = _now(now)
    try:
        target = CaseStatus(status)
    except ValueError:
        raise CaseworkError("Trạng thái không hợp lệ.") from None
    text = (note or "").strip()
    if target == CaseStatus.REJECTED and not text:
        raise CaseworkError("Khi từ chối hồ sơ, cần ghi rõ lý do.")
    if text:
        text = clean_text(text, limit=MAX_NOTE_CHARS, what="Ghi chú")
    case = _load(session, case_id)
    current = CaseStatus(case.status)
    if target == current:
        raise CaseworkError(f"Hồ sơ đã ở trạng thái «{STATUS_LABELS[current]}».")
    if target not in ALLOWED_TRANSITIONS[current]:
        raise CaseworkError(
            f"Không thể chuyển hồ sơ từ «{STATUS_LABELS[current]}» sang «{STATUS_LABELS[target]}»."
        )
    if (target in CLOSING_STATUSES and ActorKind(actor.kind) == ActorKind.STAFF
            and not _has_outcome(session, case)):
        raise CaseworkError(NO_OUTCOME)
    note_id = _note_row(session, case, text, actor, now) if text else None
    case.status = target
    case.updated_at = now
    add_event(
        session,
        case.id,
        actor,
        "status_changed",
        {"from": current.value, "to": target.value, "note_id": note_id},
        now,
    )
    payload = _citizen_payload(case)
    payload.update(
        {
            "kind": CaseKind(case.kind).value,
            "status": target.value,
            "previous_status": current.value,
            "ask_rating": target == CaseStatus.RESOLVED,
            "reason": text if target == CaseStatus.REJECTED else None,
        }
    )
    _outbox(session, case, OutboxKind.CITIZEN_STATUS, citizen_target(case), payload, now)
    _stamp_first_response(session, case, actor, "status_changed", now)
    session.flush()


def add_note(
    session: Session, case_id: int, text: str, *, actor: Actor, now: datetime | None = None
) -> int:
    """Add an internal note (never sent to the citizen); returns the note id."""
    now = _now(now)
    cleaned = clean_text(text, limit=MAX_NOTE_CHARS, what="Ghi chú")
    case = _load(session, case_id)
    note_id = _note_row(session, case, cleaned, actor, now)
    case.updated_at = now
    add_event(session, case.id, actor, "note_added", {"note_id": note_id}, now)
    _stamp_first_response(session, case, actor, "note_added", now)
    session.flush()
    return note_id


def reply_to_citizen(
    session: Session, case_id: int, text: str, *, actor: Actor, now: datetime | None = None
) -> int:
    """Queue ``text`` for the citizen through their own channel; returns the outbox row id.

    The payload carries ``text``, ``channel``, ``channel_user_id`` and ``conversation_id`` (the
    Rasa sender id, so the reply joins the conversation); the row's status is the delivery state
    the console shows.
    """
    now = _now(now)
    cleaned = clean_text(text, limit=MAX_REPLY_CHARS, what="Nội dung trả lời")
    case = _load(session, case_id)
    payload = _citizen_payload(case)
    payload.update(
        {"text": cleaned, "staff_id": actor.id if actor.kind == ActorKind.STAFF else None}
    )
    outbox_id = _outbox(session, case, OutboxKind.CITIZEN_REPLY, citizen_target(case), payload, now)
    case.updated_at = now
    add_event(session, case.id, actor, "replied", {"outbox_id": outbox_id, "chars": len(cleaned)}, now)
    _stamp_first_response(session, case, actor, "replied", now)
    session.flush()
    return outbox_id


def transfer(
    session: Session,
    case_id: int,
    unit_code: str,
    *,
    actor: Actor,
    note: str | None = None,
    now: datetime | None = None,
) -> None:
    """Move the case to another unit and queue a ``staff_notify`` for that unit's staff.

    The assignee is cleared when they cannot see the new unit. ``note`` (why) is an internal note.
    """
    now = _now(now)
    text = (note or "").strip()
    if text:
        text = clean_text(text, limit=MAX_NOTE_CHARS, what="Ghi chú")
    case = _load(session, case_id)
    unit = session.get(Unit, unit_code) if unit_code else None
    if unit is None or not unit.active:
        raise CaseworkError("Không tìm thấy đơn vị nhận hồ sơ.")
    previous_unit = case.unit_code
    if unit.code == previous_unit:
        raise CaseworkError("Hồ sơ đã thuộc đơn vị này.")
    note_id = _note_row(session, case, text, actor, now) if text else None
    case.unit_code = unit.code
    unassigned = None
    if case.assignee_id is not None:
        assignee = session.get(Staff, case.assignee_id)
        if assignee is None or not _can_see_unit(session, assignee, unit.code):
            unassigned = case.assignee_id
            case.assignee_id = None
    case.updated_at = now
    add_event(
        session,
        case.id,
        actor,
        "transferred",
        {"from": previous_unit, "to": unit.code, "note_id": note_id, "unassigned": unassigned},
        now,
    )
    staff_notice(session, case, unit.code, now, event="transferred",
                 from_unit_code=previous_unit)
    _stamp_first_response(session, case, actor, "transferred", now)
    session.flush()
    # The joined ``unit`` relationship still points at the old row until refreshed.
    session.expire(case, ["unit"])


def record_rating(
    session: Session, case_id: int, rating: int, *, actor: Actor, now: datetime | None = None
) -> None:
    """Store the citizen's 1–5 rating of a finished case (a later rating replaces it)."""
    now = _now(now)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise CaseworkError("Điểm đánh giá phải là một số từ 1 đến 5.")
    case = _load(session, case_id)
    if CaseStatus(case.status) not in TERMINAL_STATUSES:
        raise CaseworkError("Chỉ đánh giá được hồ sơ đã xử lý xong.")
    previous = case.rating
    case.rating = rating
    case.updated_at = now
    add_event(session, case.id, actor, "rated", {"rating": rating, "previous": previous}, now)
    _stamp_first_response(session, case, actor, "rated", now)
    session.flush()
