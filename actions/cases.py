"""Feedback and petitions: opening the form after moderation, saving exactly once, cancelling.

The form itself is in ``actions/case_form.py`` (validation), ``actions/case_questions.py`` (its
questions) and ``actions/case_interruptions.py``. The confirmed case is written by
:func:`bot.cases.citizen.submit_case`, off the event loop, in one transaction with its first event
and the staff notification, and the reference code is told only after the commit.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.case_questions import HINT_SLOT
from actions.case_slots import CASE_SLOTS, MODERATION_SLOT, STORY_WORDS
from actions.common import Events, channel_of, latest_intent, latest_text, send
from actions.legal_type import legal_type_replies
from actions.subscriptions import withdraw
from bot.announcements.subscriptions import names_subscription
from bot.cases import intake
from bot.cases.citizen import StoreUnavailable, submit_case
from bot.knowledge.answers import Reply
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import reply_text
from bot.moderation.gate import check_message, record_quarantine

logger = logging.getLogger(__name__)


def retry_buttons() -> list[dict[str, str]]:
    """Offered with the apology when the database could not save the case."""
    return [{"title": reply_text("button_retry"), "payload": "/retry"},
            {"title": reply_text("button_cancel"), "payload": "/cancel"}]


def start_again() -> Reply:
    """"Thử lại" with nothing waiting (after "Hủy", or typed later): offer to start again."""
    return Reply(
        reply_text("case_start_again", nothing_to_retry=reply_text("case_nothing_to_retry")),
        [{"title": reply_text("button_petition"), "payload": "/submit_petition"},
         {"title": reply_text("button_feedback"), "payload": "/give_feedback"},
         {"title": reply_text("button_person"), "payload": "/request_human"}],
    )


def unclear_story(tracker: Tracker) -> str | None:
    """The citizen's previous message, when the assistant was unsure what it meant and it is
    the problem itself, while the latest one only chooses the petition (a button, or a few typed
    words): that message is what the petition is about, and the citizen must not be asked to
    write it again. Two ways the assistant was unsure:

    * it asked back (``nlu_fallback``) on a message long enough to be a story (issue 11: a
      question-shaped petition is asked back, ``bot/nlu/programme.py``);
    * it read a bare problem as a form's answer typed out of any form ("lấn chiếm vỉa hè",
      "hàng xóm hát karaoke xuyên đêm": ``inform``) and, finding no place in it, asked what the
      citizen wanted (:func:`_asked_what_to_do`). Stop 47's blind sets of short typed messages:
      such a first message is how many citizens open.
    """
    if len(latest_text(tracker).split()) >= STORY_WORDS:
        return None
    users = [i for i, e in enumerate(tracker.events) if e.get("event") == "user"]
    if len(users) < 2:
        return None
    previous = tracker.events[users[-2]]
    parse = previous.get("parse_data") or {}
    intent = (parse.get("intent") or {}).get("name")
    text = str(previous.get("text") or "")
    if text.startswith("/"):
        return None
    if intent == "nlu_fallback" and len(text.split()) >= STORY_WORDS:
        return text
    if intent == "inform" and _a_bare_problem(text, parse) and _asked_what_to_do(
            tracker.events[users[-2] + 1:]):
        return text
    return None


#: Fewest words of a bare problem typed out of a form ("lấn chiếm vỉa hè", "rác đổ bậy đầu ngõ").
BARE_PROBLEM_WORDS = 3
#: Entities that make an out-of-form ``inform`` a value (a place, a phone, a name), not a problem.
_VALUE_ENTITIES = frozenset({"location", "unit", "phone", "person_name"})


def _a_bare_problem(text: str, parse: dict[str, Any]) -> bool:
    """A few words naming a problem: no place, phone or name among its entities, a category
    found in it or a sentence of some length."""
    entities = {str(e.get("entity")) for e in parse.get("entities") or []}
    if entities & _VALUE_ENTITIES or intake.content_problem(text):
        return False
    words = len(text.split())
    return words >= BARE_PROBLEM_WORDS and ("category" in entities or words >= 5)


def _asked_what_to_do(after: list[dict[str, Any]]) -> bool:
    """Whether the message before the events ``after`` it was answered by
    ``action_handle_inform`` asking what the citizen wants: the action set nothing (no place was
    remembered, no programme answered). Slots Rasa fills from the message's entities come before
    the action and do not count."""
    handled = False
    for event in after:
        kind = event.get("event")
        if kind == "user":
            break
        if kind == "action":
            if handled:
                break  # the next action (action_listen): what the inform action set is behind
            handled = event.get("name") == "action_handle_inform"
        elif handled and kind == "slot":
            return False
    return handled


class ActionStartCase(Action):
    """submit_petition / give_feedback: check the message, then open a fresh form."""

    def name(self) -> str:
        return "action_start_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        text = latest_text(tracker)
        verdict = check_message(channel_of(tracker), tracker.sender_id, text)
        if verdict.insult_only:
            send(dispatcher, [Reply(verdict.citizen_message)])
            return []
        if verdict.flagged:
            await asyncio.to_thread(
                record_quarantine, channel_of(tracker), tracker.sender_id, text, verdict)
            send(dispatcher, [Reply(verdict.citizen_message)])
            return []
        kind = "feedback" if latest_intent(tracker) == "give_feedback" else "petition"
        hint = (tracker.latest_message or {}).get("programme_hint") if kind == "petition" else None
        intro = reply_text("case_intro_feedback") if kind == "feedback" \
            else reply_text("case_intro_petition")
        send(dispatcher, [Reply(intro)])
        marker, story = verdict.marker, unclear_story(tracker)
        if story is not None:
            earlier = check_message(channel_of(tracker), tracker.sender_id, story)
            if earlier.flagged or earlier.insult_only:
                story = None  # asked for again, and judged again, by the form
            else:
                marker = earlier.marker
        return [
            *(SlotSet(slot, None) for slot in CASE_SLOTS),
            *([SlotSet("case_content", story)] if story is not None else []),
            SlotSet(MODERATION_SLOT, marker),
            SlotSet("case_kind", kind),
            SlotSet(HINT_SLOT, str(hint) if hint else None),
            SlotSet("case_key", str(uuid.uuid4())),
            SlotSet("case_pending", False),
            FollowupAction("case_form"),
        ]


class ActionSubmitCase(Action):
    """Save the confirmed case once; tell the reference code only after the commit."""

    def name(self) -> str:
        return "action_submit_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        if tracker.get_slot("case_confirm") != "confirm" or not tracker.get_slot("case_content"):
            send(dispatcher, [Reply(reply_text("case_nothing_to_retry"))])
            return []
        kind = tracker.get_slot("case_kind") or "petition"
        try:
            created = await asyncio.to_thread(
                submit_case,
                kind=kind,
                content=tracker.get_slot("case_content"),
                channel=channel_of(tracker),
                channel_user_id=tracker.sender_id,
                unit_code=tracker.get_slot("case_unit"),
                category=tracker.get_slot("case_category"),
                location=tracker.get_slot("case_location"),
                consent=tracker.get_slot("case_consent") is True,
                person_name=tracker.get_slot("case_name"),
                phone=tracker.get_slot("case_phone"),
                moderation_marker=tracker.get_slot(MODERATION_SLOT),
                attachments=tracker.get_slot("case_attachments") or [],
                idempotency_key=tracker.get_slot("case_key"),
            )
        except StoreUnavailable as error:
            logger.error("case not saved for conversation %s: %s", tracker.sender_id, error)
            send(dispatcher, [Reply(reply_text("case_not_saved", kind=intake.kind_label(kind)),
                                    retry_buttons())])
            return [SlotSet("case_pending", True)]
        unit = unit_tree().get(created.unit_code)
        send(dispatcher, [Reply(reply_text(
            "case_saved",
            kind=intake.kind_label(kind).capitalize(),
            ref=created.ref_code,
            unit=unit.name if unit else created.unit_code,
        ))])
        if kind == "petition" and created.created:
            if created.others_reporting:
                send(dispatcher, [Reply(reply_text(
                    "case_others_reported", others=created.others_reporting))])
            send(dispatcher, await legal_type_replies(
                created.id, created.ref_code, str(tracker.get_slot("case_content"))))
        return [
            *(SlotSet(slot, None) for slot in CASE_SLOTS),
            SlotSet("case_pending", False),
            SlotSet("case_key", None),
            SlotSet("last_ref_code", created.ref_code),
        ]


class ActionCancelCase(Action):
    """"Hủy": stop the form (or a pending retry) and forget the draft; nothing is saved."""

    def name(self) -> str:
        return "action_cancel_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        had_draft = bool(tracker.active_loop.get("name")) or bool(tracker.get_slot("case_pending"))
        cleared: Events = [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            *(SlotSet(slot, None) for slot in CASE_SLOTS),
            SlotSet("case_pending", False),
            SlotSet("case_key", None),
        ]
        if not had_draft and names_subscription(latest_text(tracker)):
            # Issue 16: "hủy đăng kí" read as a plain "hủy" with nothing to cancel means
            # "hủy nhận tin", which must work whatever the NLU made of it.
            return [*cleared, *await withdraw(dispatcher, tracker)]
        send(dispatcher, [Reply(reply_text("case_cancelled") if had_draft
                                else reply_text("case_nothing_to_cancel"))])
        return cleared


class ActionRetryCase(ActionSubmitCase):
    """"Thử lại" after the database was unavailable: the same draft, the same idempotency key."""

    def name(self) -> str:
        return "action_retry_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        if not tracker.get_slot("case_pending"):
            # Issue 11: "thử lại" after a cancel means "let me start again", not "retry a save".
            send(dispatcher, [start_again()])
            return []
        return await super().run(dispatcher, tracker, domain)
