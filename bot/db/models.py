"""The feedback database: units, staff, cases and their audit trail, the outbox, dedupe records.

The database, not the chat transcript, is the record of a case (DESIGN.md, "Data model"), so the
rules that must never be broken live here as constraints rather than in callers: unique reference
codes and idempotency keys, one row per seen platform message, ratings 1–5, known status values.

SQLAlchemy 1.4 has no ``Mapped[...]``/``mapped_column`` typed declarative mapping, so every column
documents its Python type in a trailing comment. Enumerations are stored as short strings with a
named CHECK constraint (not PostgreSQL enum types), so adding a value later is a plain migration on
both databases. Every constraint is named by :data:`NAMING_CONVENTION` so Alembic's batch mode can
alter SQLite tables and later migrations can drop constraints by name.

Keep ``bot/db/migrations`` in step with this module: ``tests/unit/test_db_migrations.py`` fails when
the migrated schema and these models differ.

Why this is one module: it is the schema. Every table shares one ``MetaData`` and naming
convention, and the migration test compares the whole of it with what the migrations build;
someone writing a migration reads the schema here in one place.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import declarative_base, relationship

from bot.db.types import JSONText, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Base: Any = declarative_base(metadata=metadata)


class StaffRole(str, enum.Enum):
    OFFICER = "officer"
    UNIT_ADMIN = "unit_admin"
    SYSTEM_ADMIN = "system_admin"


class CaseKind(str, enum.Enum):
    FEEDBACK = "feedback"  # góp ý
    PETITION = "petition"  # phản ánh, kiến nghị
    HANDOFF = "handoff"  # a conversation handed to a person


class CaseStatus(str, enum.Enum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    CLOSED = "closed"


#: Statuses after which staff no longer work a case (retention counts from these).
TERMINAL_STATUSES = frozenset({CaseStatus.RESOLVED, CaseStatus.REJECTED, CaseStatus.CLOSED})


class AttachmentKind(str, enum.Enum):
    IMAGE = "image"
    LOCATION = "location"
    FILE = "file"


class ActorKind(str, enum.Enum):
    CITIZEN = "citizen"
    BOT = "bot"
    STAFF = "staff"
    SYSTEM = "system"


class OutboxStatus(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after retries
    UNDELIVERABLE = "undeliverable"  # the platform refuses (e.g. outside Zalo's window)


class OutboxKind:
    """Every outbox kind, in one list; the column is open-ended so a new kind needs no migration.
    Rows are written only by :func:`bot.delivery.outbox.enqueue`."""

    STAFF_NOTIFY = "staff_notify"  # a new or transferred case → the unit's group
    OVERDUE = "overdue"  # a missed deadline → the unit's group (written by the overdue scan)
    CITIZEN_MESSAGE = "citizen_message"  # a citizen wrote again on a case → the unit's group
    CITIZEN_REPLY = "citizen_reply"  # staff reply → the citizen's channel
    CITIZEN_STATUS = "citizen_status"  # status change → the citizen's channel
    CITIZEN_HANDBACK = "citizen_handback"  # a handoff ended → the citizen's conversation
    DAILY_SUMMARY = "daily_summary"  # the morning counts → the unit's group (no case)
    #: A forwarded case whose body's answer is due soon or late → the unit's group, naming the
    #: officer in charge (written by the follow-up scan, ``bot.cases.forwarding``).
    FOLLOW_UP = "follow_up"
    WEEKLY_DIGEST = "weekly_digest"  # Monday's digest and its link → the unit's group (no case)
    ANNOUNCEMENT = "announcement"  # one approved announcement → one subscriber (issue 16)

    ALL = frozenset({STAFF_NOTIFY, OVERDUE, CITIZEN_MESSAGE, CITIZEN_REPLY, CITIZEN_STATUS,
                     CITIZEN_HANDBACK, DAILY_SUMMARY, FOLLOW_UP, WEEKLY_DIGEST,
                     ANNOUNCEMENT})


def _enum(enum_cls: type[enum.Enum], name: str, length: int) -> Enum:
    """A portable enum column: VARCHAR(length) + CHECK named ``ck_<table>_<name>``."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


