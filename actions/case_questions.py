"""The questions of the feedback / petition form that need more than a fixed response: the
category buttons, the personal-data notice and the summary to confirm."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import Events
from bot.cases import intake, legal_type
from bot.knowledge.content import knowledge_base, unit_tree
from bot.knowledge.replies import reply_text

#: The programme a question-shaped petition may really be about (``programme_hint`` of the NLU,
#: kept by ``action_start_case``): offered once, on the form's first question.
HINT_SLOT = "case_programme_hint"


def offer_hint(dispatcher: CollectingDispatcher, tracker: Tracker
               ) -> tuple[list[dict[str, str]], Events]:
    """When a question opened the form: say what the programme button is for, and return the
    button (for the question about to be asked) and the event that clears it, so it is offered
    only once. Otherwise nothing.

    Issue 11: a hard-luck story ending in a question ("nhà em nghèo, có được hỗ trợ sửa nhà
    không") is often read as a petition with high confidence. The form still opens (a real
    petition must not be slowed down), but its first question carries one button that answers
    the programme instead; tapping it interrupts the form (``actions/case_interruptions.py``).
    The button sits on the question itself, not on the greeting before it, because Facebook
    drops quick replies once a later message arrives and Zalo numbers the last message's
    options."""
    programme = tracker.get_slot(HINT_SLOT)
    if not programme:
        return [], []
    cleared: Events = [SlotSet(HINT_SLOT, None)]
    programmes = knowledge_base()
    if programme not in programmes:
        return [], cleared
    entry = programmes.get(programme)
    dispatcher.utter_message(text=reply_text("case_programme_hint", programme=entry.title))
    return ([{"title": entry.button_title,
              "payload": f'/ask_programme{{"programme":"{programme}"}}'}], cleared)


def ask_with_hint(dispatcher: CollectingDispatcher, tracker: Tracker, response: str) -> Events:
    """Ask a form question written in the domain (``response``), with the programme button when
    the form has one to offer."""
    buttons, events = offer_hint(dispatcher, tracker)
    dispatcher.utter_message(response=response, buttons=buttons or None)
    return events


class ActionAskCaseContent(Action):
    """"What happened?", with the programme button when a question opened the form."""

    def name(self) -> str:
        return "action_ask_case_content"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        return ask_with_hint(dispatcher, tracker, "utter_ask_case_content")


class ActionAskCaseUnit(Action):
    """"Which ward or commune?", with the programme button when a question opened the form."""

    def name(self) -> str:
        return "action_ask_case_unit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        return ask_with_hint(dispatcher, tracker, "utter_ask_case_unit")


class ActionAskCaseCategory(Action):
    """Category buttons from content/categories.yml (numbered where a channel has no buttons)."""

    def name(self) -> str:
        return "action_ask_case_category"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        dispatcher.utter_message(
            text=reply_text("case_ask_category"),
            buttons=[
                {"title": c.button_title, "payload": f'/inform{{"category":"{c.code}"}}'}
                for c in intake.load_categories()
            ],
        )
        return []


class ActionAskCaseComplaintDetail(Action):
    """A petition that reads as a khiếu nại: which decision or act, and since when the citizen
    knows of it (content/legal_types/texts.yml); it may be skipped."""

    def name(self) -> str:
        return "action_ask_case_complaint_detail"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        question = legal_type.extra_question("khieu_nai") or ""
        buttons, events = offer_hint(dispatcher, tracker)
        dispatcher.utter_message(text=f"{question} {reply_text('case_complaint_detail_skip')}",
                                 buttons=buttons or None)
        return events


class ActionAskCaseConsent(Action):
    """The personal-data notice (Law 91/2025/QH15, Decree 356/2025/NĐ-CP) before asking for
    name and phone; agreeing and not agreeing are two equally plain buttons."""

    def name(self) -> str:
        return "action_ask_case_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        dispatcher.utter_message(
            text=reply_text("case_consent_notice"),
            buttons=[
                {"title": reply_text("button_consent_yes"), "payload": "/affirm"},
                {"title": reply_text("button_consent_no"), "payload": "/deny"},
            ],
        )
        return []


class ActionAskCaseConfirm(Action):
    """The summary before sending: exactly what will be saved, with send / edit / cancel."""

    def name(self) -> str:
        return "action_ask_case_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        unit = unit_tree().get(tracker.get_slot("case_unit"))
        text = intake.summary(
            kind=tracker.get_slot("case_kind") or "petition",
            content=tracker.get_slot("case_content") or "",
            unit_name=unit.name if unit else "",
            location=tracker.get_slot("case_location"),
            category=tracker.get_slot("case_category"),
            consent=tracker.get_slot("case_consent"),
            name=tracker.get_slot("case_name"),
            phone=tracker.get_slot("case_phone"),
        )
        buttons = [{"title": reply_text("button_send"), "payload": "/affirm"}]
        buttons += [
            {"title": label, "payload": f'/edit{{"edit_field":"{field}"}}'}
            for field, label in intake.edit_labels().items()
        ]
        buttons.append({"title": reply_text("button_cancel"), "payload": "/cancel"})
        dispatcher.utter_message(text=text, buttons=buttons)
        return []
