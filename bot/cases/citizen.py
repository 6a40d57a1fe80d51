"""What a citizen asks of the case store from a conversation, one unit of work per call (and,
issue 16, of their subscription to announcements: ``bot.announcements.subscriptions``).

Each citizen request is one function that takes plain values, opens its own transaction on the
process engine (``bot.db.runtime.get_engine``) and returns plain results (frozen dataclasses,
counts, reference codes). The chat actions only read the tracker, call one of these and word the
reply: they know nothing of sessions, queries or the database's errors (tests/test_architecture.py
keeps it so), and another front end can serve the same requests.

Every function blocks on the database: async callers run it with ``asyncio.to_thread`` so the
action server's event loop keeps serving other conversations meanwhile. A database that cannot
do the work raises :class:`StoreUnavailable`; the caller tells the citizen to try again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.announcements import subscriptions
from bot.announcements.subscriptions import SubscriptionView
from bot.cases.casework import record_rating
from bot.cases.handoff import forward_citizen_message, open_handoff, start_handoff
from bot.cases.legal_type import LegalTypeGuess, protects_identity
from bot.cases.legal_type import classify as classify_legal_type
from bot.cases.legal_type_record import set_legal_type
from bot.cases.linking import cluster_size, link_case
from bot.cases.lookup import StatusView, get_case_status, last_case_for
from bot.cases.privacy import HeldData, anonymise_citizen, personal_data_of
from bot.cases.questions import record_question
from bot.cases.routing import plan_case
from bot.cases.service import Actor, AttachmentDraft, CaseDraft, CreatedCase, create_case
from bot.cases.status import last_public_reply
from bot.db.engine import session_scope
from bot.db.models import ActorKind, Case
from bot.db.models import QuestionKind as QuestionKind  # for the actions (no models there)
from bot.db.runtime import get_engine
from bot.knowledge.content import unit_tree
from bot.knowledge.units import UnitInfo
from bot.moderation.gate import CLEAN, RUDE, THREAT

#: How soon a person must look at a case with a threat of violence, at the latest.
THREAT_RESPONSE = timedelta(hours=4)


logger = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The database could not do the work (down, refused, timed out); the transaction was
    rolled back, so asking again is safe.

    Its text is the underlying error's, for the log; it is never shown to a citizen."""


@contextmanager
def _unit_of_work(
    *, read_only: bool = False, also: tuple[type[BaseException], ...] = ()
) -> Iterator[Session]:
    """A session on the process engine; a database error leaves as :class:`StoreUnavailable`.

    ``also`` names further errors that mean the same (an unreachable database file raises
    ``OSError`` while the engine is first made)."""
    try:
        with session_scope(get_engine(), read_only=read_only) as session:
            yield session
    except (SQLAlchemyError, *also) as error:
        raise StoreUnavailable(str(error)) from error


# --------------------------------------------------------------------------- filing a case


def worst_marker(*markers: str | None) -> str:
    """The most serious of the moderation markers seen while the case was written."""
    order = [CLEAN, RUDE, THREAT]
    return max((m if m in order else CLEAN for m in markers), key=order.index)


def submit_case(
    *,
    kind: str,
    content: str,
    channel: str,
    channel_user_id: str,
    unit_code: str | None,
    category: str | None,
    location: str | None,
    consent: bool,
    person_name: str | None,
    phone: str | None,
    moderation_marker: str | None,
    attachments: Sequence[Mapping[str, Any]],
    idempotency_key: str,
) -> CreatedCase:
    """Route, deadline and save the confirmed case once (a repeated key returns the saved one).

    Routing rules may send a category elsewhere (content/routing.yml); deadlines count working
    hours (content/calendar.yml); a threat of violence is looked at first. Name and phone are
    kept only with consent. The conversation is the channel user's own (``conversation_id``)."""
    now = datetime.now(timezone.utc)
    plan = plan_case(unit_tree(), unit_code, category, now)
    marker = worst_marker(moderation_marker)
    due = plan.first_response_due
    if marker == THREAT:
        due = min(due, now + THREAT_RESPONSE) if due is not None else now + THREAT_RESPONSE
    draft = CaseDraft(
        kind=kind,  # type: ignore[arg-type]
        content=content,
        channel=channel,
        channel_user_id=channel_user_id,
        conversation_id=channel_user_id,
        unit_code=plan.unit_code,
        sla_due_at=due,
        category=category,
        location_text=location,
        person_name=(person_name or None) if consent else None,
        phone=(phone or None) if consent else None,
        consent=consent,
        moderation_verdict=marker,
        attachments=[
            AttachmentDraft(kind=a["kind"], url=a.get("url"), payload=a.get("payload"))
            for a in attachments
        ],
    )
    with _unit_of_work(also=(OSError,)) as session:
        created = create_case(session, draft, idempotency_key=idempotency_key)
        if not created.created or kind != "petition":
            return created
        return replace(created, others_reporting=_link_same_issue(session, created.id))