class Unit(Base):
    """A Front committee; mirrors the YAML unit tree (see ``bot.knowledge.units.sync_units``)."""

    __tablename__ = "units"

    code = Column(String(64), primary_key=True)  # str
    name = Column(String(255), nullable=False)  # str
    short_name = Column(String(255), nullable=True)  # str | None
    parent_code = Column(String(64), ForeignKey("units.code"), nullable=True)  # str | None
    level = Column(String(32), nullable=False)  # str: province | commune
    #: Set by the staff group linking command, never by the YAML sync unless the YAML says so.
    telegram_chat_id = Column(BigInteger, nullable=True)  # int | None
    #: False once a unit disappears from the YAML; kept because old cases reference it.
    active = Column(Boolean, nullable=False, default=True, server_default=text("true"))  # bool


class Staff(Base):
    """A staff member who works cases in the console or the Telegram group."""

    __tablename__ = "staff"

    id = Column(Integer, primary_key=True)  # int
    login = Column(String(128), nullable=False, unique=True)  # str
    password_hash = Column(String(255), nullable=False)  # str
    display_name = Column(String(255), nullable=True)  # str | None
    unit_code = Column(String(64), ForeignKey("units.code"), nullable=False)  # str
    role = Column(_enum(StaffRole, "role", 16), nullable=False)  # StaffRole
    active = Column(Boolean, nullable=False, default=True, server_default=text("true"))  # bool
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


class Case(Base):
    """A feedback, petition or handoff filed by a citizen.

    ``content`` is stored exactly as typed (no trimming, no escaping): it is the citizen's own
    words and the legal record. ``person_name`` and ``phone`` are only ever set with ``consent``.
    """

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating"),
        Index("ix_cases_channel_user", "channel", "channel_user_id", "created_at"),
        Index("ix_cases_unit_status", "unit_code", "status"),
        Index("ix_cases_status_updated", "status", "updated_at"),
        Index("ix_cases_cluster_id", "cluster_id"),
        #: The digest counts a unit's cases by filing time, and its unanswered ones (0011).
        Index("ix_cases_unit_created", "unit_code", "created_at"),
        Index("ix_cases_unit_status_first_response", "unit_code", "status", "first_response_at"),
    )

    id = Column(Integer, primary_key=True)  # int
    ref_code = Column(String(20), nullable=False, unique=True)  # str, e.g. KN-2611-0042
    kind = Column(_enum(CaseKind, "kind", 16), nullable=False)  # CaseKind
    category = Column(String(64), nullable=True)  # str | None (code from categories.yml)
    content = Column(Text, nullable=False)  # str, exactly as typed
    location_text = Column(Text, nullable=True)  # str | None, as typed
    unit_code = Column(String(64), ForeignKey("units.code"), nullable=False)  # str
    channel = Column(String(32), nullable=False)  # str: web | facebook | zalo | telegram | …
    channel_user_id = Column(String(128), nullable=False)  # str
    conversation_id = Column(String(255), nullable=True)  # str | None (Rasa sender id)
    person_name = Column(String(255), nullable=True)  # str | None
    phone = Column(String(20), nullable=True)  # str | None, 0-prefixed
    consent = Column(Boolean, nullable=False, default=False, server_default=text("false"))  # bool
    consent_at = Column(UTCDateTime, nullable=True)  # datetime | None
    status = Column(
        _enum(CaseStatus, "status", 16),
        nullable=False,
        default=CaseStatus.NEW,
        server_default=CaseStatus.NEW.value,
    )  # CaseStatus
    assignee_id = Column(Integer, ForeignKey("staff.id"), nullable=True)  # int | None
    sla_due_at = Column(UTCDateTime, nullable=True)  # datetime | None
    moderation_verdict = Column(String(32), nullable=True)  # str | None
    anonymised = Column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )  # bool
    #: Set by the confirming action so a repeated confirmation never makes a second case.
    idempotency_key = Column(String(255), nullable=True, unique=True)  # str | None
    rating = Column(SmallInteger, nullable=True)  # int | None, 1–5
    #: phan_anh | kien_nghi | khieu_nai | to_cao (bot.cases.legal_type); None: not yet known.
    #: Changed only through bot.cases.legal_type_record.set_legal_type (revision 0006).
    legal_type = Column(String(16), nullable=True)  # str | None
    #: Same-issue cluster (issue 15, revision 0007): the id of the case that started it, on every
    #: member including that one; None for a case alone. Not a foreign key: a cluster outlives
    #: nothing, it is only a grouping (``bot.cases.linking``).
    cluster_id = Column(Integer, nullable=True)  # int | None
    #: ``bot.cases.clusters.CaseSignature.to_json()`` of the text, for matching (0007).
    signature = Column(JSONText, nullable=True)  # dict | None
    #: ``CaseSignature.topics()``: problem kinds (``#flood``) and word pairs the digest counts
    #: (issue 15, revision 0011); derived from the text, erased with the signature.
    topic_terms = Column(JSONText, nullable=True)  # list[str] | None
    #: When a staff member first acted on the case (its ``first_response`` event's time), so
    #: the digest finds the unanswered open cases without reading the event trail (0011).
    first_response_at = Column(UTCDateTime, nullable=True)  # datetime | None (UTC)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    updated_at = Column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )  # datetime (UTC)

    unit = relationship("Unit", lazy="joined", innerjoin=True)
    attachments = relationship("CaseAttachment", order_by="CaseAttachment.id")
    events = relationship("CaseEvent", order_by="CaseEvent.id", viewonly=True)


