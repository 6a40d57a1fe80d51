"""Filing a case: the plain service that Rasa actions, hand-offs and quarantine review call.

Every function takes the caller's ``Session`` and never commits: the caller's unit of work
(``bot.db.engine.session_scope``) decides, so a case, its first event and its staff notification
are saved together or not at all. Functions return frozen dataclasses rather than ORM objects, so
results stay usable after the session closes and callers cannot change rows by accident.

Personal data rules kept here: name and phone only with recorded consent; never copied into event
details or outbox payloads (so erasing them from ``cases`` erases them everywhere, see
``bot.cases.privacy``). Looking cases up is ``bot.cases.lookup``; platform message dedupe and the
moderation quarantine are ``bot.cases.inbound``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import (
    ActorKind,
    AttachmentKind,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseKind,
    CaseStatus,
    Unit,
)
from bot.db.refcodes import format_ref_code, month_prefix, next_sequence, resync_counter
from bot.db.types import ensure_aware, utcnow
from bot.delivery.outbox import staff_notice

__all__ = [
    "Actor",
    "AttachmentDraft",
    "CaseDraft",
    "CreatedCase",
    "UnknownUnitError",
    "create_case",
    "normalise_vn_phone",
]

#: How often create_case retries after a reference-code collision before giving up.
MAX_REF_ATTEMPTS = 5


class UnknownUnitError(ValueError):
    """The draft names a unit that is not in the database (run ``bot.knowledge.units.sync_units``)."""


@dataclass(frozen=True)
class Actor:
    """Who caused an event: a citizen (channel user id), the bot, a staff member (id), the system."""

    kind: ActorKind
    id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM)

    @classmethod
    def citizen(cls, channel_user_id: str) -> Actor:
        return cls(ActorKind.CITIZEN, channel_user_id)

    @classmethod
    def staff(cls, staff_id: int) -> Actor:
        return cls(ActorKind.STAFF, str(staff_id))


@dataclass(frozen=True)
class AttachmentDraft:
    """A photo, location or file sent with a case (``payload``: e.g. latitude/longitude)."""

    kind: AttachmentKind
    url: str | None = None
    payload: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class CaseDraft:
    """What the form collected, before it becomes a case.

    ``person_name`` and ``phone`` are refused unless ``consent`` is True; ``consent_at`` defaults
    to the creation time.
    """

    kind: CaseKind
    content: str
    channel: str
    channel_user_id: str
    unit_code: str
    category: str | None = None
    location_text: str | None = None
    conversation_id: str | None = None
    person_name: str | None = None
    phone: str | None = None
    consent: bool = False
    consent_at: datetime | None = None
    moderation_verdict: str | None = None
    sla_due_at: datetime | None = None
    attachments: Sequence[AttachmentDraft] = ()


@dataclass(frozen=True)
class CreatedCase:
    """The result of :func:`create_case`; ``created`` is False for a repeated confirmation."""

    id: int
    ref_code: str
    kind: CaseKind
    status: CaseStatus
    unit_code: str
    created_at: datetime
    created: bool
    #: Other cases of the unit reporting the same problem at the same place (issue 15), when the
    #: filing linked this one to them.
    others_reporting: int = 0


# --------------------------------------------------------------------------- phone numbers

_PHONE_SEPARATORS = re.compile(r"[\s.\-()/\u2010-\u2015]")


def normalise_vn_phone(text: str | None) -> str | None:
    """A Vietnamese phone number in its ``0…`` form, or None when ``text`` is not one.

    Accepts ``0912 345 678``, ``091.234.5678``, ``+84 912 345 678``, ``84912345678``,
    ``(+84) 0912345678`` (the stray 0 after +84 is common). Mobiles: 0 + [35789] + 8 digits;
    landlines: 02 + 9 digits.
    """
    if not text:
        return None
    raw = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    international = raw.startswith("+")
    digits = raw[1:] if international else raw
    if not (digits.isascii() and digits.isdigit()):
        return None
    if digits.startswith("0084"):
        national = digits[4:]
    elif international or digits.startswith("84"):
        if not digits.startswith("84"):
            return None
        national = digits[2:]
        if national.startswith("0"):
            national = national[1:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        return None
    if len(national) == 9 and national[0] in "35789":
        return "0" + national
    if len(national) == 10 and national[0] == "2":
        return "0" + national
    return None


# --------------------------------------------------------------------------- creating cases


def _validated(draft: CaseDraft) -> str | None:
    """Check the draft's invariants; return the normalised phone."""
    if not draft.content or not draft.content.strip():
        raise ValueError("a case needs content")
    if "\x00" in draft.content:
        # PostgreSQL text cannot hold NUL; refuse on SQLite too so behaviour does not differ.
        raise ValueError("content contains a NUL character")
    if not draft.channel or not draft.channel_user_id:
        raise ValueError("a case needs the channel and channel user id it came from")
    if (draft.person_name or draft.phone) and not draft.consent:
        raise ValueError("name and phone may only be stored with recorded consent")
    if draft.phone is None:
        return None
    phone = normalise_vn_phone(draft.phone)
    if phone is None:
        raise ValueError(f"not a Vietnamese phone number: {draft.phone!r}")
    return phone


