"""A citizen's subscription to announcements and its consent record (issue 16).

A citizen subscribes in the conversation to one ward (or higher unit) and some of the topics in
:data:`bot.db.models.SUBSCRIPTION_TOPICS`, after a consent notice that says what they will get,
where, and how to stop (Law 91/2025/QH15 and Decree 356/2025/NĐ-CP, in force since 1 January
2026: consent is voluntary, clear and specific, never assumed, and as easy to withdraw as to
give). Every subscribe, change and withdrawal is an append-only :class:`SubscriptionEvent` with
its time, channel and the version of the notice shown, so the controller can show when and how
consent was given or withdrawn.

The meaning of the rows, which the announcement sender relies on:

* one :class:`Subscription` per (channel, sender id): the conversation the citizen subscribed
  from, the only place an announcement can reach them;
* ``withdrawn_at`` set (and ``topics`` empty) means send nothing; the row stays so the assistant
  knows the citizen was asked once ("never pushed twice") and a later "đăng ký" re-subscribes;
* erasure deletes the row and its events (:func:`erase_subscriptions`).

Like ``bot.cases.privacy``, every function takes the caller's ``Session`` and never commits; the
citizen's requests are units of work in ``bot.cases.citizen``. Also here: reading the topics a
citizen typed, and the words the notice names topics and channels with.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, delete, literal, select, update
from sqlalchemy.orm import Session

from bot.db.models import (
    SUBSCRIPTION_TOPICS,
    AnnouncementRecipient,
    Outbox,
    OutboxKind,
    Subscription,
    SubscriptionEvent,
)
from bot.db.types import ensure_aware, utcnow
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import replies, reply_text
from bot.vietnamese.normalize import fold

__all__ = [
    "SUBSCRIPTION_TOPICS",
    "SubscriptionView",
    "about_announcements",
    "channel_label",
    "consent_version",
    "erase_subscriptions",
    "names_subscription",
    "parse_topics",
    "subscribe",
    "subscription_of",
    "topic_label",
    "topics_text",
    "withdraw",
]

#: The reply key of the consent notice; its text, hashed, is the consent version recorded.
CONSENT_NOTICE_KEY = "subscription_consent_notice"


@dataclass(frozen=True)
class SubscriptionView:
    """A citizen's subscription as the conversation needs it (plain values, no session)."""

    channel: str
    sender_id: str
    unit_code: str
    topics: tuple[str, ...]
    consented_at: datetime
    withdrawn_at: datetime | None

    @property
    def active(self) -> bool:
        """Whether announcements may be sent: consent given and not withdrawn."""
        return self.withdrawn_at is None and bool(self.topics)


def _view(row: Subscription) -> SubscriptionView:
    return SubscriptionView(
        row.channel,
        row.sender_id,
        row.unit_code,
        tuple(row.topics or ()),
        row.consented_at,
        row.withdrawn_at,
    )


def consent_version() -> str:
    """Which consent notice the citizen is shown: a digest of its text in content/replies.yml,
    so an edit of the wording is a new version without anyone remembering to bump a number
    (the text of a version is in the repository's history)."""
    digest = hashlib.sha256(replies()[CONSENT_NOTICE_KEY].encode("utf-8")).hexdigest()
    return f"notice-{digest[:12]}"


def _checked_topics(topics: Iterable[str]) -> list[str]:
    chosen = set(topics)
    unknown = sorted(chosen - set(SUBSCRIPTION_TOPICS))
    if unknown:
        raise ValueError(f"unknown subscription topics: {', '.join(unknown)}")
    if not chosen:
        raise ValueError("a subscription needs at least one topic")
    return [t for t in SUBSCRIPTION_TOPICS if t in chosen]


def _row(session: Session, channel: str, sender_id: str) -> Subscription | None:
    return session.execute(
        select(Subscription).where(
            Subscription.channel == channel, Subscription.sender_id == sender_id
        )
    ).scalar_one_or_none()