class CaseClusterKey(Base):
    """A look-up key of a case's signature (a place such as ``alley:5``, or a problem), so that
    linking a new case reads only the open cases of its unit that share one (revision 0007)."""

    __tablename__ = "case_cluster_keys"
    __table_args__ = (Index("ix_case_cluster_keys_lookup", "unit_code", "key", "case_id"),)

    case_id = Column(Integer, ForeignKey("cases.id"), primary_key=True)  # int
    key = Column(String(96), primary_key=True)  # str
    unit_code = Column(String(64), nullable=False)  # str (the case's unit when keyed)


class CaseAttachment(Base):
    """A photo, location or file the citizen sent with a case."""

    __tablename__ = "case_attachments"

    id = Column(Integer, primary_key=True)  # int
    case_id = Column(Integer, ForeignKey("cases.id"), nullable=False, index=True)  # int
    kind = Column(_enum(AttachmentKind, "kind", 16), nullable=False)  # AttachmentKind
    url = Column(Text, nullable=True)  # str | None (a location has none)
    payload = Column(JSONText, nullable=True)  # JSON-able | None
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


class CaseEvent(Base):
    """One entry of a case's append-only audit trail: who did what, when.

    Rows are never updated or deleted; the mapper events below refuse it so a bug cannot rewrite
    history through the ORM.
    """

    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_case_id_id", "case_id", "id"),
        #: The digest reads a period's first responses, resolutions and ratings (revision 0011).
        Index("ix_case_events_action_created", "action", "created_at"),
    )

    id = Column(Integer, primary_key=True)  # int
    case_id = Column(Integer, ForeignKey("cases.id"), nullable=False)  # int
    actor_kind = Column(_enum(ActorKind, "actor_kind", 16), nullable=False)  # ActorKind
    actor_id = Column(String(128), nullable=True)  # str | None (staff id, channel user id)
    action = Column(String(64), nullable=False)  # str, e.g. created, status_changed
    detail = Column(JSONText, nullable=True)  # JSON-able | None, never personal data
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


@event.listens_for(CaseEvent, "before_update")
@event.listens_for(CaseEvent, "before_delete")
def _case_events_are_append_only(mapper: Any, connection: Any, target: CaseEvent) -> None:
    raise ValueError("case_events is append-only: add a new event instead")


class Outbox(Base):
    """A notification to deliver, written in the same transaction as the change that caused it.

    The delivery worker (staff service) claims ``pending`` rows whose ``next_attempt_at`` has
    passed, counts ``attempts``, and marks them ``sent`` exactly once.
    """

    __tablename__ = "outbox"
    #: The delivery worker's query (added in revision 0002).
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id = Column(Integer, primary_key=True)  # int
    kind = Column(String(32), nullable=False)  # str, see OutboxKind
    case_id = Column(Integer, ForeignKey("cases.id"), nullable=True, index=True)  # int | None
    target = Column(String(255), nullable=False)  # str: unit code, or channel:user id
    payload = Column(JSONText, nullable=False)  # JSON-able, never name/phone
    status = Column(
        _enum(OutboxStatus, "status", 16),
        nullable=False,
        default=OutboxStatus.PENDING,
        server_default=OutboxStatus.PENDING.value,
    )  # OutboxStatus
    attempts = Column(Integer, nullable=False, default=0, server_default=text("0"))  # int
    next_attempt_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    last_error = Column(Text, nullable=True)  # str | None
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    sent_at = Column(UTCDateTime, nullable=True)  # datetime | None


