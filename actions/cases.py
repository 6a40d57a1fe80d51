"""Feedback and petitions: moderation, the intake form, saving exactly once, cancelling.

The form (``case_form``) collects what happened, where, the category and, after a consent notice,
optional name and phone; a summary lets the citizen send, edit one part, or cancel. The case is
written by :func:`bot.cases.citizen.submit_case`, off the event loop, in one transaction with its
first event and the staff notification, and the reference code is told only after the commit.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import Events, entity_values, first_entity, first_place, latest_text, send
from bot.cases import intake
from bot.cases.citizen import StoreUnavailable, submit_case, worst_marker
from bot.cases.service import normalise_vn_phone
from bot.knowledge.answers import Reply
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import reply_text
from bot.moderation.gate import check_message, record_quarantine

logger = logging.getLogger(__name__)

CASE_SLOTS = (
    "case_content", "case_location", "case_unit", "case_category", "case_consent",
    "case_name", "case_phone", "case_confirm", "case_attachments",
)


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


def person_buttons() -> list[dict[str, str]]:
    """Offered when a step's answer was not understood twice in a row."""
    return [{"title": reply_text("button_person"), "payload": "/request_human"},
            {"title": reply_text("button_cancel"), "payload": "/cancel"}]


#: Intents that interrupt the form at any step (issue 11): answered, then the form goes on
#: (status, programme, contact) or pauses with its draft kept (a person, erasure).
INTERRUPTING_INTENTS = frozenset(
    {"check_status", "ask_programme", "ask_contact", "request_human", "delete_my_data"})
#: How sure the NLU must be; at the description step (free text) surer, and the message short.
INTERRUPT_CONFIDENCE = 0.5
INTERRUPT_CONFIDENCE_FREE_TEXT = 0.75
INTERRUPT_MAX_WORDS_FREE_TEXT = 12
#: How many times in a row the current step was not understood.
MISSES_SLOT = "case_misses"
#: The moderation marker of the case being written (bot.moderation.gate: clean, rude, threat).
MODERATION_SLOT = "case_moderation"


def interrupted(tracker: Tracker, requested: str | None) -> bool:
    """Whether the latest message is a question or request the form should not swallow as the
    answer to its step: "đơn của tôi sao rồi", "gặp cán bộ", "xóa dữ liệu của tôi", a programme
    question. At the description step the bar is higher: describing a problem can sound like
    anything, and a description is long."""
    intent = (tracker.latest_message or {}).get("intent") or {}
    name = intent.get("name")
    if name not in INTERRUPTING_INTENTS or answers_the_step(tracker, requested):
        return False
    confidence = float(intent.get("confidence") or 0.0)
    if requested in (None, "case_content"):
        text = latest_text(tracker)
        return (confidence >= INTERRUPT_CONFIDENCE_FREE_TEXT
                and (text.startswith("/") or len(text.split()) <= INTERRUPT_MAX_WORDS_FREE_TEXT))
    return confidence >= INTERRUPT_CONFIDENCE


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


def missed(dispatcher: CollectingDispatcher, tracker: Tracker, first_time: str) -> dict[str, Any]:
    """Say the step did not understand; from the second time in a row, offer a person."""
    misses = int(tracker.get_slot(MISSES_SLOT) or 0) + 1
    if misses >= 2:
        dispatcher.utter_message(text=reply_text("case_second_miss"), buttons=person_buttons())
    else:
        dispatcher.utter_message(text=first_time)
    return {MISSES_SLOT: float(misses)}


def channel_of(tracker: Tracker) -> str:
    """Our channel name for the case record (web chat arrives on Rasa's REST/socket.io)."""
    name = tracker.get_latest_input_channel() or "web"
    return "web" if name in ("rest", "socketio", "cmdline", "callback") else name


def _intent(tracker: Tracker) -> str:
    return str(((tracker.latest_message or {}).get("intent") or {}).get("name") or "")


