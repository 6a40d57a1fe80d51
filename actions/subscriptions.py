"""Subscribing to announcements and "hủy nhận tin" (issue 16): opening the form, saving the
consent, withdrawing at any point, and the one offer after a helpful answer.

The form's steps are in ``actions/subscription_form.py``. The consent and the withdrawal are
recorded by ``bot.cases.citizen`` (one unit of work each, off the event loop) with their time,
channel and notice version; the citizen is told only after the commit.
"""

from __future__ import annotations

import asyncio
import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import Events, channel_of, first_place, latest_text, send
from actions.subscription_slots import FORM, OFFERED_SLOT, SUB_SLOTS
from bot.announcements.subscriptions import consent_version, names_subscription, topics_text
from bot.cases.citizen import (
    StoreUnavailable,
    subscribe_to_announcements,
    subscription_status,
    withdraw_from_announcements,
)
from bot.knowledge.answers import Reply
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import reply_text

logger = logging.getLogger(__name__)

#: The ``awaiting`` value while the one offer to subscribe is open (answered in actions/context).
AWAITING_SUBSCRIBE = "subscribe_offer"


def _unit_name(code: str | None) -> str:
    unit = unit_tree().get(code)
    return unit.name if unit else str(code or "")


def _clear_form() -> Events:
    return [
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        *(SlotSet(slot, None) for slot in SUB_SLOTS),
    ]


class ActionStartSubscription(Action):
    """subscribe ("đăng ký nhận tin"), or yes to the offer: open a fresh form. A ward named in
    the message, or the one already subscribed to, is taken; topics and consent are always
    asked (consent is to specific topics, so a change goes through the notice again)."""

    def name(self) -> str:
        return "action_start_subscription"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        try:
            current = await asyncio.to_thread(
                subscription_status, channel_of(tracker), tracker.sender_id
            )
        except StoreUnavailable as error:
            logger.error("subscription status unavailable: %s", error)
            current = None  # saving at the end reports the outage if it lasts
        unit_code = None
        named = first_place(tracker, "location", "unit")
        if named:
            result = unit_tree().resolve(named)
            unit_code = result.unit.code if result.status == "one" and result.unit else None
        if current is not None and current.active:
            unit_code = unit_code or current.unit_code
            send(
                dispatcher,
                [
                    Reply(
                        reply_text(
                            "subscription_intro_change",
                            unit=_unit_name(current.unit_code),
                            topics=topics_text(current.topics),
                        )
                    )
                ],
            )
        else:
            send(dispatcher, [Reply(reply_text("subscription_intro"))])
        return [
            *(SlotSet(slot, None) for slot in SUB_SLOTS),
            SlotSet("sub_unit", unit_code),
            SlotSet(OFFERED_SLOT, True),
            SlotSet("awaiting", None),
            FollowupAction(FORM),
        ]


class ActionSubscribe(Action):
    """The completed form: record the consent if it was given, else say nothing was saved."""

    def name(self) -> str:
        return "action_subscribe"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        unit_code = tracker.get_slot("sub_unit")
        topics = tracker.get_slot("sub_topics") or []
        if tracker.get_slot("sub_consent") is not True or not unit_code or not topics:
            send(dispatcher, [Reply(reply_text("subscription_refused"))])
            return _clear_form()
        try:
            saved = await asyncio.to_thread(
                subscribe_to_announcements,
                channel_of(tracker),
                tracker.sender_id,
                str(unit_code),
                list(topics),
                tracker.get_slot("sub_consent_version") or consent_version(),
            )
        except StoreUnavailable as error:
            logger.error("subscription not saved for %s: %s", tracker.sender_id, error)
            send(dispatcher, [Reply(reply_text("subscription_not_saved"))])
            return _clear_form()
        send(
            dispatcher,
            [
                Reply(
                    reply_text(
                        "subscription_saved",
                        unit=_unit_name(saved.unit_code),
                        topics=topics_text(saved.topics),
                    )
                )
            ],
        )
        return _clear_form()