class SeenMessage(Base):
    """A platform message id already handled, so a redelivery makes no second reply or case."""

    __tablename__ = "seen_messages"
    __table_args__ = (UniqueConstraint("channel", "message_id"),)

    id = Column(Integer, primary_key=True)  # int
    channel = Column(String(32), nullable=False)  # str
    message_id = Column(String(255), nullable=False)  # str
    seen_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)  # datetime (UTC)


class RefCounter(Base):
    """The last sequence number handed out per reference-code prefix and month (``KN-2611``).

    A counter row (rather than ``max(ref_code) + 1``) lets concurrent creators queue on one row
    lock instead of colliding and retrying; the unique ``cases.ref_code`` is the backstop.
    """

    __tablename__ = "ref_counters"

    prefix = Column(String(16), primary_key=True)  # str, e.g. "KN-2611"
    last_value = Column(Integer, nullable=False)  # int


class Quarantine(Base):
    """A message held back by moderation, kept for a person to review (added in revision 0002)."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_unreviewed", "reviewed_by", "created_at"),)

    id = Column(Integer, primary_key=True)  # int
    channel = Column(String(32), nullable=False)  # str
    channel_user_id = Column(String(128), nullable=False)  # str
    text = Column(Text, nullable=False)  # str, exactly as typed
    category = Column(String(64), nullable=True)  # str | None (moderation category)
    reason = Column(String(255), nullable=False)  # str
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    reviewed_by = Column(Integer, ForeignKey("staff.id"), nullable=True)  # int | None
    reviewed_at = Column(UTCDateTime, nullable=True)  # datetime | None


# --------------------------------------------------------------------------- staff console (0003)


class StaffSession(Base):
    """A signed-in console session; the cookie holds a random token, this row only its SHA-256."""

    __tablename__ = "staff_sessions"

    id = Column(Integer, primary_key=True)  # int
    staff_id = Column(Integer, ForeignKey("staff.id"), nullable=False, index=True)  # int
    token_hash = Column(String(64), nullable=False, unique=True)  # str, hex SHA-256
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    expires_at = Column(UTCDateTime, nullable=False)  # datetime (UTC)
    last_seen_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


class ApiToken(Base):
    """A JSON API bearer token of a staff member; shown once, stored as its SHA-256."""

    __tablename__ = "api_tokens"

    id = Column(Integer, primary_key=True)  # int
    staff_id = Column(Integer, ForeignKey("staff.id"), nullable=False, index=True)  # int
    token_hash = Column(String(64), nullable=False, unique=True)  # str, hex SHA-256
    label = Column(String(255), nullable=True)  # str | None
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    last_used_at = Column(UTCDateTime, nullable=True)  # datetime | None
    revoked_at = Column(UTCDateTime, nullable=True)  # datetime | None


class LoginAttempt(Base):
    """One console login attempt, for brute-force lockout by login and by client address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_login_created", "login", "created_at"),
        Index("ix_login_attempts_ip_created", "ip", "created_at"),
    )

    id = Column(Integer, primary_key=True)  # int
    login = Column(String(128), nullable=False)  # str, as typed (lower-cased)
    ip = Column(String(64), nullable=False)  # str
    succeeded = Column(Boolean, nullable=False)  # bool
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


class CaseNote(Base):
    """An internal note on a case (never sent to the citizen); may hold what events must not."""

    __tablename__ = "case_notes"

    id = Column(Integer, primary_key=True)  # int
    case_id = Column(Integer, ForeignKey("cases.id"), nullable=False, index=True)  # int
    actor_kind = Column(_enum(ActorKind, "actor_kind", 16), nullable=False)  # ActorKind
    actor_id = Column(String(128), nullable=True)  # str | None (staff id)
    text = Column(Text, nullable=False)  # str, as typed
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


