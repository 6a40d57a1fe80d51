"""The questions of the feedback / petition form that need more than a fixed response: the
category buttons, the personal-data notice and the summary to confirm."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import Events
from bot.cases import intake, legal_type
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import reply_text


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
        dispatcher.utter_message(text=f"{question} {reply_text('case_complaint_detail_skip')}")
        return []


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
