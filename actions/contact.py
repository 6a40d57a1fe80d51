"""Where is my committee, what is its phone, when does it receive citizens."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import Events, first_place, send
from bot.knowledge.answers import Reply, contact_answer, unit_choice
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import reply_text

AWAITING_UNIT = "unit"


def resolve_and_answer(
    dispatcher: CollectingDispatcher, text: str, *, intent: str = "ask_contact"
) -> Events | None:
    """Resolve what the citizen typed to a unit and answer its contact facts.

    Returns None when nothing in ``text`` names a unit (the caller decides what to say).
    """
    result = unit_tree().resolve(text)
    if result.status == "one" and result.unit is not None:
        send(dispatcher, [contact_answer(result.unit)])
        return [SlotSet("unit_code", result.unit.code), SlotSet("awaiting", None)]
    if result.status == "ambiguous":
        send(dispatcher, [unit_choice(list(result.candidates), intent, "unit")])
        return [SlotSet("awaiting", AWAITING_UNIT)]
    return None


class ActionAnswerContact(Action):
    """ask_contact: the unit named, else the one the citizen told us before, else ask once."""

    def name(self) -> str:
        return "action_answer_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> Events:
        named = first_place(tracker, "unit", "location")
        if named:
            events = resolve_and_answer(dispatcher, named)
            if events is not None:
                return events
        known = unit_tree().get(tracker.get_slot("unit_code"))
        if known is not None and not named:
            send(dispatcher, [contact_answer(known)])
            return [SlotSet("awaiting", None)]
        if named:
            send(dispatcher, [Reply(reply_text("contact_unit_not_found", named=named,
                                               ask_unit=reply_text("contact_ask_unit")))])
        else:
            send(dispatcher, [Reply(reply_text("contact_ask_unit"))])
        return [SlotSet("awaiting", AWAITING_UNIT)]
