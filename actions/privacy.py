"""Delete my data: after a confirmation, erase name and phone from the citizen's cases, phone
numbers and the name from the case texts, and what they typed from the conversation store."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import Events, channel_of, send
from bot.announcements.subscriptions import SubscriptionView, topics_text
from bot.cases.citizen import StoreUnavailable, erase_personal_data, held_data
from bot.cases.privacy import HeldData
from bot.conversation.erasure import PERSONAL_SLOTS, redact_conversation
from bot.knowledge.answers import Reply
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import reply_text
from bot.settings import get_settings

logger = logging.getLogger(__name__)
AWAITING_DELETE = "delete_data"


def mask_phone(phone: str) -> str:
    """``0912345678`` → ``091****678``: enough for the citizen to recognise, not to copy."""
    return phone[:3] + "*" * max(0, len(phone) - 6) + phone[-3:] if len(phone) > 6 else "***"


def describe_subscription(subscription: SubscriptionView | None) -> str | None:
    """The line about a subscription to announcements and its consent record, if there is one
    (dates in the committee's time zone)."""
    if subscription is None:
        return None
    zone = ZoneInfo(get_settings().timezone)
    if subscription.active:
        unit = unit_tree().get(subscription.unit_code)
        return reply_text("data_held_subscription",
                          unit=unit.name if unit else subscription.unit_code,
                          topics=topics_text(subscription.topics),
                          since=subscription.consented_at.astimezone(zone))
    withdrawn = subscription.withdrawn_at or subscription.consented_at
    return reply_text("data_held_subscription_withdrawn", when=withdrawn.astimezone(zone))


def describe_held(held: list[HeldData], days: int,
                  subscription: SubscriptionView | None = None) -> str:
    """The answer to "what do you keep about me?" (pure, for tests)."""
    personal = [h for h in held if not h.anonymised and (h.person_name or h.phone)]
    subscribed = describe_subscription(subscription)
    if not personal and subscribed is None:
        return reply_text("data_held_none", days=days)
    lines = [reply_text("data_held_intro")]
    for item in personal:
        parts = [reply_text("data_held_name", name=item.person_name) if item.person_name else "",
                 reply_text("data_held_phone", phone=mask_phone(item.phone)) if item.phone else ""]
        lines.append(reply_text("data_held_case", ref=item.ref_code, created_at=item.created_at,
                                held=", ".join(p for p in parts if p)))
    if subscribed is not None:
        lines.append(subscribed)
    lines.append(reply_text("data_held_outro", days=days) if personal
                 else reply_text("data_held_outro_no_cases", days=days))
    return "\n".join(lines)


class ActionShowMyData(Action):
    """access_my_data: what is held about the citizen, answered at once (the law's time limit
    for a data request is days; the assistant answers in the conversation)."""

    def name(self) -> str:
        return "action_show_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        try:
            held = await asyncio.to_thread(held_data, channel_of(tracker), tracker.sender_id)
        except StoreUnavailable as error:
            logger.error("data access request failed: %s", error)
            send(dispatcher, [Reply(reply_text("data_lookup_failed"))])
            return []
        send(dispatcher, [Reply(describe_held(held.cases, get_settings().retention_days,
                                              held.subscription))])
        return []


class ActionDeleteMyData(Action):
    """Asks for confirmation; the yes/no is handled by :func:`erase`."""

    def name(self) -> str:
        return "action_delete_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        send(dispatcher, [Reply(reply_text("data_delete_ask"), [
            {"title": reply_text("button_delete_yes"), "payload": "/affirm"},
            {"title": reply_text("button_delete_no"), "payload": "/deny"},
        ])])
        return [SlotSet("awaiting", AWAITING_DELETE)]


async def erase(dispatcher: CollectingDispatcher, tracker: Tracker, confirmed: bool) -> Events:
    """The answer to the confirmation :class:`ActionDeleteMyData` asked for."""
    if not confirmed:
        send(dispatcher, [Reply(reply_text("data_kept"))])
        return [SlotSet("awaiting", None)]
    try:
        erased = await asyncio.to_thread(
            erase_personal_data, channel_of(tracker), tracker.sender_id,
            redact_conversation=partial(redact_conversation, get_settings().tracker_store_url),
        )
    except StoreUnavailable as error:
        logger.error("erasure failed: %s", error)
        send(dispatcher, [Reply(reply_text("data_delete_failed"))])
        return [SlotSet("awaiting", None)]
    said = [Reply(reply_text("data_deleted", n=erased.cases) if erased.cases
                  else reply_text("data_deleted_nothing_held"))]
    if erased.subscriptions:
        said.append(Reply(reply_text("data_deleted_subscription")))
    send(dispatcher, said)
    # The draft of a form in progress goes too (it is what the citizen typed).
    return [SlotSet("awaiting", None), *(SlotSet(slot, None) for slot in PERSONAL_SLOTS)]
