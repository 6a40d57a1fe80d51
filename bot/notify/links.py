"""One-time codes that link Telegram to the feedback database.

* **A unit's group**: a unit admin gets a code (console, or ``python -m bot.notify link-code
  --unit p_lang``) and posts ``/lienket <code>`` in the group; the bot stores the group's chat id
  on the unit. The code row records who asked for it and who used it in which chat.
* **An officer's account**: the officer gets a personal code (``python -m bot.notify member-code
  --login ...``) and sends ``/canbo <code>`` to the bot, in the group or in a private chat; their
  Telegram user id is then linked to their staff account. Only linked, active staff may press case
  buttons or reply to citizens from Telegram.

Codes are random (40 bits, from an alphabet without look-alike characters), stored only as their
SHA-256, expire (30 minutes for a group, 15 for an officer by default) and are used once: the use
is a guarded ``UPDATE … WHERE used_at IS NULL AND expires_at > now`` whose row count decides, so
two people racing with one code cannot both succeed.

Like ``bot.cases.service``, every function takes the caller's session and never commits.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db.models import Outbox, OutboxStatus, Staff, TelegramLinkCode, TelegramMember, Unit
from bot.db.types import ensure_aware, utcnow
from bot.delivery.senders import STAFF_KINDS

__all__ = [
    "GROUP_CODE_TTL",
    "MEMBER_CODE_TTL",
    "GroupLink",
    "LinkError",
    "MemberLink",
    "create_group_link_code",
    "create_member_link_code",
    "link_group",
    "link_member",
    "linked_staff",
    "migrate_chat",
    "normalise_code",
    "unlink_member",
]

GROUP_CODE_TTL = timedelta(minutes=30)
MEMBER_CODE_TTL = timedelta(minutes=15)

#: Upper-case letters and digits without 0/O, 1/I/L, 5/S, 8/B: easy to read aloud and type.
_ALPHABET = "ACDEFGHJKMNPQRTUVWXY234679"
_CODE_LENGTH = 8
_NOT_CODE = re.compile(r"[^A-Z0-9]")


class LinkError(ValueError):
    """The code is unknown, expired, already used or meant for something else (Vietnamese text)."""


@dataclass(frozen=True)
class GroupLink:
    unit_code: str
    unit_name: str
    chat_id: int
    previous_chat_id: int | None


@dataclass(frozen=True)
class MemberLink:
    staff_id: int
    staff_name: str
    unit_code: str


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def normalise_code(text: str) -> str:
    """``abcd-efgh``, ``ABCD EFGH`` → ``ABCDEFGH`` (what is hashed)."""
    return _NOT_CODE.sub("", text.upper())


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def _now(now: datetime | None) -> datetime:
    return ensure_aware(now, "now") if now is not None else utcnow()


def _store(
    session: Session,
    *,
    purpose: str,
    unit_code: str,
    staff_id: int | None,
    created_by: int | None,
    ttl: timedelta,
    now: datetime,
) -> str:
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    code = _new_code()
    session.add(
        TelegramLinkCode(
            code_hash=_hash(normalise_code(code)),
            purpose=purpose,
            unit_code=unit_code,
            staff_id=staff_id,
            created_by=created_by,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    session.flush()
    return code


def create_group_link_code(
    session: Session,
    unit_code: str,
    *,
    created_by: int | None = None,
    ttl: timedelta = GROUP_CODE_TTL,
    now: datetime | None = None,
) -> str:
    """A code that links the group it is posted in (``/lienket <code>``) to ``unit_code``."""
    unit = session.get(Unit, unit_code)
    if unit is None or not unit.active:
        raise LinkError(f"Không có đơn vị {unit_code!r}.")
    return _store(
        session,
        purpose="group",
        unit_code=unit_code,
        staff_id=None,
        created_by=created_by,
        ttl=ttl,
        now=_now(now),
    )


def create_member_link_code(
    session: Session,
    staff_id: int,
    *,
    created_by: int | None = None,
    ttl: timedelta = MEMBER_CODE_TTL,
    now: datetime | None = None,
) -> str:
    """A personal code that links the Telegram account sending ``/canbo <code>`` to ``staff_id``."""
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise LinkError("Không tìm thấy cán bộ hoặc tài khoản đã bị khoá.")
    return _store(
        session,
        purpose="member",
        unit_code=staff.unit_code,
        staff_id=staff.id,
        created_by=created_by,
        ttl=ttl,
        now=_now(now),
    )


def _use(
    session: Session,
    code: str,
    purpose: str,
    *,
    telegram_user_id: int,
    chat_id: int,
    now: datetime,
) -> TelegramLinkCode:
    """Mark the code used (exactly once) and return its row, or raise :class:`LinkError`."""
    normalised = normalise_code(code)
    if len(normalised) != _CODE_LENGTH:
        raise LinkError("Mã liên kết không đúng.")
    code_hash = _hash(normalised)
    result = session.execute(
        update(TelegramLinkCode)
        .where(
            TelegramLinkCode.code_hash == code_hash,
            TelegramLinkCode.purpose == purpose,
            TelegramLinkCode.used_at.is_(None),
            TelegramLinkCode.expires_at > now,
        )
        .values(used_at=now, used_by_telegram_user_id=telegram_user_id, used_in_chat_id=chat_id)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(
        select(TelegramLinkCode)
        .where(TelegramLinkCode.code_hash == code_hash)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if result.rowcount == 1 and row is not None:
        return row
    if row is None or row.purpose != purpose:
        raise LinkError("Mã liên kết không đúng.")
    if row.used_at is not None:
        raise LinkError("Mã liên kết này đã được dùng. Hãy xin mã mới.")
    raise LinkError("Mã liên kết đã hết hạn. Hãy xin mã mới.")


def _wake_waiting_staff_rows(session: Session, now: datetime) -> int:
    """Cases filed before any group was linked wait in the outbox (``DeliveryResult.later``);
    a new link makes them due now, so they are posted at once, not at their next retry (issue 14
    item 5). Rows that still have no group go back to waiting on their own."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.status == OutboxStatus.PENDING, Outbox.kind.in_(list(STAFF_KINDS)),
               Outbox.next_attempt_at > now)
        .values(next_attempt_at=now)
    )
    return int(result.rowcount or 0)