# --------------------------------------------------------------------------- Telegram for staff (0004)


class TelegramLinkCode(Base):
    """A one-time code that links a Telegram group to a unit (``/lienket``) or a Telegram account
    to a staff member (``/canbo``). Only the code's SHA-256 is stored; a code is used once, before
    ``expires_at``, and the row then records who used it where."""

    __tablename__ = "telegram_link_codes"
    __table_args__ = (CheckConstraint("purpose IN ('group', 'member')", name="purpose"),)

    id = Column(Integer, primary_key=True)  # int
    code_hash = Column(String(64), nullable=False, unique=True)  # str, hex SHA-256
    purpose = Column(String(16), nullable=False)  # str: group | member
    unit_code = Column(String(64), ForeignKey("units.code"), nullable=False)  # str
    staff_id = Column(Integer, ForeignKey("staff.id"), nullable=True)  # int | None (member codes)
    created_by = Column(Integer, ForeignKey("staff.id"), nullable=True)  # int | None (None: CLI)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    expires_at = Column(UTCDateTime, nullable=False)  # datetime (UTC)
    used_at = Column(UTCDateTime, nullable=True)  # datetime | None
    used_by_telegram_user_id = Column(BigInteger, nullable=True)  # int | None
    used_in_chat_id = Column(BigInteger, nullable=True)  # int | None


class TelegramMember(Base):
    """A Telegram account linked to a staff member: only these may press case buttons or reply."""

    __tablename__ = "telegram_members"

    id = Column(Integer, primary_key=True)  # int
    telegram_user_id = Column(BigInteger, nullable=False, unique=True)  # int
    staff_id = Column(Integer, ForeignKey("staff.id"), nullable=False, unique=True)  # int
    telegram_username = Column(String(64), nullable=True)  # str | None, for display
    linked_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    link_code_id = Column(
        Integer, ForeignKey("telegram_link_codes.id"), nullable=True
    )  # int | None


class TelegramMessage(Base):
    """A case message the bot posted in a group, so a reply to it reaches that case's citizen."""

    __tablename__ = "telegram_messages"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id = Column(Integer, primary_key=True)  # int
    chat_id = Column(BigInteger, nullable=False)  # int
    message_id = Column(BigInteger, nullable=False)  # int
    case_id = Column(Integer, ForeignKey("cases.id"), nullable=False, index=True)  # int
    outbox_id = Column(Integer, ForeignKey("outbox.id"), nullable=True)  # int | None
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


class OverdueNotice(Base):
    """One row per case and missed deadline: the overdue scan notifies staff once per due time."""

    __tablename__ = "overdue_notices"
    __table_args__ = (UniqueConstraint("case_id", "due_at"),)

    id = Column(Integer, primary_key=True)  # int
    case_id = Column(Integer, ForeignKey("cases.id"), nullable=False)  # int
    due_at = Column(UTCDateTime, nullable=False)  # datetime (UTC)
    outbox_id = Column(Integer, ForeignKey("outbox.id"), nullable=True)  # int | None
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


# --------------------------------------------------------------------------- messaging channels (0005)


class ChannelUser(Base):
    """A citizen's account on a messaging platform, as the Facebook and Zalo channels need it: when
    they last wrote (Facebook's 24-hour and 7-day windows), the choices last offered to them as
    numbered text (so a bare "2" picks the second), and when they unfollowed the OA (Zalo)."""

    __tablename__ = "channel_users"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)

    id = Column(Integer, primary_key=True)  # int
    channel = Column(String(32), nullable=False)  # str: facebook | zalo
    user_id = Column(String(128), nullable=False)  # str: page-scoped / OA-scoped user id
    last_inbound_at = Column(UTCDateTime, nullable=True)  # datetime | None (UTC)
    options = Column(JSONText, nullable=True)  # list[{"title", "payload"}] | None
    options_at = Column(UTCDateTime, nullable=True)  # datetime | None (UTC)
    unfollowed_at = Column(UTCDateTime, nullable=True)  # datetime | None (UTC)
    updated_at = Column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )  # datetime (UTC)