def _attachments(tracker: Tracker) -> list[dict[str, Any]]:
    """Images, files and locations the channel attached to the latest message (metadata)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    found = []
    for item in metadata.get("attachments") or []:
        if isinstance(item, dict) and item.get("kind") in ("image", "file", "location"):
            found.append(
                {"kind": item["kind"], "url": item.get("url"), "payload": item.get("payload")}
            )
    return found


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
        kind = "feedback" if _intent(tracker) == "give_feedback" else "petition"
        intro = reply_text("case_intro_feedback") if kind == "feedback" \
            else reply_text("case_intro_petition")
        send(dispatcher, [Reply(intro)])
        return [
            *(SlotSet(slot, None) for slot in CASE_SLOTS),
            SlotSet(MODERATION_SLOT, verdict.marker),
            SlotSet("case_kind", kind),
            SlotSet("case_key", str(uuid.uuid4())),
            SlotSet("case_pending", False),
            FollowupAction("case_form"),
        ]


class ValidateCaseForm(FormValidationAction):
    """Fills what each message offers (several fields at once is fine) and checks each value."""

    def name(self) -> str:
        return "validate_case_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        slots = ["case_content", "case_unit", "case_category", "case_consent"]
        if tracker.get_slot("case_consent") is True:
            slots += ["case_name", "case_phone"]
        return slots + ["case_confirm"]

    # -- helpers
    @staticmethod
    def _requested(tracker: Tracker) -> str | None:
        return tracker.get_slot("requested_slot")

    @classmethod
    def _cancelling(cls, tracker: Tracker) -> bool:
        """Cancelling, or interrupted: either way no slot takes this message (the form is then
        rejected and the rules answer the interruption; see ``nlu_data/rules/cases.yml``)."""
        return _intent(tracker) == "cancel" or interrupted(tracker, cls._requested(tracker))

    @staticmethod
    def _payload(tracker: Tracker) -> bool:
        return latest_text(tracker).startswith("/")

    # -- what happened
    async def extract_case_content(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._cancelling(tracker):
            return {}
        found: dict[str, Any] = {}
        attachments = _attachments(tracker)
        if attachments:
            found["case_attachments"] = (tracker.get_slot("case_attachments") or []) + attachments
        text = latest_text(tracker)
        requested = self._requested(tracker)
        if requested == "case_content" and text and not self._payload(tracker):
            found["case_content"] = text
        elif requested is None and len(text.split()) >= 8 and not self._payload(tracker):
            # The message that opened the form already describes the problem.
            found["case_content"] = text
        return found

    async def validate_case_content(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"case_content": None}
        text = str(value or "")
        problem = intake.content_problem(text)
        if problem:
            dispatcher.utter_message(text=problem)
            return {"case_content": None}
        verdict = check_message(channel_of(tracker), tracker.sender_id, text)
        if verdict.insult_only:
            dispatcher.utter_message(text=verdict.citizen_message)
            return {"case_content": None}
        if verdict.flagged:
            await asyncio.to_thread(
                record_quarantine, channel_of(tracker), tracker.sender_id, text, verdict)
            dispatcher.utter_message(text=verdict.citizen_message)
            return {"case_content": None}
        marker = worst_marker(tracker.get_slot(MODERATION_SLOT), verdict.marker)
        return {"case_content": text, MODERATION_SLOT: marker}

    # -- where
    async def extract_case_unit(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._cancelling(tracker):
            return {}
        requested = self._requested(tracker)
        named = first_place(tracker, "location", "unit")
        if requested == "case_unit":
            text = named or latest_text(tracker)
            if intake.is_unknown_place(text):
                return {"case_unit": unit_tree().province().code}
            return {"case_unit": text, "case_location": named or text}
        if named and tracker.get_slot("case_unit") is None:
            return {"case_unit": named, "case_location": named}
        return {}

    async def validate_case_unit(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"case_unit": None}
        tree = unit_tree()
        if value in tree:
            return {"case_unit": value}
        result = tree.resolve(str(value or ""))
        if result.status == "one" and result.unit is not None:
            return {"case_unit": result.unit.code}
        if result.status == "ambiguous":
            dispatcher.utter_message(
                text=reply_text("case_unit_ambiguous"),
                buttons=[
                    {"title": (u.short_name or u.name)[:20],
                     "payload": f'/inform{{"location":"{u.code}"}}'}
                    for u in result.candidates[:10]
                ],
            )
            return {"case_unit": None}
        if self._requested(tracker) == "case_unit":
            return {"case_unit": None, **missed(
                dispatcher, tracker, reply_text("case_unit_unknown"))}
        # A street or landmark without a ward: keep it as the detail, still ask for the ward.
        return {"case_unit": None}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """rasa_sdk keeps only required slots; the place as typed and the attachments ride along."""
        changed = tracker.slots_to_validate()
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if "case_location" in changed:
            place = changed["case_location"]
            events.append(SlotSet("case_location", str(place).strip()[:500] if place else None))
        if MODERATION_SLOT in changed:
            events.append(SlotSet(MODERATION_SLOT, changed[MODERATION_SLOT]))
        if MISSES_SLOT in changed:
            events.append(SlotSet(MISSES_SLOT, changed[MISSES_SLOT]))
        if "case_attachments" in changed:
            if changed["case_attachments"]:
                dispatcher.utter_message(text=reply_text("case_attachment_received"))
            events.append(SlotSet("case_attachments", changed["case_attachments"]))
        return events

    # -- category
    async def extract_case_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._cancelling(tracker):
            return {}
        values = entity_values(tracker, "category")
        if self._requested(tracker) == "case_category":
            return {"case_category": values[0] if values else latest_text(tracker)}
        if values and tracker.get_slot("case_category") is None:
            return {"case_category": values[0]}
        return {}

    async def validate_case_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"case_category": None}
        code = intake.match_category(str(value or ""))
        if code is None and self._requested(tracker) == "case_category":
            return {"case_category": None, **missed(
                dispatcher, tracker, reply_text("case_category_missed"))}
        return {"case_category": code, MISSES_SLOT: None}

    # -- consent, name, phone
    async def extract_case_consent(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._requested(tracker) != "case_consent" or self._cancelling(tracker):
            return {}
        consent = intake.read_consent(latest_text(tracker), _intent(tracker))
        if consent is True:
            return {"case_consent": True, MISSES_SLOT: None}
        if consent is False:
            return {"case_consent": False, "case_name": None, "case_phone": None,
                    MISSES_SLOT: None}
        return {"case_consent": None, **missed(
            dispatcher, tracker, reply_text("case_consent_missed"))}

    async def extract_case_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._cancelling(tracker):
            return {}
        named = first_entity(tracker, "person_name")
        if self._requested(tracker) == "case_name":
            text = latest_text(tracker)
            if intake.is_skip(text):
                return {"case_name": ""}
            return {"case_name": named or text}
        if named and tracker.get_slot("case_consent") is True and not tracker.get_slot("case_name"):
            return {"case_name": named}
        return {}

    async def validate_case_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"case_name": None}
        if value == "":
            return {"case_name": ""}
        name = intake.parse_name(str(value or ""))
        if name is None:
            dispatcher.utter_message(text=reply_text("case_name_invalid"))
        return {"case_name": name}

    async def extract_case_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._cancelling(tracker):
            return {}
        phone = first_entity(tracker, "phone")
        if self._requested(tracker) == "case_phone":
            text = latest_text(tracker)
            if intake.is_skip(text):
                return {"case_phone": ""}
            return {"case_phone": phone or text}
        if phone and tracker.get_slot("case_consent") is True and not tracker.get_slot("case_phone"):
            return {"case_phone": phone}
        return {}

    async def validate_case_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"case_phone": None}
        if value == "":
            return {"case_phone": ""}
        phone = normalise_vn_phone(str(value or ""))
        if phone is None:
            dispatcher.utter_message(text=reply_text("case_phone_invalid"))
        return {"case_phone": phone}

    # -- the summary answer: send, edit one part, (cancel goes through the cancel rule)
    async def extract_case_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._requested(tracker) != "case_confirm" or self._cancelling(tracker):
            return {}
        intent = _intent(tracker)
        if intent == "affirm" or intake.fold(latest_text(tracker)) in ("gui", "gui di", "xac nhan"):
            return {"case_confirm": "confirm"}
        if intent == "edit" or intake.fold(latest_text(tracker)).startswith("sua"):
            target = intake.edit_target(latest_text(tracker), first_entity(tracker, "edit_field"))
            cleared: dict[str, Any] = {"case_confirm": None}
            if target is not None:
                cleared.update({slot: None for slot in intake.EDIT_FIELDS[target]})
            return cleared
        return {"case_confirm": None, **missed(
            dispatcher, tracker, reply_text("case_confirm_missed"))}


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
            for field, label in intake.EDIT_LABELS.items()
        ]
        buttons.append({"title": reply_text("button_cancel"), "payload": "/cancel"})
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


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
        send(dispatcher, [Reply(reply_text("case_cancelled") if had_draft
                                else reply_text("case_nothing_to_cancel"))])
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            *(SlotSet(slot, None) for slot in CASE_SLOTS),
            SlotSet("case_pending", False),
            SlotSet("case_key", None),
        ]


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


class ActionAskCaseConsent(Action):
    """The personal-data notice (Law 91/2025/QH15, Decree 356/2025/NĐ-CP) before asking for
    name and phone; agreeing and not agreeing are two equally plain buttons."""

    def name(self) -> str:
        return "action_ask_case_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        dispatcher.utter_message(
            text=intake.CONSENT_NOTICE,
            buttons=[
                {"title": reply_text("button_consent_yes"), "payload": "/affirm"},
                {"title": reply_text("button_consent_no"), "payload": "/deny"},
            ],
        )
        return []
