"""Short answers whose meaning depends on what the assistant just asked: yes/no and a value."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import Events, first_place, latest_text, previous_action, send
from actions.contact import AWAITING_UNIT, resolve_and_answer
from actions.privacy import AWAITING_DELETE, erase
from actions.programmes import AWAITING_HELPFUL, answer_programme
from actions.subscriptions import AWAITING_SUBSCRIBE, answer_offer, offer_subscription
from bot.knowledge.answers import Reply
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import reply_text


def not_helpful() -> Reply:
    """"Did that help?" answered no (the first time): a person, or another question."""
    return Reply(reply_text("helpful_no"), [
        {"title": reply_text("button_person"), "payload": "/request_human"},
        {"title": reply_text("button_other_programme"), "payload": "/ask_programme"},
    ])


#: After this many "not helpful" answers the conversation goes to a person.
REPEATED_NOT_HELPFUL = 2
#: Actions after which a "yes"/"no" answers "did that help?".
_ASKED_HELPFUL = {"action_answer_programme", "action_handle_inform"}


def _awaiting(tracker: Tracker, asked_by: set[str]) -> str | None:
    """The open question, valid only if the assistant asked it right before this message."""
    if previous_action(tracker) not in asked_by:
        return None
    value = tracker.get_slot("awaiting")
    return str(value) if value else None


class ActionHandleYesNo(Action):
    """affirm / deny: answers "did that help?", otherwise offers what the assistant can do."""

    def name(self) -> str:
        return "action_handle_yes_no"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> Events:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if _awaiting(tracker, {"action_delete_my_data"}) == AWAITING_DELETE:
            return await erase(dispatcher, tracker, confirmed=intent == "affirm")
        if _awaiting(tracker, {"action_handle_yes_no"}) == AWAITING_SUBSCRIBE:
            return answer_offer(dispatcher, accepted=intent == "affirm")
        if _awaiting(tracker, _ASKED_HELPFUL) == AWAITING_HELPFUL:
            if intent == "affirm":
                send(dispatcher, [Reply(reply_text("helpful_glad"))])
                # Issue 16: a helpful answer is the one moment to offer announcements, once.
                return [SlotSet("awaiting", None), *await offer_subscription(dispatcher, tracker)]
            count = float(tracker.get_slot("not_helpful_count") or 0) + 1
            if count >= REPEATED_NOT_HELPFUL:
                # Twice "không" in one conversation: stop guessing and hand over to a person.
                return [
                    SlotSet("awaiting", None),
                    SlotSet("not_helpful_count", count),
                    SlotSet("not_helpful", True),
                    FollowupAction("action_request_human"),
                ]
            send(dispatcher, [not_helpful()])
            return [
                SlotSet("awaiting", None),
                SlotSet("not_helpful_count", count),
                # Marks the turn for `./mttq review` (what did the citizen ask that failed?).
                SlotSet("not_helpful", True),
            ]
        dispatcher.utter_message(response="utter_anything_else")
        return [SlotSet("awaiting", None)]


class ActionHandleInform(Action):
    """A place, a phone or a name typed outside any form.

    A place is the citizen's unit: remember it, and answer what they were asking (the contact
    details, or the programme answer that needed local facts).
    """

    def name(self) -> str:
        return "action_handle_inform"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> Events:
        place = first_place(tracker, "unit", "location")
        awaiting_unit = tracker.get_slot("awaiting") == AWAITING_UNIT
        text = place or (latest_text(tracker) if awaiting_unit else "")
        if text:
            result = unit_tree().resolve(text)
            programme = tracker.get_slot("programme")
            aspect = tracker.get_slot("aspect")
            if (
                result.status == "one"
                and result.unit is not None
                and not awaiting_unit
                and programme
                and aspect in ("lien_he", "ung_ho")
            ):
                return [SlotSet("unit_code", result.unit.code)] + answer_programme(
                    dispatcher, programme, aspect, result.unit.code
                )
            events = resolve_and_answer(dispatcher, text)
            if events is not None:
                return events
            if awaiting_unit:
                send(dispatcher, [Reply(reply_text("inform_unit_unknown"))])
                return [SlotSet("awaiting", AWAITING_UNIT)]
        dispatcher.utter_message(response="utter_inform_out_of_context")
        return []