class ChannelToken(Base):
    """A platform account's current access and refresh token (the Zalo OA), rotated on refresh.

    ``seed_hash`` is the SHA-256 of the refresh token from the environment this row started from:
    when an operator puts a new pair in the environment, the row is replaced by it.
    """

    __tablename__ = "channel_tokens"

    channel = Column(String(32), primary_key=True)  # str: zalo
    access_token = Column(Text, nullable=False)  # str
    refresh_token = Column(Text, nullable=True)  # str | None
    expires_at = Column(UTCDateTime, nullable=True)  # datetime | None (UTC)
    seed_hash = Column(String(64), nullable=True)  # str | None, hex SHA-256
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


# --------------------------------------------------------------------------- subscriptions (0008)

SUBSCRIPTION_TOPICS = ("su_kien", "cuu_tro", "bau_cu", "lich_tiep_dan", "canh_bao_lua_dao")


class Subscription(Base):
    """A citizen's standing consent to receive announcements (issue 16): their ward and topics.

    One row per (channel, sender_id), the conversation a citizen subscribed from, because an
    announcement can only reach them there. ``withdrawn_at`` set means "send nothing"; the row is
    kept (without topics) so a later "đăng ký" re-subscribes instead of duplicating, and erasure
    deletes it together with its events.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("channel", "sender_id"),
        Index("ix_subscriptions_unit_active", "unit_code", "withdrawn_at"),
    )

    id = Column(Integer, primary_key=True)  # int
    channel = Column(String(32), nullable=False)  # str: facebook | zalo | web
    sender_id = Column(String(128), nullable=False)  # str: the conversation's sender id
    unit_code = Column(String(64), nullable=False)  # str: the ward (or higher unit) subscribed to
    topics = Column(JSONText, nullable=False)  # list[str], each in SUBSCRIPTION_TOPICS
    consented_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    withdrawn_at = Column(UTCDateTime, nullable=True)  # datetime | None (UTC)
    updated_at = Column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )  # datetime (UTC)


class SubscriptionEvent(Base):
    """The record of consent: every subscribe, change of topics and withdrawal, with its time and
    channel and the version of the consent text the citizen was shown (Decree 356/2025/NĐ-CP asks
    the controller to be able to show when and how consent was given or withdrawn)."""

    __tablename__ = "subscription_events"
    __table_args__ = (Index("ix_subscription_events_sender", "channel", "sender_id"),)

    id = Column(Integer, primary_key=True)  # int
    channel = Column(String(32), nullable=False)  # str
    sender_id = Column(String(128), nullable=False)  # str
    action = Column(String(16), nullable=False)  # str: subscribe | update | withdraw
    unit_code = Column(String(64), nullable=True)  # str | None
    topics = Column(JSONText, nullable=True)  # list[str] | None
    consent_version = Column(String(32), nullable=True)  # str | None: which notice was shown
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


# --------------------------------------------------------------------------- forwarding, outcome (0010)


class CaseForwarding(Base):
    """A case sent to a competent body (issue 17 item 3): which body, when, how, and its answer.

    ``answer_due_on`` is the day the body's answer is due by ``content/legal_deadlines.yml`` (or,
    for a type the law gives no clock, by the committee's ``FOLLOW_UP_DAYS``: ``due_basis``
    says which). ``warned_at`` / ``late_at`` make the follow-up scan's two reminders once-only,
    as ``overdue_notices`` does for the working-hours deadline.
    """

    __tablename__ = "case_forwardings"

    id = Column(Integer, primary_key=True)  # int
    case_id = Column(Integer, ForeignKey("cases.id"), nullable=False, index=True)  # int
    body_name = Column(String(255), nullable=False)  # str, the competent body
    method = Column(String(16), nullable=False)  # str: letter | portal | other
    reference = Column(String(128), nullable=False)  # str: letter number or portal reference
    forwarded_on = Column(Date, nullable=False)  # date (local)
    forwarded_by = Column(Integer, ForeignKey("staff.id"), nullable=True)  # int | None
    answer_due_on = Column(Date, nullable=True)  # date | None (no number anywhere)
    due_basis = Column(String(16), nullable=True)  # str | None: law | policy
    warned_at = Column(UTCDateTime, nullable=True)  # datetime | None
    late_at = Column(UTCDateTime, nullable=True)  # datetime | None
    answer_text = Column(Text, nullable=True)  # str | None, as the body wrote it
    answer_reference = Column(String(128), nullable=True)  # str | None
    answered_on = Column(Date, nullable=True)  # date | None (local)
    answer_recorded_by = Column(Integer, ForeignKey("staff.id"), nullable=True)  # int | None
    answer_recorded_at = Column(UTCDateTime, nullable=True)  # datetime | None
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


class CaseOutcome(Base):
    """What was done about a case, by whom and when, recorded before it may be closed (issue 17
    item 5); ``evidence_id`` points at a ``case_attachments`` row the officer added."""

    __tablename__ = "case_outcomes"

    id = Column(Integer, primary_key=True)  # int
    case_id = Column(Integer, ForeignKey("cases.id"), nullable=False, index=True)  # int
    action_text = Column(Text, nullable=False)  # str, what was done
    done_by = Column(String(255), nullable=False)  # str, who did it (a person or a body)
    done_on = Column(Date, nullable=False)  # date (local)
    recorded_by = Column(Integer, ForeignKey("staff.id"), nullable=True)  # int | None
    evidence_id = Column(
        Integer, ForeignKey("case_attachments.id"), nullable=True
    )  # int | None
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


# --------------------------------------------------------------------------- announcements (0009)


class AnnouncementStatus(str, enum.Enum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"  # to go out now: the worker expands it into recipients
    SCHEDULED = "scheduled"  # approved, to go out at ``scheduled_at``
    SENDING = "sending"  # recipients chosen, messages in the outbox
    SENT = "sent"  # every recipient has its final status
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class RecipientStatus(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    NOT_ALLOWED = "not_allowed"  # the platform's rules forbid a message to them now
    BLOCKED = "blocked"  # they blocked the page / unfollowed the OA
    FAILED = "failed"
    UNSUBSCRIBED = "unsubscribed"  # withdrew after approval, before their message went out


class Announcement(Base):
    """A message a unit sends to its subscribers (issue 16): written by a unit_admin, approved by a
    second unit_admin of the same unit, then delivered one outbox row per recipient."""

    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_status_scheduled", "status", "scheduled_at"),)

    id = Column(Integer, primary_key=True)  # int
    unit_code = Column(String(64), ForeignKey("units.code"), nullable=False)  # str: the author's
    #: The units whose subscribers it goes to (each with the units below it).
    target_units = Column(JSONText, nullable=False)  # list[str]
    topic = Column(String(32), nullable=False)  # str, one of SUBSCRIPTION_TOPICS
    text = Column(Text, nullable=False)  # str, as written
    image_url = Column(Text, nullable=True)  # str | None
    link_url = Column(Text, nullable=True)  # str | None
    status = Column(
        _enum(AnnouncementStatus, "status", 24),
        nullable=False,
        default=AnnouncementStatus.DRAFT,
        server_default=AnnouncementStatus.DRAFT.value,
    )  # AnnouncementStatus
    author_id = Column(Integer, ForeignKey("staff.id"), nullable=False)  # int
    approver_id = Column(Integer, ForeignKey("staff.id"), nullable=True)  # int | None
    decision_note = Column(Text, nullable=True)  # str | None: why rejected
    scheduled_at = Column(UTCDateTime, nullable=True)  # datetime | None (UTC)
    submitted_at = Column(UTCDateTime, nullable=True)  # datetime | None
    decided_at = Column(UTCDateTime, nullable=True)  # datetime | None
    started_at = Column(UTCDateTime, nullable=True)  # datetime | None: recipients chosen
    finished_at = Column(UTCDateTime, nullable=True)  # datetime | None
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    updated_at = Column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )  # datetime (UTC)


class AnnouncementRecipient(Base):
    """One subscriber an announcement goes to, and what happened: the unique key means nobody is
    chosen (or sent) twice, whatever the worker does."""

    __tablename__ = "announcement_recipients"
    __table_args__ = (
        UniqueConstraint("announcement_id", "channel", "sender_id"),
        Index("ix_announcement_recipients_status", "announcement_id", "status"),
        #: The monthly quota count (sent this month on a channel).
        Index("ix_announcement_recipients_sent", "channel", "status", "sent_at"),
    )

    id = Column(Integer, primary_key=True)  # int
    announcement_id = Column(
        Integer, ForeignKey("announcements.id"), nullable=False
    )  # int
    subscription_id = Column(Integer, nullable=True)  # int | None (erasure may delete it)
    channel = Column(String(32), nullable=False)  # str
    sender_id = Column(String(128), nullable=False)  # str
    status = Column(
        _enum(RecipientStatus, "status", 16),
        nullable=False,
        default=RecipientStatus.PENDING,
        server_default=RecipientStatus.PENDING.value,
    )  # RecipientStatus
    #: How it was sent (``UPDATE``, ``cs``) or why not / the platform's error.
    kind = Column(String(32), nullable=True)  # str | None
    reason = Column(Text, nullable=True)  # str | None
    #: Messages of this announcement already accepted by the platform (image, then text), so a
    #: retry after a crash resumes instead of repeating the image.
    parts_sent = Column(Integer, nullable=False, default=0, server_default=text("0"))  # int
    #: Set just before a message is posted, cleared when the platform answers: still set when a
    #: worker finds the recipient again means it died mid-request, and whether the platform got
    #: the message is unknown — the recipient is then failed ("interrupted"), never sent twice.
    sending_since = Column(UTCDateTime, nullable=True)  # datetime | None
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
    sent_at = Column(UTCDateTime, nullable=True)  # datetime | None


class AnnouncementEvent(Base):
    """The audit trail of an announcement: written, submitted, approved, rejected, cancelled,
    started, finished — who and when. Append-only, like ``case_events``."""

    __tablename__ = "announcement_events"
    __table_args__ = (Index("ix_announcement_events_announcement", "announcement_id", "id"),)

    id = Column(Integer, primary_key=True)  # int
    announcement_id = Column(
        Integer, ForeignKey("announcements.id"), nullable=False
    )  # int
    staff_id = Column(Integer, ForeignKey("staff.id"), nullable=True)  # int | None (None: system)
    action = Column(String(32), nullable=False)  # str
    detail = Column(JSONText, nullable=True)  # JSON-able | None
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)


@event.listens_for(AnnouncementEvent, "before_update")
@event.listens_for(AnnouncementEvent, "before_delete")
def _announcement_events_are_append_only(mapper: Any, connection: Any, target: Any) -> None:
    raise ValueError("announcement_events is append-only: add a new event instead")


class RateBucket(Base):
    """A send-rate limit shared by every worker process (GCRA): ``next_at`` is the earliest time
    the next message to this platform may leave; each sender reserves a slot by moving it on."""

    __tablename__ = "rate_buckets"

    name = Column(String(32), primary_key=True)  # str: facebook | zalo
    next_at = Column(Float, nullable=False)  # float: Unix time (seconds)


# --------------------------------------------------------------------------- digest (0011)


class QuestionKind:
    """Kinds of :class:`AssistantQuestion` rows."""

    ANSWERED = "answered"  # a programme question the knowledge base answered
    UNANSWERED = "unanswered"  # a programme question no aspect of the knowledge base covers
    NOT_UNDERSTOOD = "not_understood"  # a message below the NLU threshold (action_clarify)

    ALL = frozenset({ANSWERED, UNANSWERED, NOT_UNDERSTOOD})


class AssistantQuestion(Base):
    """One question a citizen asked the assistant, for the digest's "for trainers" section
    (issue 15). Nothing here says who asked: no channel, no sender id. ``text`` is kept only for
    questions the assistant could not answer (trainers need the words), with phone numbers and
    self-introduced names masked and cut to :data:`bot.cases.questions.MAX_TEXT` characters;
    rows older than the retention period are deleted (``bot.cases.questions.forget_older_than``).
    """

    __tablename__ = "assistant_questions"
    __table_args__ = (Index("ix_assistant_questions_created", "created_at", "kind"),)

    id = Column(Integer, primary_key=True)  # int
    kind = Column(String(16), nullable=False)  # str, see QuestionKind
    unit_code = Column(String(64), nullable=True)  # str | None: the conversation's unit, if known
    programme = Column(String(64), nullable=True)  # str | None: programme code
    aspect = Column(String(32), nullable=True)  # str | None: aspect asked about
    text = Column(Text, nullable=True)  # str | None: masked words of an unanswered question
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)  # datetime (UTC)