async def withdraw(dispatcher: CollectingDispatcher, tracker: Tracker) -> Events:
    """Withdraw the citizen's subscription at once and say so (also when there was none)."""
    try:
        withdrawn = await asyncio.to_thread(
            withdraw_from_announcements, channel_of(tracker), tracker.sender_id
        )
    except StoreUnavailable as error:
        logger.error("withdrawal failed for %s: %s", tracker.sender_id, error)
        send(dispatcher, [Reply(reply_text("subscription_withdraw_failed"))])
        return []
    send(
        dispatcher,
        [
            Reply(
                reply_text("subscription_withdrawn")
                if withdrawn
                else reply_text("subscription_withdrawn_nothing")
            )
        ],
    )
    return [SlotSet(OFFERED_SLOT, True), SlotSet("awaiting", None)]


class ActionUnsubscribe(Action):
    """ "Hủy nhận tin", at any point: withdraw at once and say so. It never touches a form (Rasa
    wants one action to set the active loop the same way in every rule): inside the subscription
    form the rule stops the form first (``action_stop_subscription_form``), inside the petition
    form the rule resumes that form afterwards."""

    def name(self) -> str:
        return "action_unsubscribe"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        return await withdraw(dispatcher, tracker)


class ActionCancelSubscription(Action):
    """ "Hủy" while subscribing: the form stops, nothing is saved or changed."""

    def name(self) -> str:
        return "action_cancel_subscription"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        if names_subscription(latest_text(tracker)):
            # "hủy đăng kí" read as a plain "hủy": stop the form and withdraw as well.
            return [*_clear_form(), *await withdraw(dispatcher, tracker)]
        send(dispatcher, [Reply(reply_text("subscription_cancelled"))])
        return _clear_form()


class ActionStopSubscriptionForm(Action):
    """ "Hủy nhận tin", a person, or erasure, asked for while subscribing: the form stops
    quietly, nothing is saved, and the rule goes on to the request."""

    def name(self) -> str:
        return "action_stop_subscription_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        return _clear_form()


class ActionResumeSubscription(Action):
    """After a question answered inside the subscription form: the form asks its step again."""

    def name(self) -> str:
        return "action_resume_subscription"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        send(dispatcher, [Reply(reply_text("subscription_resume_note"))])
        return []


async def offer_subscription(dispatcher: CollectingDispatcher, tracker: Tracker) -> Events:
    """After a programme answer the citizen found helpful: offer to subscribe, once. Never when
    it was offered before in this conversation, nor to a citizen who has (or had, and withdrew)
    a subscription; when the store cannot say, not at all."""
    if tracker.get_slot(OFFERED_SLOT):
        return []
    try:
        current = await asyncio.to_thread(
            subscription_status, channel_of(tracker), tracker.sender_id
        )
    except StoreUnavailable as error:
        logger.error("subscription status unavailable, no offer: %s", error)
        return []
    if current is not None:
        return [SlotSet(OFFERED_SLOT, True)]
    send(
        dispatcher,
        [
            Reply(
                reply_text("subscription_offer"),
                [
                    {"title": reply_text("button_subscribe"), "payload": "/subscribe"},
                    {"title": reply_text("button_no_thanks"), "payload": "/deny"},
                ],
            )
        ],
    )
    return [SlotSet(OFFERED_SLOT, True), SlotSet("awaiting", AWAITING_SUBSCRIBE)]


def answer_offer(dispatcher: CollectingDispatcher, accepted: bool) -> Events:
    """Yes or no to the offer: yes opens the form; no ends it politely (and it is not asked
    again: the offer slot stays set)."""
    if accepted:
        return [SlotSet("awaiting", None), FollowupAction("action_start_subscription")]
    send(dispatcher, [Reply(reply_text("subscription_offer_declined"))])
    return [SlotSet("awaiting", None)]
