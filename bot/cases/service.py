"""Cases: the plain service that Rasa actions and the staff service call.

Every function takes the caller's ``Session`` and never commits: the caller's unit of work
(``bot.db.engine.session_scope``) decides, so a case, its first event and its staff notification
are saved together or not at all. Functions return frozen dataclasses rather than ORM objects, so
results stay usable after the session closes and callers cannot change rows by accident.

Personal data rules kept here: name and phone only with recorded consent; never copied into event
details or outbox payloads (so erasing them from ``cases`` erases them everywhere); a status lookup
answers only the channel user who filed the case.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import (
    TERMINAL_STATUSES,
    ActorKind,
    AttachmentKind,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseKind,
    CaseStatus,
    Quarantine,
    SeenMessage,
    Unit,
)
from bot.db.refcodes import (
    format_ref_code,
    month_prefix,
    next_sequence,
    normalise_ref_code,
    resync_counter,
)
from bot.db.types import ensure_aware, utcnow
from bot.delivery.outbox import staff_notice

__all__ = [
    "Actor",
    "AttachmentDraft",
    "CaseDraft",
    "CreatedCase",
    "StatusView",
    "UnknownUnitError",
    "anonymise_citizen",
    "anonymise_closed_older_than",
    "create_case",
    "find_case",
    "get_case_status",
    "last_case_for",
    "normalise_ref_code",
    "normalise_vn_phone",
    "prune_seen_messages",
    "quarantine",
    "record_seen_message",
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


@dataclass(frozen=True)
class StatusView:
    """What a citizen may see about their own case."""

    ref_code: str
    kind: CaseKind
    status: CaseStatus
    category: str | None
    unit_code: str
    unit_name: str
    created_at: datetime
    updated_at: datetime
    rating: int | None


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


# --------------------------------------------------------------------------- reading cases


def _status_view(case: Case) -> StatusView:
    return StatusView(
        ref_code=case.ref_code,
        kind=CaseKind(case.kind),
        status=CaseStatus(case.status),
        category=case.category,
        unit_code=case.unit_code,
        unit_name=case.unit.name,
        created_at=case.created_at,
        updated_at=case.updated_at,
        rating=case.rating,
    )


def find_case(session: Session, ref_code: str) -> Case | None:
    """Staff-side lookup by reference code in any typed form (no owner check: staff only)."""
    code = normalise_ref_code(ref_code)
    if code is None:
        return None
    return session.execute(select(Case).where(Case.ref_code == code)).scalar_one_or_none()


def get_case_status(
    session: Session, ref_code: str, channel: str, channel_user_id: str
) -> StatusView | None:
    """The status of the caller's own case, or None.

    None both when the code does not exist and when it belongs to someone else, in one query, so
    neither the answer nor its timing tells a guesser that a code exists.
    """
    code = normalise_ref_code(ref_code)
    if code is None:
        return None
    case = session.execute(
        select(Case).where(
            Case.ref_code == code,
            Case.channel == channel,
            Case.channel_user_id == channel_user_id,
        )
    ).scalar_one_or_none()
    return _status_view(case) if case is not None else None


def last_case_for(session: Session, channel: str, channel_user_id: str) -> StatusView | None:
    """The most recent case this channel user filed ("what about my last petition?")."""
    case = (
        session.execute(
            select(Case)
            .where(Case.channel == channel, Case.channel_user_id == channel_user_id)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )
    return _status_view(case) if case is not None else None


# --------------------------------------------------------------------------- personal data


#: What replaces a phone number or the citizen's name inside an erased case's texts.
ERASED_PHONE = "[số điện thoại đã xóa]"
ERASED_NAME = "[họ tên đã xóa]"


def scrub_personal(text: str | None, name: str | None) -> str | None:
    """``text`` without phone numbers and without ``name`` (any case): what a citizen typed
    into a case keeps the matter and loses who they are (issue 12: the case text kept
    whatever the citizen wrote in it after "xóa dữ liệu của tôi")."""
    from bot.observability.logs import PHONE_MASK, mask_phones

    if not text:
        return text
    text = mask_phones(text).replace(PHONE_MASK, ERASED_PHONE)
    if name and len(name.strip()) >= 2:
        text = re.sub(re.escape(name.strip()), ERASED_NAME, text, flags=re.IGNORECASE)
    return text


def _anonymise(
    session: Session, case: Case, *, actor: Actor, now: datetime, detail: Mapping[str, Any]
) -> None:
    erased = [name for name in ("person_name", "phone") if getattr(case, name) is not None]
    name = case.person_name
    case.content = scrub_personal(case.content, name) or ""
    case.location_text = scrub_personal(case.location_text, name)
    rows = session.execute(
        select(CaseEvent.id, CaseEvent.detail).where(CaseEvent.case_id == case.id)
    ).all()
    for event_id, event_detail in rows:
        text = event_detail.get("text") if isinstance(event_detail, dict) else None
        if isinstance(text, str):  # the citizen's messages during a handoff, staff replies
            # The one sanctioned rewrite of the append-only trail: the right to erasure (Law
            # 91/2025/QH15, Article 14) outranks it. A bulk UPDATE, so the ORM guard that stops
            # accidental rewrites stays in force everywhere else; the action itself is recorded
            # below as an "anonymised" event.
            session.execute(
                update(CaseEvent).where(CaseEvent.id == event_id)
                .values(detail={**event_detail, "text": scrub_personal(text, name)})
                .execution_options(synchronize_session=False)
            )
    case.person_name = None
    case.phone = None
    case.anonymised = True
    case.updated_at = now
    session.add(
        CaseEvent(
            case_id=case.id,
            actor_kind=actor.kind,
            actor_id=actor.id,
            action="anonymised",
            detail={**detail, "erased": erased},
            created_at=now,
        )
    )


@dataclass(frozen=True)
class HeldData:
    """What one case holds about the citizen who filed it (the right to access)."""

    ref_code: str
    created_at: datetime
    person_name: str | None
    phone: str | None
    anonymised: bool


def personal_data_of(session: Session, channel: str, channel_user_id: str) -> list[HeldData]:
    """Every case this channel user filed, with the personal data it still holds, newest
    first (Law 91/2025/QH15: the citizen may ask what is held about them)."""
    cases = session.execute(
        select(Case).where(Case.channel == channel, Case.channel_user_id == channel_user_id)
        .order_by(Case.created_at.desc(), Case.id.desc())
    ).scalars()
    return [HeldData(c.ref_code, c.created_at, c.person_name, c.phone, bool(c.anonymised))
            for c in cases]


def anonymise_citizen(
    session: Session,
    channel: str,
    channel_user_id: str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> int:
    """Erase name and phone from every case of this channel user ("delete my data").

    The content and the channel user id stay: the first is the record of the matter, the second
    lets the citizen still ask about the case and staff still reply. Returns the number of cases
    changed (already anonymised cases are skipped), one ``anonymised`` event each.
    """
    now = ensure_aware(now, "now") if now is not None else utcnow()
    cases = session.execute(
        select(Case).where(
            Case.channel == channel,
            Case.channel_user_id == channel_user_id,
            Case.anonymised.is_(False),
        )
    ).scalars()
    count = 0
    for case in cases.all():
        _anonymise(session, case, actor=actor, now=now, detail={"reason": "citizen_request"})
        count += 1
    session.flush()
    return count


def anonymise_closed_older_than(session: Session, days: int, now: datetime | None = None) -> int:
    """Retention: anonymise finished cases (resolved, rejected, closed) untouched for ``days``."""
    if days < 0:
        raise ValueError("days must not be negative")
    now = ensure_aware(now, "now") if now is not None else utcnow()
    cutoff = now - timedelta(days=days)
    cases = session.execute(
        select(Case).where(
            Case.status.in_([s.value for s in TERMINAL_STATUSES]),
            Case.updated_at < cutoff,
            Case.anonymised.is_(False),
        )
    ).scalars()
    count = 0
    for case in cases.all():
        _anonymise(
            session,
            case,
            actor=Actor.system(),
            now=now,
            detail={"reason": "retention", "days": days},
        )
        count += 1
    session.flush()
    return count


# --------------------------------------------------------------------------- dedupe, moderation


def record_seen_message(
    session: Session, channel: str, message_id: str, now: datetime | None = None
) -> bool:
    """Remember a platform message id; False if it was already seen (a redelivery).

    Relies on the unique (channel, message_id) constraint with ``ON CONFLICT DO NOTHING``, so two
    workers handling the same redelivery at once cannot both get True.
    """
    now = ensure_aware(now, "now") if now is not None else utcnow()
    values = {"channel": channel, "message_id": message_id, "seen_at": now}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = (
            postgresql.insert(SeenMessage)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["channel", "message_id"])
        )
    elif dialect == "sqlite":
        stmt = (
            sqlite.insert(SeenMessage)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["channel", "message_id"])
        )
    else:  # pragma: no cover - other databases: let the constraint fail inside a savepoint
        try:
            with session.begin_nested():
                session.add(SeenMessage(**values))
            return True
        except IntegrityError:
            return False
    return bool(session.execute(stmt).rowcount == 1)


def prune_seen_messages(session: Session, older_than: datetime) -> int:
    """Forget message ids seen before ``older_than`` (platforms redeliver within hours)."""
    result = session.execute(
        delete(SeenMessage).where(SeenMessage.seen_at < ensure_aware(older_than, "older_than"))
    )
    return int(result.rowcount)


def quarantine(
    session: Session,
    *,
    channel: str,
    channel_user_id: str,
    text: str,
    reason: str,
    category: str | None = None,
    now: datetime | None = None,
) -> int:
    """Hold a message that moderation stopped, exactly as typed, for a person to review."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    row = Quarantine(
        channel=channel,
        channel_user_id=channel_user_id,
        text=text,
        category=category,
        reason=reason,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return int(row.id)