def _link_same_issue(session: Session, case_id: int) -> int:
    """Link a new petition to the open ones of its unit about the same problem at the same place
    (issue 15); how many others reported it. In a savepoint: a failure here must not lose the
    case the citizen is about to be told is saved."""
    try:
        with session.begin_nested():
            case = session.get(Case, case_id)
            if case is None:
                return 0
            cluster = link_case(session, case)
            return cluster_size(session, cluster) - 1 if cluster is not None else 0
    except SQLAlchemyError:
        logger.exception("case %s saved but not linked to its same-issue cluster", case_id)
        return 0


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class StatusAnswer:
    """A citizen's own case and the newest reply staff sent on it."""

    view: StatusView
    staff_reply: str | None


def look_up_status(code: str | None, channel: str, channel_user_id: str) -> StatusAnswer | None:
    """The case with ``code`` if this channel user filed it, else (no code) their last case;
    None when there is none (the same whether a code does not exist or is someone else's)."""
    with _unit_of_work(read_only=True) as session:
        view = (
            get_case_status(session, code, channel, channel_user_id)
            if code
            else last_case_for(session, channel, channel_user_id)
        )
        if view is None:
            return None
        return StatusAnswer(view, last_public_reply(session, view.ref_code))


# --------------------------------------------------------------------------- a person


@dataclass(frozen=True)
class StartedHandoff:
    """The handoff case the conversation is in, and the unit whose staff take it."""

    unit: UnitInfo
    ref_code: str


def request_person(
    channel: str, channel_user_id: str, named_units: Sequence[object], said: str
) -> StartedHandoff:
    """Open (or, asked again, return) the conversation's handoff case; ``said`` is the
    citizen's request, recorded for staff.

    The unit is the first of ``named_units`` (unit codes the conversation holds: a place it
    named, the form being filled) that exists, else the unit of the citizen's last case (issue
    11: right after filing to phường Láng, "gặp cán bộ" went to the city), else the province."""
    tree = unit_tree()
    with _unit_of_work() as session:
        named = (tree.get(code) if isinstance(code, str) and code else None
                 for code in named_units)
        unit = next((u for u in named if u is not None), None)
        if unit is None:
            last = last_case_for(session, channel, channel_user_id)
            known = tree.get(last.unit_code) if last is not None else None
            unit = known if known is not None else tree.province()
        created = start_handoff(
            session,
            channel=channel,
            channel_user_id=channel_user_id,
            conversation_id=channel_user_id,
            unit_code=unit.code,
            reason=f"Công dân đề nghị gặp cán bộ: {said}"[:2000],
            idempotency_key=f"handoff-{channel_user_id}-{uuid.uuid4()}",
        )
    return StartedHandoff(unit, created.ref_code)


def forward_to_person(
    channel: str, channel_user_id: str, text: str, attachments: list[dict[str, Any]]
) -> str | None:
    """Append the citizen's message to their open handoff case and notify its staff; the case's
    reference code, or None when no handoff is open (staff closed it meanwhile)."""
    with _unit_of_work() as session:
        case = open_handoff(session, channel, channel_user_id)
        if case is None:
            return None
        forward_citizen_message(session, case, text, attachments=attachments)
        return case.ref_code


@dataclass(frozen=True)
class RatedCase:
    """A stored rating; ``reopen_days`` > 0 when the citizen may reopen the case (rated 1–2
    within ``REOPEN_DAYS`` of its end, issue 17 item 5), 0 otherwise."""

    ref_code: str
    reopen_days: int = 0


def rate_case(ref_code: str, channel_user_id: str, rating: int) -> RatedCase | None:
    """Store the citizen's 1–5 rating on their finished case; None when the code is not one
    of theirs. A case not finished raises :class:`bot.cases.casework.CaseworkError`."""
    from bot.cases.outcome import reopen_offer
    from bot.settings import reopen_days

    with _unit_of_work() as session:
        case = session.execute(
            select(Case).where(Case.ref_code == ref_code, Case.channel_user_id == channel_user_id)
        ).scalar_one_or_none()
        if case is None:
            return None
        record_rating(session, case.id, rating, actor=Actor.citizen(channel_user_id))
        offered = reopen_offer(session, case)
        return RatedCase(case.ref_code, reopen_days() if offered else 0)


def reopen_my_case(ref_code: str, channel_user_id: str) -> bool | None:
    """The citizen asks to reopen their own finished case after rating it 1–2: True when it
    was reopened, False when it may not be (too late, not rated so, not finished), None when the
    code is not one of theirs. History and clocks are kept (``bot.cases.outcome``)."""
    from bot.cases.outcome import reopen_case

    with _unit_of_work() as session:
        case = session.execute(
            select(Case).where(Case.ref_code == ref_code, Case.channel_user_id == channel_user_id)
        ).scalar_one_or_none()
        if case is None:
            return None
        return reopen_case(session, case.id, actor=Actor.citizen(channel_user_id))


