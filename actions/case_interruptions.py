"""Interruptions of the feedback / petition form (issue 11): the form never traps a citizen.

At any step a status question, "gặp cán bộ", "xóa dữ liệu của tôi", "hủy nhận tin" or a question
about a programme is not taken as the step's answer (:func:`interrupted`): no slot takes the
message, Rasa rejects the form and the rules in ``nlu_data/rules/`` answer it. Then the form goes
on (:class:`ActionResumeCase`) or pauses with its draft kept (:class:`ActionPauseCase`).
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.case_slots import MISSES_SLOT
from actions.common import Events, first_entity, first_place, latest_text
from bot.announcements.subscriptions import about_announcements
from bot.cases import intake
from bot.cases.service import normalise_vn_phone
from bot.knowledge.clarify import likely_programmes
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import reply_text

#: Intents that interrupt the form at any step (issue 11): answered, then the form goes on
#: (status, programme, contact, "hủy nhận tin" of issue 16) or pauses with its draft kept (a
#: person, erasure).
INTERRUPTING_INTENTS = frozenset(
    {"check_status", "ask_programme", "ask_contact", "request_human", "delete_my_data",
     "unsubscribe"})
#: How sure the NLU must be; at the description step (free text) surer, and the message short.
INTERRUPT_CONFIDENCE = 0.5
INTERRUPT_CONFIDENCE_FREE_TEXT = 0.75
INTERRUPT_MAX_WORDS_FREE_TEXT = 12


def interrupted(tracker: Tracker, requested: str | None) -> bool:
    """Whether the latest message is a question or request the form should not swallow as the
    answer to its step: "đơn của tôi sao rồi", "gặp cán bộ", "xóa dữ liệu của tôi", a programme
    question. At the description step the bar is higher: describing a problem can sound like
    anything, and a description is long."""
    intent = (tracker.latest_message or {}).get("intent") or {}
    name = intent.get("name")
    confidence = float(intent.get("confidence") or 0.0)
    if name == "unsubscribe" and not about_announcements(latest_text(tracker)):
        # "không biết nữa" at a step reads to the classifier like "không nhận tin nữa" (stop 47:
        # one model read it as "hủy nhận tin" at 0.54): a shrug, the step's miss, not a withdrawal.
        return False
    if (name == "unsubscribe" and requested not in (None, "case_content", "case_complaint_detail")
            and confidence >= INTERRUPT_CONFIDENCE and len(latest_text(tracker).split()) > 2):
        # "không muốn nhận tin nữa" at the consent step reads as a refusal, but it withdraws
        # from announcements (issue 16); a word or two ("không") still answers the step.
        return True
    if name not in INTERRUPTING_INTENTS or answers_the_step(tracker, requested):
        return False
    if name == "ask_programme" and not about_a_programme(tracker):
        return False
    if requested in (None, "case_content", "case_complaint_detail"):  # free text: a higher bar
        text = latest_text(tracker)
        return (confidence >= INTERRUPT_CONFIDENCE_FREE_TEXT
                and (text.startswith("/") or len(text.split()) <= INTERRUPT_MAX_WORDS_FREE_TEXT))
    return confidence >= INTERRUPT_CONFIDENCE


def about_a_programme(tracker: Tracker) -> bool:
    """Whether a message read as a programme question names or suggests a programme: an entity
    (named, or found by meaning) or the two the programme classifier would offer.

    Why: a shrug at a step ("cái gì cũng được", "gì cũng được") has a question word and can
    read as a programme question, but no programme; taken as one it answered with the menu of
    programmes and asked the step again, so the citizen who had no answer was never offered a
    person (stop 38: the intent second opinion reads it so). The programmes are those the
    clarification would offer (:func:`bot.knowledge.clarify.likely_programmes`)."""
    return bool(likely_programmes(tracker.latest_message or {}))


def answers_the_step(tracker: Tracker, requested: str | None) -> bool:
    """Whether the latest message is a valid answer to the step being asked, whatever the NLU
    thought it was: "phường Láng" at the place step is the place, not a contact question."""
    text = latest_text(tracker)
    if not text or text.startswith("/"):
        return False
    if requested == "case_unit":
        place = first_place(tracker, "location", "unit") or text
        return unit_tree().resolve(place).status in ("one", "ambiguous")
    if requested == "case_category":
        return intake.match_category(text) is not None
    if requested == "case_consent":
        return intake.read_consent(text, None) is not None
    if requested == "case_phone":
        return bool(first_entity(tracker, "phone")) or normalise_vn_phone(text) is not None
    return False


class ActionResumeCase(Action):
    """After an interruption was answered inside the form: the draft is kept, the form goes on
    (the rule runs ``case_form`` next, which asks its step again)."""

    def name(self) -> str:
        return "action_resume_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        dispatcher.utter_message(text=reply_text("case_resume_note"))
        return [SlotSet(MISSES_SLOT, None)]


class ActionPauseCase(Action):
    """A person asked for, or erasure, inside the form: the form stops, the draft stays in the
    conversation (the officer sees it; erasure then removes it with the rest)."""

    def name(self) -> str:
        return "action_pause_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet(MISSES_SLOT, None)]
