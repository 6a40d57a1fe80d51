"""The feedback / petition form's validation: what each message fills, and whether it is valid.

The form (``case_form``) collects what happened, where, the category and, after a consent notice,
optional name and phone, then a summary to confirm (the questions: ``actions/case_questions.py``).
A message may fill several fields at once; a message that interrupts the form fills none
(``actions/case_interruptions.py``); a step not understood twice in a row offers a person.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.case_interruptions import interrupted
from actions.case_slots import MISSES_SLOT, MODERATION_SLOT, STORY_WORDS
from actions.common import (
    channel_of,
    entity_values,
    first_entity,
    first_place,
    latest_intent,
    latest_text,
    resolve_ward,
)
from bot.cases import intake
from bot.cases.citizen import worst_marker
from bot.cases.legal_type import needs_complaint_detail
from bot.cases.service import normalise_vn_phone
from bot.knowledge.content import unit_tree
from bot.knowledge.replies import reply_text
from bot.moderation.gate import check_message, record_quarantine


def person_buttons() -> list[dict[str, str]]:
    """Offered when a step's answer was not understood twice in a row."""
    return [{"title": reply_text("button_person"), "payload": "/request_human"},
            {"title": reply_text("button_cancel"), "payload": "/cancel"}]


def missed(dispatcher: CollectingDispatcher, tracker: Tracker, first_time: str) -> dict[str, Any]:
    """Say the step did not understand; from the second time in a row, offer a person."""
    misses = int(tracker.get_slot(MISSES_SLOT) or 0) + 1
    if misses >= 2:
        dispatcher.utter_message(text=reply_text("case_second_miss"), buttons=person_buttons())
    else:
        dispatcher.utter_message(text=first_time)
    return {MISSES_SLOT: float(misses)}


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
        slots = ["case_content"]
        content = tracker.get_slot("case_content")
        if (content and (tracker.get_slot("case_kind") or "petition") == "petition"
                and await asyncio.to_thread(needs_complaint_detail, str(content))):
            slots.append("case_complaint_detail")  # issue 17: which decision, known since when
        slots += ["case_unit", "case_category", "case_consent"]
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
        return latest_intent(tracker) == "cancel" or interrupted(tracker, cls._requested(tracker))

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
        elif requested is None and not self._payload(tracker) and (
                len(text.split()) >= STORY_WORDS or intake.describes_problem(text)):
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
        if unit_tree().resolve_whole(text).status != "none":
            # Only a place: the unit step takes it from the same message (extract_case_unit);
            # a case whose whole text is "phường Láng" tells staff nothing.
            dispatcher.utter_message(text=reply_text("case_content_only_place"))
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

    # -- a khiếu nại: which decision or act, and since when the citizen knows of it
    async def extract_case_complaint_detail(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self._requested(tracker) != "case_complaint_detail" or self._cancelling(tracker):
            return {}
        text = latest_text(tracker)
        if not text or self._payload(tracker):
            return {}
        return {"case_complaint_detail": "" if intake.is_skip(text) else text}

    async def validate_case_complaint_detail(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The answer joins the description, so staff, the summary and the saved case all
        have it; skipping ("bỏ qua") is allowed."""
        if value is None:
            return {"case_complaint_detail": None}
        detail = str(value).strip()
        if not detail:
            return {"case_complaint_detail": ""}
        content = str(tracker.get_slot("case_content") or "")
        label = reply_text("case_complaint_detail_label")
        return {"case_complaint_detail": detail, "case_content": f"{content}\n{label}: {detail}",
                MISSES_SLOT: None}

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
            return {"case_unit": _ward_of(named, latest_text(tracker)) or text,
                    "case_location": named or text}
        if tracker.get_slot("case_unit") is not None:
            return {}
        if named:
            return {"case_unit": _ward_of(named, latest_text(tracker)) or named,
                    "case_location": named}
        marked = unit_tree().marked(latest_text(tracker))
        return {"case_unit": marked.code} if marked is not None else {}

    async def validate_case_unit(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"case_unit": None}
        code, status = resolve_ward(dispatcher, value, reply_text("case_unit_ambiguous"))
        if status != "none":
            return {"case_unit": code}
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
        consent = intake.read_consent(latest_text(tracker), latest_intent(tracker))
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
        intent = latest_intent(tracker)
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


def _ward_of(named: str | None, text: str) -> str | None:
    """The unit the message names when the place the entity extractor cut out does not name one.

    The extractor's span drifts with each retraining ("ngõ 9 phường Láng" one day, "ngõ 9
    phường" the next), while the message still says "phường Láng": when the span resolves to no
    unit, the whole message is looked up instead (a name after "phường/xã" wins there). The
    citizen confirms the unit before anything is sent."""
    tree = unit_tree()
    if named and tree.resolve(named).status != "none":
        return None
    found = tree.resolve(text)
    if found.status == "one" and found.unit is not None:
        return found.unit.code
    return None