# --------------------------------------------------------------------------- personal data


@dataclass(frozen=True)
class Held:
    """What is held about a channel user: their cases (newest first) and their subscription to
    announcements with its consent record (issue 16), if any."""

    cases: list[HeldData]
    subscription: SubscriptionView | None


def held_data(channel: str, channel_user_id: str) -> Held:
    """What every case of this channel user holds about them, and their subscription."""
    with _unit_of_work(read_only=True) as session:
        return Held(personal_data_of(session, channel, channel_user_id),
                    subscriptions.subscription_of(session, channel, channel_user_id))


@dataclass(frozen=True)
class Erased:
    """What an erasure changed: cases anonymised, subscriptions deleted (with their record)."""

    cases: int
    subscriptions: int


def erase_personal_data(
    channel: str, channel_user_id: str, *, redact_conversation: Callable[[str], object]
) -> Erased:
    """Erase name and phone from the citizen's cases and delete their subscription to
    announcements with its consent record (issue 16), in one transaction; then what they typed
    from the conversation store.

    The conversation store is Rasa's, so the caller hands in how to redact it
    (``bot.conversation.erasure``); a failure there is reported like one of the case store (the
    cases stay erased, and asking again redacts the rest)."""
    with _unit_of_work() as session:
        count = anonymise_citizen(session, channel, channel_user_id,
                                  actor=Actor(ActorKind.CITIZEN, channel_user_id))
        subscribed = subscriptions.erase_subscriptions(session, channel, channel_user_id)
    try:
        redact_conversation(channel_user_id)
    except SQLAlchemyError as error:
        raise StoreUnavailable(str(error)) from error
    return Erased(count, subscribed)


# --------------------------------------------------------------------------- announcements


def subscription_status(channel: str, channel_user_id: str) -> SubscriptionView | None:
    """The citizen's subscription to announcements (active or withdrawn), None if never."""
    with _unit_of_work(read_only=True, also=(OSError,)) as session:
        return subscriptions.subscription_of(session, channel, channel_user_id)


def subscribe_to_announcements(
    channel: str, channel_user_id: str, unit_code: str, topics: Sequence[str],
    consent_version: str,
) -> SubscriptionView:
    """Record the consent the citizen just gave: the ward's announcements on ``topics``, in
    this channel (a subscription already active is changed; ``subscribe`` or ``update``)."""
    with _unit_of_work(also=(OSError,)) as session:
        return subscriptions.subscribe(session, channel, channel_user_id, unit_code, topics,
                                       consent_version)


def withdraw_from_announcements(channel: str, channel_user_id: str) -> bool:
    """"Hủy nhận tin": nothing more is sent; True when an active subscription was withdrawn,
    False when there was none (asking again is safe)."""
    with _unit_of_work(also=(OSError,)) as session:
        return subscriptions.withdraw(session, channel, channel_user_id)


# --------------------------------------------------------------------------- legal type


def record_legal_type(case_id: int, content: str) -> LegalTypeGuess:
    """Classify a just-filed petition as phản ánh, kiến nghị, khiếu nại or tố cáo (issue 17) and
    keep the guess on the case, marked as the classifier's; staff can change it, and the
    citizen can pick another when the guess is unsure. A guess of another type that may still
    be a tố cáo keeps the sender protected (:func:`bot.cases.legal_type.protects_identity`)."""
    guess = classify_legal_type(content)
    with _unit_of_work() as session:
        set_legal_type(session, case_id, guess.type, Actor.system(), source="classifier",
                       confidence=guess.confidence, protect_identity=protects_identity(guess))
    return guess


def choose_legal_type(ref_code: str, channel_user_id: str, legal_type: str) -> bool:
    """The citizen says which kind their own case is (a button after an unsure guess); False
    when the code is not one of theirs."""
    with _unit_of_work() as session:
        case = session.execute(
            select(Case).where(Case.ref_code == ref_code,
                               Case.channel_user_id == channel_user_id)
        ).scalar_one_or_none()
        if case is None:
            return False
        set_legal_type(session, case.id, legal_type, Actor.citizen(channel_user_id))
        return True


# --------------------------------------------------------------------------- questions (issue 15)


def note_question(kind: str, *, unit_code: str | None = None, programme: str | None = None,
                  aspect: str | None = None, text: str | None = None) -> None:
    """Record a question the citizen asked the assistant, for the digest's trainers' section
    (:mod:`bot.cases.questions`: who asked is not kept; the words only, masked, when it could
    not be answered)."""
    with _unit_of_work(also=(OSError,)) as session:
        record_question(session, kind, unit_code=unit_code, programme=programme, aspect=aspect,
                        text=text)
