"""The subscription form (issue 16): which ward, which topics, then the consent notice.

Consent is the last step so the notice can say exactly what the citizen will get (the ward's
announcements on the chosen topics), through which channel, and how to stop. It is an explicit
choice: two equally plain buttons, or a typed answer read by
:func:`bot.cases.intake.read_consent` (a refusal word anywhere wins, so "khong dong y" never
subscribes); nothing is assumed. Like the petition form (``actions/case_interruptions.py``), a
question or request is not swallowed as a step's answer: "hủy nhận tin" withdraws at once, "hủy"
stops the form, a person or erasure stops it, a status, programme or contact question is
answered and the form goes on (``nlu_data/rules/subscriptions.yml``).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    Events,
    channel_of,
    entity_values,
    first_place,
    latest_text,
    resolve_ward,
)
from bot.announcements.subscriptions import (
    SUBSCRIPTION_TOPICS,
    channel_label,
    consent_version,
    parse_topics,
    topic_label,
    topics_text,
)
from bot.cases import intake
from bot.knowledge.answers import payload
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import reply_text

#: Intents that stop or interrupt the subscription form instead of answering its step.
INTERRUPTING_INTENTS = frozenset(
    {
        "unsubscribe",
        "cancel",
        "check_status",
        "ask_programme",
        "ask_contact",
        "request_human",
        "delete_my_data",
    }
)
INTERRUPT_CONFIDENCE = 0.5
#: The button (and entity value) for every topic at once.
ALL_TOPICS = "tat_ca"


def _intent(tracker: Tracker) -> tuple[str, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)


def _topics_from(tracker: Tracker) -> tuple[str, ...] | None:
    """The topics of a tapped button (a ``topic`` entity) or of what the citizen typed."""
    values = entity_values(tracker, "topic")
    if ALL_TOPICS in values:
        return SUBSCRIPTION_TOPICS
    tapped = tuple(t for t in SUBSCRIPTION_TOPICS if t in values)
    if tapped:
        return tapped
    text = latest_text(tracker)
    return None if text.startswith("/") else parse_topics(text)


def answers_the_step(tracker: Tracker, requested: str | None) -> bool:
    """Whether the latest message is a valid answer to the step, whatever the NLU thought."""
    text = latest_text(tracker)
    if not text or text.startswith("/"):
        return False
    if requested == "sub_unit":
        place = first_place(tracker, "location", "unit") or text
        return intake.is_unknown_place(text) or unit_tree().resolve(place).status in (
            "one",
            "ambiguous",
        )
    if requested == "sub_topics":
        return _topics_from(tracker) is not None
    if requested == "sub_consent":
        return intake.read_consent(text, None) is not None
    return False


def interrupted(tracker: Tracker) -> bool:
    """Whether the latest message stops or interrupts the form rather than answering its step.

    "hủy nhận tin" always does (withdrawing is never mistaken for an answer: at worst nothing is
    subscribed), unless it is a word or two that answers the step ("không" at the consent step
    is a refusal, and refusing subscribes nothing either)."""
    name, confidence = _intent(tracker)
    if name not in INTERRUPTING_INTENTS or confidence < INTERRUPT_CONFIDENCE:
        return False
    requested = tracker.get_slot("requested_slot")
    if name == "unsubscribe" and len(latest_text(tracker).split()) > 2:
        return True
    return not answers_the_step(tracker, requested)


class ValidateSubscriptionForm(FormValidationAction):
    """Fills the ward, the topics and the consent from what each message offers."""

    def name(self) -> str:
        return "validate_subscription_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Consent last, so the notice can name the ward and topics chosen (as domain.yml)."""
        return ["sub_unit", "sub_topics", "sub_consent"]

    @staticmethod
    def _requested(tracker: Tracker) -> str | None:
        return tracker.get_slot("requested_slot")

    # -- the ward
    async def extract_sub_unit(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._requested(tracker) != "sub_unit" or interrupted(tracker):
            return {}
        text = latest_text(tracker)
        if intake.is_unknown_place(text):
            return {"sub_unit": unit_tree().province().code}
        return {"sub_unit": first_place(tracker, "location", "unit") or text}

    async def validate_sub_unit(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"sub_unit": None}
        code, status = resolve_ward(dispatcher, value, reply_text("subscription_unit_ambiguous"))
        if status == "none":
            dispatcher.utter_message(text=reply_text("subscription_unit_unknown"))
        return {"sub_unit": code}

    # -- the topics
    async def extract_sub_topics(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._requested(tracker) != "sub_topics" or interrupted(tracker):
            return {}
        topics = _topics_from(tracker)
        if topics is None:
            dispatcher.utter_message(text=reply_text("subscription_topics_missed"))
            return {"sub_topics": None}
        return {"sub_topics": list(topics)}

    async def validate_sub_topics(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        chosen = [t for t in SUBSCRIPTION_TOPICS if t in (value or [])]
        return {"sub_topics": chosen or None}

    # -- consent: an explicit choice, never assumed
    async def extract_sub_consent(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._requested(tracker) != "sub_consent" or interrupted(tracker):
            return {}
        name, _ = _intent(tracker)
        consent = intake.read_consent(latest_text(tracker), name)
        if consent is None:
            dispatcher.utter_message(text=reply_text("subscription_consent_missed"))
        return {"sub_consent": consent}

    async def validate_sub_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"sub_consent": value if isinstance(value, bool) else None}


class ActionAskSubUnit(Action):
    """Which ward's announcements (the petition form's question, worded for subscribing)."""

    def name(self) -> str:
        return "action_ask_sub_unit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        dispatcher.utter_message(text=reply_text("subscription_ask_unit"))
        return []


class ActionAskSubTopics(Action):
    """A button per topic, then "Tất cả" (numbered in that order where a channel has no buttons,
    the same numbers :func:`bot.announcements.subscriptions.parse_topics` reads)."""

    def name(self) -> str:
        return "action_ask_sub_topics"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        buttons = [
            {"title": topic_label(t), "payload": payload("inform", topic=t)}
            for t in SUBSCRIPTION_TOPICS
        ]
        buttons.append(
            {
                "title": reply_text("button_all_topics"),
                "payload": payload("inform", topic=ALL_TOPICS),
            }
        )
        dispatcher.utter_message(text=reply_text("subscription_ask_topics"), buttons=buttons)
        return []


class ActionAskSubConsent(Action):
    """The consent notice: what, from whom, where, how to stop, the law; "Đồng ý" and "Không
    đồng ý" as two equally plain buttons. The notice's version is kept for the record."""

    def name(self) -> str:
        return "action_ask_sub_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        unit = unit_tree().get(tracker.get_slot("sub_unit"))
        dispatcher.utter_message(
            text=reply_text(
                "subscription_consent_notice",
                unit=unit.name if unit else "",
                topics=topics_text(tracker.get_slot("sub_topics") or []),
                channel=channel_label(channel_of(tracker)),
            ),
            buttons=[
                {"title": reply_text("button_consent_yes"), "payload": "/affirm"},
                {"title": reply_text("button_consent_refuse"), "payload": "/deny"},
            ],
        )
        return [SlotSet("sub_consent_version", consent_version())]