def link_group(
    session: Session,
    code: str,
    *,
    chat_id: int,
    telegram_user_id: int,
    now: datetime | None = None,
) -> GroupLink:
    """Use a group code: the unit's notifications go to ``chat_id`` from now on."""
    row = _use(
        session, code, "group", telegram_user_id=telegram_user_id, chat_id=chat_id, now=_now(now)
    )
    unit = session.get(Unit, row.unit_code)
    if unit is None or not unit.active:
        raise LinkError("Đơn vị của mã này không còn hoạt động.")
    previous = unit.telegram_chat_id
    unit.telegram_chat_id = chat_id
    session.flush()
    _wake_waiting_staff_rows(session, _now(now))
    return GroupLink(
        unit_code=unit.code,
        unit_name=unit.short_name or unit.name,
        chat_id=chat_id,
        previous_chat_id=previous if previous != chat_id else None,
    )


def link_member(
    session: Session,
    code: str,
    *,
    telegram_user_id: int,
    chat_id: int,
    username: str | None = None,
    now: datetime | None = None,
) -> MemberLink:
    """Use a personal code: ``telegram_user_id`` acts as that staff member from now on.

    A staff member has one linked account and an account one staff member: linking again moves
    the link (a new phone), replacing the old one.
    """
    now = _now(now)
    row = _use(session, code, "member", telegram_user_id=telegram_user_id, chat_id=chat_id, now=now)
    staff = session.get(Staff, row.staff_id) if row.staff_id is not None else None
    if staff is None or not staff.active:
        raise LinkError("Tài khoản cán bộ của mã này không còn hoạt động.")
    for old in session.execute(
        select(TelegramMember).where(
            (TelegramMember.telegram_user_id == telegram_user_id)
            | (TelegramMember.staff_id == staff.id)
        )
    ).scalars():
        session.delete(old)
    session.flush()
    session.add(
        TelegramMember(
            telegram_user_id=telegram_user_id,
            staff_id=staff.id,
            telegram_username=username[:64] if username else None,
            linked_at=now,
            link_code_id=row.id,
        )
    )
    session.flush()
    return MemberLink(
        staff_id=staff.id, staff_name=staff.display_name or staff.login, unit_code=staff.unit_code
    )


def unlink_member(session: Session, staff_id: int) -> bool:
    """Forget the Telegram account of ``staff_id`` (a lost phone, a staff member leaving)."""
    member = session.execute(
        select(TelegramMember).where(TelegramMember.staff_id == staff_id)
    ).scalar_one_or_none()
    if member is None:
        return False
    session.delete(member)
    session.flush()
    return True


def linked_staff(session: Session, telegram_user_id: int) -> Staff | None:
    """The active staff member this Telegram account is linked to, or None."""
    return session.execute(
        select(Staff)
        .join(TelegramMember, TelegramMember.staff_id == Staff.id)
        .where(TelegramMember.telegram_user_id == telegram_user_id, Staff.active.is_(True))
    ).scalar_one_or_none()


def migrate_chat(session: Session, old_chat_id: int, new_chat_id: int) -> int:
    """A group became a supergroup and got a new id: move every unit linked to the old one."""
    result = session.execute(
        update(Unit)
        .where(Unit.telegram_chat_id == old_chat_id)
        .values(telegram_chat_id=new_chat_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)
