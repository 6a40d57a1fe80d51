"""From an approved announcement to each subscriber's outcome.

1. :func:`start_due` (the announcement worker's scan) takes each announcement approved to go now,
   or scheduled and due, chooses its recipients — active subscriptions of its units and the units
   below them (:func:`bot.cases.digest.subtree`) whose topics include its topic — and writes, in
   one transaction, one ``announcement_recipients`` row each and one ``announcement`` outbox row
   each.
2. For each outbox row the sender (``bot.notify.announcements``) asks :func:`plan_delivery` what to
   do *at send time*: nothing if the recipient is already settled; ``unsubscribed`` if they withdrew
   since the approval; what :func:`bot.announcements.rules.decide` says for their platform account
   now; else the message bodies to post and how (messaging type / Zalo kind).
3. The sender records each part the platform accepted (:func:`record_part`) and the final outcome
   (:func:`record_outcome`, guarded: only a pending recipient changes, so a late duplicate attempt
   cannot overwrite it).
4. :func:`finish_done` marks an announcement ``sent`` once none of its recipients is pending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from bot.announcements.ratelimit import lock
from bot.announcements.render import messages_for
from bot.announcements.rules import QUOTA_USED, ChannelRules, decide
from bot.announcements.service import record_event
from bot.cases.digest import subtree
from bot.db.models import (
    Announcement,
    AnnouncementRecipient,
    AnnouncementStatus,
    ChannelToken,
    ChannelUser,
    OutboxKind,
    RecipientStatus,
    Subscription,
    Unit,
)
from bot.delivery.outbox import enqueue_many

__all__ = [
    "Plan",
    "begin_send",
    "finish_done",
    "mark_sending",
    "plan_delivery",
    "record_outcome",
    "record_part",
    "start_due",
    "still_subscribed",
    "token_for",
]

UNSUBSCRIBED_REASON = "withdrew_after_approval"
INTERRUPTED_REASON = "interrupted_mid_request"


def _subscribers(session: Session, units: set[str], topic: str) -> list[Subscription]:
    rows = session.execute(
        select(Subscription)
        .where(Subscription.unit_code.in_(sorted(units)), Subscription.withdrawn_at.is_(None))
        .order_by(Subscription.id)
    ).scalars()
    return [s for s in rows if topic in (s.topics or [])]


def _expand(session: Session, announcement: Announcement, now: datetime) -> int:
    units = set(subtree(session, *(announcement.target_units or [])))
    subscribers = _subscribers(session, units, announcement.topic)
    if subscribers:
        session.execute(
            insert(AnnouncementRecipient),
            [
                {
                    "announcement_id": announcement.id,
                    "subscription_id": s.id,
                    "channel": s.channel,
                    "sender_id": s.sender_id,
                    "status": RecipientStatus.PENDING,
                    "parts_sent": 0,
                    "updated_at": now,
                }
                for s in subscribers
            ],
        )
        ids = session.execute(
            select(
                AnnouncementRecipient.id,
                AnnouncementRecipient.channel,
                AnnouncementRecipient.sender_id,
            ).where(AnnouncementRecipient.announcement_id == announcement.id)
        ).all()
        enqueue_many(
            session,
            OutboxKind.ANNOUNCEMENT,
            [
                (f"{channel}:{sender}", {"announcement_id": announcement.id, "recipient_id": rid})
                for rid, channel, sender in ids
            ],
            now=now,
        )
    announcement.status = AnnouncementStatus.SENDING
    announcement.started_at = now
    record_event(
        session, announcement, "started", staff_id=None, now=now, recipients=len(subscribers)
    )
    return len(subscribers)


def start_due(session: Session, *, now: datetime) -> list[tuple[int, int]]:
    """Choose the recipients of every announcement due now; [(announcement id, recipients)]."""
    due = (
        session.execute(
            select(Announcement)
            .where(
                or_(
                    Announcement.status == AnnouncementStatus.APPROVED,
                    and_(
                        Announcement.status == AnnouncementStatus.SCHEDULED,
                        Announcement.scheduled_at <= now,
                    ),
                )
            )
            .order_by(Announcement.id)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    started = []
    for announcement in due:
        started.append((int(announcement.id), _expand(session, announcement, now)))
    return started


def finish_done(session: Session, *, now: datetime) -> list[int]:
    """Mark ``sent`` every sending announcement with no pending recipient left."""
    pending = (
        select(AnnouncementRecipient.id)
        .where(
            AnnouncementRecipient.announcement_id == Announcement.id,
            AnnouncementRecipient.status == RecipientStatus.PENDING,
        )
        .exists()
    )
    done = (
        session.execute(
            select(Announcement).where(Announcement.status == AnnouncementStatus.SENDING, ~pending)
        )
        .scalars()
        .all()
    )
    for announcement in done:
        announcement.status = AnnouncementStatus.SENT
        announcement.finished_at = now
        record_event(session, announcement, "finished", staff_id=None, now=now)
    return [int(a.id) for a in done]


@dataclass(frozen=True)
class Plan:
    """What the sender does for one recipient: ``done`` (already settled, ``status`` says how),
    ``defer`` (until ``until``) or ``send`` ``messages[parts_sent:]`` as ``kind``."""

    action: str
    status: str | None = None
    channel: str = ""
    sender_id: str = ""
    kind: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    parts_sent: int = 0
    until: datetime | None = None
    topic: str = ""


def still_subscribed(session: Session, channel: str, sender_id: str, topic: str) -> bool:
    sub = session.execute(
        select(Subscription).where(
            Subscription.channel == channel, Subscription.sender_id == sender_id
        )
    ).scalar_one_or_none()
    return sub is not None and sub.withdrawn_at is None and topic in (sub.topics or [])


def _month_start(now: datetime, tz: tzinfo) -> datetime:
    local = now.astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


def record_outcome(
    session: Session,
    recipient_id: int,
    status: RecipientStatus,
    *,
    now: datetime,
    kind: str | None = None,
    reason: str | None = None,
) -> bool:
    """Settle a pending recipient; False when it was already settled (nothing changed)."""
    values: dict[str, Any] = {
        "status": status,
        "updated_at": now,
        "reason": reason,
        "sending_since": None,
    }
    if kind is not None:
        values["kind"] = kind
    if status == RecipientStatus.SENT:
        values["sent_at"] = now
    changed = session.execute(
        update(AnnouncementRecipient)
        .where(
            AnnouncementRecipient.id == recipient_id,
            AnnouncementRecipient.status == RecipientStatus.PENDING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount == 1)


def record_part(session: Session, recipient_id: int, parts_sent: int, *, now: datetime) -> None:
    """The platform accepted part ``parts_sent`` (1-based): count it, clear the in-flight mark."""
    session.execute(
        update(AnnouncementRecipient)
        .where(AnnouncementRecipient.id == recipient_id)
        .values(parts_sent=parts_sent, updated_at=now, sending_since=None)
        .execution_options(synchronize_session=False)
    )


def begin_send(
    session: Session,
    recipient_id: int,
    *,
    channel: str,
    sender_id: str,
    topic: str,
    now: datetime,
    monthly_quota: int | None = None,
    tz: tzinfo = timezone.utc,
) -> str:
    """Right before the first part is posted, in one transaction: ``unsubscribed`` (and settled)
    when they withdrew meanwhile; ``quota`` (settled not allowed) when the channel's monthly quota
    is used up, counting messages in flight — under a per-channel lock, so concurrent workers
    cannot both take the last one; else ``ok``, with the in-flight mark set."""
    if not still_subscribed(session, channel, sender_id, topic):
        record_outcome(
            session, recipient_id, RecipientStatus.UNSUBSCRIBED, now=now, reason=UNSUBSCRIBED_REASON
        )
        return "unsubscribed"
    if monthly_quota is not None:
        lock(session, f"{channel}:quota")
        if _used_this_month(session, channel, now, tz, in_flight=True) >= monthly_quota:
            record_outcome(
                session, recipient_id, RecipientStatus.NOT_ALLOWED, now=now, reason=QUOTA_USED
            )
            return "quota"
    mark_sending(session, recipient_id, now=now)
    return "ok"


def _used_this_month(
    session: Session, channel: str, now: datetime, tz: tzinfo, *, in_flight: bool = False
) -> int:
    sent = and_(
        AnnouncementRecipient.status == RecipientStatus.SENT,
        AnnouncementRecipient.sent_at >= _month_start(now, tz),
    )
    flying = and_(
        AnnouncementRecipient.status == RecipientStatus.PENDING,
        AnnouncementRecipient.sending_since.is_not(None),
    )
    return int(
        session.execute(
            select(func.count())
            .select_from(AnnouncementRecipient)
            .where(
                AnnouncementRecipient.channel == channel, or_(sent, flying) if in_flight else sent
            )
        ).scalar_one()
    )


def mark_sending(session: Session, recipient_id: int, *, now: datetime | None) -> None:
    """Set (``now``) or clear (None) the in-flight mark around one platform request."""
    session.execute(
        update(AnnouncementRecipient)
        .where(AnnouncementRecipient.id == recipient_id)
        .values(sending_since=now)
        .execution_options(synchronize_session=False)
    )


def plan_delivery(
    session: Session,
    recipient_id: int,
    *,
    rules: Mapping[str, ChannelRules],
    now: datetime,
    tz: tzinfo,
) -> Plan:
    """Decide, at send time, what happens to one recipient (see the module doc); settles the
    recipient itself when the answer is not to send."""
    recipient = session.get(AnnouncementRecipient, recipient_id)
    if recipient is None:
        return Plan("done", status="missing")
    if RecipientStatus(recipient.status) != RecipientStatus.PENDING:
        return Plan("done", status=RecipientStatus(recipient.status).value)
    if recipient.sending_since is not None:
        # A worker died between posting and hearing back: the platform may have the message.
        # Sending again could deliver it twice, so it is settled as failed, with the reason.
        record_outcome(
            session, recipient_id, RecipientStatus.FAILED, now=now, reason=INTERRUPTED_REASON
        )
        return Plan("done", status=RecipientStatus.FAILED.value)
    announcement = session.get(Announcement, recipient.announcement_id)
    assert announcement is not None
    channel, sender = recipient.channel, recipient.sender_id
    if not still_subscribed(session, channel, sender, announcement.topic):
        record_outcome(
            session, recipient_id, RecipientStatus.UNSUBSCRIBED, now=now, reason=UNSUBSCRIBED_REASON
        )
        return Plan("done", status=RecipientStatus.UNSUBSCRIBED.value)
    account = session.execute(
        select(ChannelUser.last_inbound_at, ChannelUser.unfollowed_at).where(
            ChannelUser.channel == channel, ChannelUser.user_id == sender
        )
    ).first()
    rule = rules.get(channel)
    used = 0
    if rule is not None and rule.monthly_quota is not None:
        used = _used_this_month(session, channel, now, tz)
    decision = decide(
        rules,
        channel,
        last_inbound_at=account[0] if account else None,
        unfollowed_at=account[1] if account else None,
        now=now,
        tz=tz,
        used_this_month=int(used),
    )
    if decision.verdict in ("not_allowed", "blocked"):
        status = (
            RecipientStatus.BLOCKED
            if decision.verdict == "blocked"
            else RecipientStatus.NOT_ALLOWED
        )
        record_outcome(session, recipient_id, status, now=now, reason=decision.reason)
        return Plan("done", status=status.value)
    if decision.verdict == "defer":
        return Plan("defer", until=decision.until, channel=channel, sender_id=sender)
    unit = session.get(Unit, announcement.unit_code)
    unit_name = (unit.short_name or unit.name) if unit is not None else announcement.unit_code
    messages = messages_for(
        channel,
        text=announcement.text,
        image_url=announcement.image_url,
        link_url=announcement.link_url,
        unit_name=unit_name,
    )
    return Plan(
        "send",
        channel=channel,
        sender_id=sender,
        kind=decision.kind,
        messages=messages,
        parts_sent=int(recipient.parts_sent),
        topic=announcement.topic,
    )


def token_for(session: Session, channel: str) -> str | None:
    """The platform access token the channels keep in ``channel_tokens`` (Zalo rotates it)."""
    token = session.get(ChannelToken, channel)
    return token.access_token if token is not None else None