def _by_idempotency_key(session: Session, key: str) -> Case | None:
    return session.execute(select(Case).where(Case.idempotency_key == key)).scalar_one_or_none()


def _result(case: Case, *, created: bool) -> CreatedCase:
    return CreatedCase(
        id=case.id,
        ref_code=case.ref_code,
        kind=CaseKind(case.kind),
        status=CaseStatus(case.status),
        unit_code=case.unit_code,
        created_at=case.created_at,
        created=created,
    )


def _notify_staff(session: Session, case: Case, now: datetime) -> None:
    """Queue the staff notification; the worker resolves the unit's Telegram chat at delivery."""
    staff_notice(session, case, case.unit_code, now)


def _insert_case(
    session: Session,
    draft: CaseDraft,
    *,
    ref_code: str,
    phone: str | None,
    idempotency_key: str,
    actor: Actor,
    now: datetime,
) -> Case:
    case = Case(
        ref_code=ref_code,
        kind=CaseKind(draft.kind),
        category=draft.category,
        content=draft.content,
        location_text=draft.location_text,
        unit_code=draft.unit_code,
        channel=draft.channel,
        channel_user_id=draft.channel_user_id,
        conversation_id=draft.conversation_id,
        person_name=draft.person_name if draft.consent else None,
        phone=phone if draft.consent else None,
        consent=draft.consent,
        consent_at=(draft.consent_at or now) if draft.consent else None,
        status=CaseStatus.NEW,
        sla_due_at=draft.sla_due_at,
        moderation_verdict=draft.moderation_verdict,
        anonymised=False,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    for attachment in draft.attachments:
        session.add(
            CaseAttachment(
                case_id=case.id,
                kind=AttachmentKind(attachment.kind),
                url=attachment.url,
                payload=dict(attachment.payload) if attachment.payload is not None else None,
                created_at=now,
            )
        )
    session.add(
        CaseEvent(
            case_id=case.id,
            actor_kind=actor.kind,
            actor_id=actor.id,
            action="created",
            detail={
                "ref_code": ref_code,
                "kind": CaseKind(draft.kind).value,
                "channel": draft.channel,
                "attachments": len(draft.attachments),
            },
            created_at=now,
        )
    )
    _notify_staff(session, case, now)
    session.flush()
    return case


def create_case(
    session: Session,
    draft: CaseDraft,
    *,
    idempotency_key: str,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> CreatedCase:
    """Save a case with its ``created`` event and a ``staff_notify`` outbox row.

    All three are written in the caller's transaction (commit it, e.g. with ``session_scope``).
    If a case with ``idempotency_key`` already exists — a repeated "confirm", a redelivered
    message, a concurrent duplicate — that case is returned with ``created=False`` and nothing
    is written. ``actor`` defaults to the citizen who filed the draft.
    """
    if not idempotency_key:
        raise ValueError("idempotency_key is required")
    now = ensure_aware(now, "now") if now is not None else utcnow()
    phone = _validated(draft)
    actor = actor or Actor.citizen(draft.channel_user_id)

    existing = _by_idempotency_key(session, idempotency_key)
    if existing is not None:
        return _result(existing, created=False)
    if session.get(Unit, draft.unit_code) is None:
        raise UnknownUnitError(f"unknown unit code {draft.unit_code!r}")

    prefix = month_prefix(draft.kind, now)
    for _ in range(MAX_REF_ATTEMPTS):
        ref_code = ""
        try:
            # A savepoint, so a collision undoes only this attempt, not the caller's transaction.
            with session.begin_nested():
                ref_code = format_ref_code(prefix, next_sequence(session, prefix))
                case = _insert_case(
                    session,
                    draft,
                    ref_code=ref_code,
                    phone=phone,
                    idempotency_key=idempotency_key,
                    actor=actor,
                    now=now,
                )
            return _result(case, created=True)
        except IntegrityError:
            existing = _by_idempotency_key(session, idempotency_key)
            if existing is not None:  # a concurrent duplicate won the race
                return _result(existing, created=False)
            taken = session.execute(select(Case.id).where(Case.ref_code == ref_code)).first()
            if not ref_code or taken is None:
                raise
            resync_counter(session, prefix)
    raise RuntimeError(f"could not allocate a reference code for {prefix} after retries")
