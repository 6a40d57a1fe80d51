"""What the outbox worker hands a sender, and what a sender answers.

A sender delivers one kind of outbox row (``staff_notify`` → Telegram, ``citizen_reply`` → the
citizen's channel, …). It never touches the row's status: it returns a :class:`DeliveryResult` and
the worker records it, guarded in SQL, so a row is marked sent exactly once whatever the senders do.

Any object with ``async def send(self, row: OutboxRow) -> DeliveryResult`` is a sender; the
citizen side is :mod:`bot.delivery.citizens`, the staff side the Telegram bot. Map the
platform's answers like this:

==============================================  =================================================
platform answer                                 result
==============================================  =================================================
delivered                                       ``DeliveryResult.sent()``
timeout, 5xx, Zalo -32 / -100, expired token    ``DeliveryResult.retry("…", after=…)``
outside the messaging window (Zalo -213, …)     ``DeliveryResult.refused("…")`` → undeliverable
a request that can never succeed                ``DeliveryResult.fail("…")`` → failed
channel not configured (yet)                    ``DeliveryResult.later("…")`` → stays pending
==============================================  =================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bot.db.models import OutboxKind

__all__ = [
    "CITIZEN_KINDS",
    "STAFF_KINDS",
    "CitizenSender",
    "DeliveryResult",
    "OutboxRow",
    "Sender",
    "senders_for",
]


#: Kinds posted to a unit's Telegram group.
STAFF_KINDS = frozenset(
    {OutboxKind.STAFF_NOTIFY, OutboxKind.OVERDUE, OutboxKind.CITIZEN_MESSAGE,
     OutboxKind.DAILY_SUMMARY, OutboxKind.FOLLOW_UP,
     OutboxKind.WEEKLY_DIGEST}
)
#: Kinds delivered to the citizen through a :class:`CitizenSender`.
CITIZEN_KINDS = frozenset(
    {OutboxKind.CITIZEN_REPLY, OutboxKind.CITIZEN_STATUS, OutboxKind.CITIZEN_HANDBACK}
)


@dataclass(frozen=True)
class OutboxRow:
    """A claimed outbox row, detached from any session. ``attempts`` counts this attempt."""

    id: int
    kind: str
    case_id: int | None
    target: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    attempts: int = 1
    created_at: datetime | None = None
    #: The Rasa conversation of the row's case, for log lines (None without a case).
    conversation_id: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one delivery attempt.

    ``ok``: delivered. Otherwise ``retryable`` decides between another attempt (with backoff, or
    after ``retry_after`` seconds) and giving up: ``undeliverable`` when the platform refuses this
    recipient (kept for staff to see), else ``failed``. ``waiting`` means nothing was tried because
    something is not configured yet (no linked group): the row stays pending and the attempt does
    not count towards the limit.
    """

    ok: bool
    retryable: bool = False
    error: str | None = None
    undeliverable: bool = False
    retry_after: float | None = None
    waiting: bool = False

    @classmethod
    def sent(cls) -> DeliveryResult:
        return cls(ok=True)

    @classmethod
    def retry(cls, error: str, *, after: float | None = None) -> DeliveryResult:
        return cls(ok=False, retryable=True, error=error, retry_after=after)

    @classmethod
    def fail(cls, error: str) -> DeliveryResult:
        return cls(ok=False, retryable=False, error=error)

    @classmethod
    def refused(cls, error: str) -> DeliveryResult:
        return cls(ok=False, retryable=False, error=error, undeliverable=True)

    @classmethod
    def later(cls, error: str, *, after: float = 300.0) -> DeliveryResult:
        return cls(ok=False, retryable=True, error=error, retry_after=after, waiting=True)


@runtime_checkable
class Sender(Protocol):
    """Delivers outbox rows of one or more kinds."""

    async def send(self, row: OutboxRow) -> DeliveryResult: ...


@runtime_checkable
class CitizenSender(Sender, Protocol):
    """Delivers ``citizen_reply`` and ``citizen_status`` rows through the citizen's channel.

    The row's payload (written by ``bot.cases.casework``) has ``channel``, ``channel_user_id``,
    ``conversation_id``, ``ref_code`` and either ``text`` (a reply) or ``status`` / ``reason`` /
    ``ask_rating`` (a status change). ``row.target`` is ``<channel>:<channel user id>``.
    """


def senders_for(telegram: Sender | None = None, citizen: Sender | None = None) -> dict[str, Sender]:
    """The worker's sender map: staff kinds → ``telegram``, citizen kinds → ``citizen``.

    A missing sender leaves its kinds out, so their rows wait in the outbox (never fail).
    """
    senders: dict[str, Sender] = {}
    if telegram is not None:
        senders.update(dict.fromkeys(STAFF_KINDS, telegram))
    if citizen is not None:
        senders.update(dict.fromkeys(CITIZEN_KINDS, citizen))
    return senders
