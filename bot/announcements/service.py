"""Composing and approving announcements: the four-eyes rule, and the audit trail of each step.

A unit_admin writes an announcement for their unit (or units below it), for one topic; it is a
draft until submitted. A *second* unit_admin of the same unit approves it (to go now, or at a
time) or rejects it with a reason; the author can never approve their own. Every step is an
``announcement_events`` row (who, what, when). Each function is one step inside the caller's
transaction and raises :class:`AnnouncementError` with a stable ``code`` the console words.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import (
    SUBSCRIPTION_TOPICS,
    Announcement,
    AnnouncementEvent,
    AnnouncementStatus,
    Staff,
    StaffRole,
)

__all__ = [
    "EDITABLE",
    "MAX_TEXT",
    "AnnouncementError",
    "approve",
    "cancel",
    "create",
    "events_of",
    "may_approve",
    "record_event",
    "reject",
    "submit",
]

#: Longest text an author may write (Messenger and Zalo take 2,000 a message; longer is split).
MAX_TEXT = 4000
#: States an announcement can still be withdrawn from.
EDITABLE = frozenset(
    {
        AnnouncementStatus.DRAFT,
        AnnouncementStatus.PENDING_APPROVAL,
        AnnouncementStatus.APPROVED,
        AnnouncementStatus.SCHEDULED,
    }
)


class AnnouncementError(Exception):
    """A refused step; ``code`` is one of: not_admin, other_unit, own_announcement, bad_state,
    empty_text, text_too_long, bad_topic, bad_unit, bad_url, schedule_past, reason_required,
    not_found."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        super().__init__(f"{code}: {detail}" if detail else code)


def record_event(
    session: Session,
    announcement: Announcement,
    action: str,
    *,
    staff_id: int | None,
    now: datetime,
    **detail: Any,
) -> None:
    session.add(
        AnnouncementEvent(
            announcement_id=announcement.id,
            staff_id=staff_id,
            action=action,
            detail=detail or None,
            created_at=now,
        )
    )


def events_of(session: Session, announcement_id: int) -> list[AnnouncementEvent]:
    return list(
        session.execute(
            select(AnnouncementEvent)
            .where(AnnouncementEvent.announcement_id == announcement_id)
            .order_by(AnnouncementEvent.id)
        ).scalars()
    )


def _admin(staff: Staff) -> None:
    if StaffRole(staff.role) != StaffRole.UNIT_ADMIN:
        raise AnnouncementError("not_admin")


def _url(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    parsed = urlparse(value)
    if (
        parsed.scheme not in ("https", "http")
        or not parsed.netloc
        or any(c.isspace() for c in value)
    ):
        raise AnnouncementError("bad_url", value[:80])
    return value


def create(
    session: Session,
    author: Staff,
    *,
    text: str,
    topic: str,
    target_units: Iterable[str],
    allowed_units: Collection[str],
    image_url: str | None = None,
    link_url: str | None = None,
    submit_now: bool = False,
    now: datetime,
) -> Announcement:
    """A new draft (or, with ``submit_now``, one waiting for approval) by ``author``.

    ``allowed_units``: the units the author may address (their own and those below it)."""
    _admin(author)
    text = (text or "").strip()
    if not text:
        raise AnnouncementError("empty_text")
    if len(text) > MAX_TEXT:
        raise AnnouncementError("text_too_long")
    if topic not in SUBSCRIPTION_TOPICS:
        raise AnnouncementError("bad_topic", topic)
    units = sorted(set(target_units))
    if not units or any(u not in allowed_units for u in units):
        raise AnnouncementError("bad_unit", ",".join(units))
    announcement = Announcement(
        unit_code=author.unit_code,
        target_units=units,
        topic=topic,
        text=text,
        image_url=_url(image_url),
        link_url=_url(link_url),
        status=AnnouncementStatus.DRAFT,
        author_id=author.id,
        created_at=now,
        updated_at=now,
    )
    session.add(announcement)
    session.flush()
    record_event(
        session,
        announcement,
        "created",
        staff_id=int(author.id),
        now=now,
        topic=topic,
        units=units,
        chars=len(text),
    )
    if submit_now:
        submit(session, announcement, author, now=now)
    return announcement


def _same_unit(announcement: Announcement, staff: Staff) -> None:
    if staff.unit_code != announcement.unit_code:
        raise AnnouncementError("other_unit")


def submit(session: Session, announcement: Announcement, staff: Staff, *, now: datetime) -> None:
    """Draft → waiting for a second person's approval (the author, or another admin of the unit)."""
    _admin(staff)
    _same_unit(announcement, staff)
    if AnnouncementStatus(announcement.status) != AnnouncementStatus.DRAFT:
        raise AnnouncementError("bad_state", announcement.status)
    announcement.status = AnnouncementStatus.PENDING_APPROVAL
    announcement.submitted_at = now
    record_event(session, announcement, "submitted", staff_id=int(staff.id), now=now)


def may_approve(announcement: Announcement, staff: Staff) -> bool:
    """The four-eyes rule: a unit_admin of the announcement's unit who did not write it."""
    return (
        StaffRole(staff.role) == StaffRole.UNIT_ADMIN
        and staff.unit_code == announcement.unit_code
        and int(staff.id) != int(announcement.author_id)
        and AnnouncementStatus(announcement.status) == AnnouncementStatus.PENDING_APPROVAL
    )


def _decider(announcement: Announcement, staff: Staff) -> None:
    _admin(staff)
    _same_unit(announcement, staff)
    if int(staff.id) == int(announcement.author_id):
        raise AnnouncementError("own_announcement")
    if AnnouncementStatus(announcement.status) != AnnouncementStatus.PENDING_APPROVAL:
        raise AnnouncementError("bad_state", announcement.status)


def approve(
    session: Session,
    announcement: Announcement,
    staff: Staff,
    *,
    now: datetime,
    send_at: datetime | None = None,
) -> None:
    """Approve: it goes out now (the worker picks it up) or at ``send_at``."""
    _decider(announcement, staff)
    if send_at is not None and send_at <= now:
        raise AnnouncementError("schedule_past")
    announcement.approver_id = staff.id
    announcement.decided_at = now
    announcement.scheduled_at = send_at or now
    announcement.status = (
        AnnouncementStatus.SCHEDULED if send_at is not None else AnnouncementStatus.APPROVED
    )
    record_event(
        session,
        announcement,
        "approved",
        staff_id=int(staff.id),
        now=now,
        send_at=send_at.isoformat() if send_at else None,
    )


def reject(
    session: Session, announcement: Announcement, staff: Staff, *, reason: str, now: datetime
) -> None:
    _decider(announcement, staff)
    reason = (reason or "").strip()
    if not reason:
        raise AnnouncementError("reason_required")
    announcement.approver_id = staff.id
    announcement.decided_at = now
    announcement.decision_note = reason
    announcement.status = AnnouncementStatus.REJECTED
    record_event(session, announcement, "rejected", staff_id=int(staff.id), now=now, reason=reason)


def cancel(session: Session, announcement: Announcement, staff: Staff, *, now: datetime) -> None:
    """Withdraw before it starts going out (any unit_admin of the unit, the author included)."""
    _admin(staff)
    _same_unit(announcement, staff)
    if AnnouncementStatus(announcement.status) not in EDITABLE:
        raise AnnouncementError("bad_state", announcement.status)
    announcement.status = AnnouncementStatus.CANCELLED
    record_event(session, announcement, "cancelled", staff_id=int(staff.id), now=now)