def subscription_of(session: Session, channel: str, sender_id: str) -> SubscriptionView | None:
    """The citizen's subscription, active or withdrawn; None when they never subscribed (or
    erased it)."""
    row = _row(session, channel, sender_id)
    return _view(row) if row is not None else None


def subscribe(
    session: Session,
    channel: str,
    sender_id: str,
    unit_code: str,
    topics: Sequence[str],
    consent_version: str,
    *,
    now: datetime | None = None,
) -> SubscriptionView:
    """Record the citizen's consent to the announcements of ``unit_code`` on ``topics``.

    A first subscription, or one after a withdrawal, is a ``subscribe`` event; a subscription
    that is active already gets the new ward and topics (a change of topics goes through the
    notice again, since consent is to specific topics) and an ``update`` event. Either way
    ``consented_at`` is now: the consent in force is the one just given."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    chosen = _checked_topics(topics)
    if unit_code not in unit_tree():
        raise ValueError(f"unknown unit {unit_code!r}")
    row = _row(session, channel, sender_id)
    action = "update" if row is not None and _view(row).active else "subscribe"
    if row is None:
        row = Subscription(channel=channel, sender_id=sender_id)
        session.add(row)
    row.unit_code = unit_code
    row.topics = chosen
    row.consented_at = now
    row.withdrawn_at = None
    row.updated_at = now
    session.add(
        SubscriptionEvent(
            channel=channel,
            sender_id=sender_id,
            action=action,
            unit_code=unit_code,
            topics=chosen,
            consent_version=consent_version,
            created_at=now,
        )
    )
    session.flush()
    return _view(row)


def withdraw(
    session: Session, channel: str, sender_id: str, *, now: datetime | None = None
) -> bool:
    """Withdraw consent: nothing more is sent. True when an active subscription was withdrawn
    (a ``withdraw`` event names the ward and topics it had); False when there was none, which
    changes nothing (asking twice is safe)."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    row = _row(session, channel, sender_id)
    if row is None or not _view(row).active:
        return False
    session.add(
        SubscriptionEvent(
            channel=channel,
            sender_id=sender_id,
            action="withdraw",
            unit_code=row.unit_code,
            topics=list(row.topics or []),
            created_at=now,
        )
    )
    row.topics = []
    row.withdrawn_at = now
    row.updated_at = now
    session.flush()
    return True


def erase_subscriptions(session: Session, channel: str, sender_id: str) -> int:
    """Erasure ("xóa dữ liệu của tôi"): delete the citizen's subscription and its consent
    record; the number of subscriptions deleted (0 or 1).

    The announcements already addressed to them keep their row, so each announcement's report
    still adds up, but the row (and its outbox message) no longer says who it was: the sender id
    becomes ``erased-<row id>``. A message still waiting finds no subscription and is not sent.
    """
    session.execute(
        update(AnnouncementRecipient)
        .where(
            AnnouncementRecipient.channel == channel,
            AnnouncementRecipient.sender_id == sender_id,
        )
        .values(sender_id=literal("erased-") + cast(AnnouncementRecipient.id, String))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Outbox)
        .where(Outbox.kind == OutboxKind.ANNOUNCEMENT, Outbox.target == f"{channel}:{sender_id}")
        .values(target=f"{channel}:erased")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(SubscriptionEvent).where(
            SubscriptionEvent.channel == channel, SubscriptionEvent.sender_id == sender_id
        )
    )
    deleted = session.execute(
        delete(Subscription).where(
            Subscription.channel == channel, Subscription.sender_id == sender_id
        )
    )
    return int(deleted.rowcount or 0)


# --------------------------------------------------------------------------- words

#: Folded words that name each topic besides its label (content/replies.yml).
_TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "su_kien": ("su kien", "le hoi", "ngay hoi", "hoat dong", "dai doan ket", "van nghe"),
    "cuu_tro": (
        "cuu tro",
        "cuu doi",
        "thien tai",
        "bao lu",
        "lu lut",
        "mua lu",
        "ung ho",
        "tu thien",
    ),
    "bau_cu": ("bau cu", "cu tri", "ung cu", "bo phieu"),
    "lich_tiep_dan": ("tiep dan", "tiep cong dan", "lich tiep", "lich lam viec"),
    "canh_bao_lua_dao": ("lua dao", "canh bao", "gia mao", "mao danh", "lua gat"),
}
#: Folded answers meaning every topic ("tất cả", "cả", "hết").
_ALL_WORDS = ("tat ca", "ca", "het", "all", "toan bo", "moi chu de", "ca nam", "nhan het")


