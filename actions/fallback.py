"""Low confidence: ask with the likely options, then offer a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.programmes import note
from bot.cases.citizen import QuestionKind
from bot.knowledge.clarify import HUMAN_PAYLOAD, clarification_menu, load_labels
from bot.knowledge.content import knowledge_base
from bot.knowledge.replies import reply_text


def _user_texts(tracker: Tracker) -> list[tuple[str, str]]:
    """(intent, text) of every user message so far, oldest first."""
    return [
        (
            str((event.get("parse_data") or {}).get("intent", {}).get("name") or ""),
            str(event.get("text") or ""),
        )
        for event in tracker.events
        if event.get("event") == "user"
    ]


class ActionClarify(Action):
    """Offers the two most likely topics as buttons plus a person; a second miss in a row
    puts the person first."""

    def name(self) -> str:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        message = tracker.latest_message or {}
        text = str(message.get("text") or "")
        if not text.strip():
            dispatcher.utter_message(text=reply_text("clarify_empty"))
            return []
        # Inside a form a miss is usually an answer to its step (a name, an address): counted,
        # its words not kept.
        in_form = bool((tracker.active_loop or {}).get("name"))
        await note(QuestionKind.NOT_UNDERSTOOD, tracker, text=None if in_form else text)
        titles = {p.programme: p.button_title for p in knowledge_base()}
        options = clarification_menu(message, load_labels(), titles)
        history = _user_texts(tracker)
        repeated_miss = len(history) >= 2 and history[-2][0] == "nlu_fallback"
        if repeated_miss:
            buttons = [{"title": reply_text("button_person"), "payload": HUMAN_PAYLOAD}] + [
                o.as_button() for o in options if o.payload != HUMAN_PAYLOAD
            ]
            dispatcher.utter_message(text=reply_text("clarify_second_miss"), buttons=buttons)
        else:
            dispatcher.utter_message(
                text=reply_text("clarify"), buttons=[o.as_button() for o in options]
            )
        return []


class ActionDefaultFallback(ActionClarify):
    """The dialogue policies' fallback: the same honest question as low NLU confidence."""

    def name(self) -> str:
        return "action_default_fallback"