def topic_label(code: str) -> str:
    """A topic's name as the citizen reads it."""
    return {
        "su_kien": reply_text("subscription_topic_su_kien"),
        "cuu_tro": reply_text("subscription_topic_cuu_tro"),
        "bau_cu": reply_text("subscription_topic_bau_cu"),
        "lich_tiep_dan": reply_text("subscription_topic_lich_tiep_dan"),
        "canh_bao_lua_dao": reply_text("subscription_topic_canh_bao_lua_dao"),
    }[code]


def topics_text(topics: Iterable[str]) -> str:
    """ "sự kiện, cứu trợ" for a sentence: the labels, lower-cased, in the standard order."""
    chosen = set(topics)
    return ", ".join(topic_label(t).lower() for t in SUBSCRIPTION_TOPICS if t in chosen)


def channel_label(channel: str) -> str:
    """How the notice names the channel the announcements will come through."""
    if channel == "facebook":
        return reply_text("subscription_channel_facebook")
    if channel == "zalo":
        return reply_text("subscription_channel_zalo")
    if channel == "web":
        return reply_text("subscription_channel_web")
    return reply_text("subscription_channel_other")


#: Folded words that make a "hủy ..." about announcements rather than a form ("hủy đăng kí").
_SUBSCRIPTION_WORDS = ("dang ky", "dang ki", "dk", "nhan tin", "thong bao", "theo doi")


#: Beside those, words every way of withdrawing from announcements has one of ("đừng gửi tin
#: nữa"), but that a plain "hủy" in a form may have too ("hủy, tin nhắn sai rồi").
_ANNOUNCEMENT_WORDS = (*_SUBSCRIPTION_WORDS, "tin", "unsubscribe")


def _has_word(text: str, words: tuple[str, ...]) -> bool:
    padded = " " + re.sub(r"[^a-z0-9]+", " ", fold(text or "")).strip() + " "
    return any(f" {word} " in padded for word in words)


def names_subscription(text: str) -> bool:
    """Whether a stop request ("hủy đăng kí", "hủy nhận thông báo") is about announcements: a
    check on the words, for when the NLU read it as a plain "hủy" (cancel)."""
    return _has_word(text, _SUBSCRIPTION_WORDS)


def about_announcements(text: str) -> bool:
    """Whether a message the NLU read as "hủy nhận tin" speaks of announcements at all: every
    way of withdrawing names them. "không biết nữa" reads to the classifier like "không nhận tin
    nữa" and names none (stop 47)."""
    return _has_word(text, _ANNOUNCEMENT_WORDS)


def parse_topics(text: str) -> tuple[str, ...] | None:
    """The topics a citizen typed ("tất cả", "sự kiện, cứu trợ", "1 và 3", "lua dao"), in the
    standard order; None when none is recognised."""
    key = re.sub(r"[^a-z0-9]+", " ", fold(text or "")).strip()
    if not key:
        return None
    padded = f" {key} "
    if any(f" {word} " in padded for word in _ALL_WORDS):
        return SUBSCRIPTION_TOPICS
    found = set()
    for code in SUBSCRIPTION_TOPICS:
        words = (*_TOPIC_WORDS[code], fold(topic_label(code)))
        if any(word and f" {word} " in padded for word in words):
            found.add(code)
    for number in re.findall(r"\b([1-9])\b", key):
        if int(number) <= len(SUBSCRIPTION_TOPICS):
            found.add(SUBSCRIPTION_TOPICS[int(number) - 1])
    return tuple(t for t in SUBSCRIPTION_TOPICS if t in found) or None
