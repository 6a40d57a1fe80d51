"""Talking to a person: the handoff, messages forwarded to staff, and what staff send back.

Staff replies, status changes and the hand-back reach the citizen's conversation as external
intents triggered through Rasa's HTTP API (``bot/delivery/citizens.py``), so the transcript stays
whole and the reply leaves through the channel the citizen used.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import Events, channel_of, first_entity, latest_text, send
from bot.cases.casework import CaseworkError
from bot.cases.citizen import (
    StoreUnavailable,
    forward_to_person,
    rate_case,
    reopen_my_case,
    request_person,
)
from bot.cases.sla import is_working_time, load_calendar, next_working_time
from bot.cases.status import status_label
from bot.knowledge.answers import Reply, payload
from bot.knowledge.replies import reply_prefix, reply_text
from bot.settings import get_settings, reopen_days

logger = logging.getLogger(__name__)


def _when(now: datetime | None = None) -> str:
    """When staff will answer: soon in working hours, else from the next working time."""
    calendar = load_calendar()
    now = now or datetime.now(timezone.utc)
    if is_working_time(now, calendar):
        return reply_text("handoff_now_open")
    start = next_working_time(now, calendar).astimezone(ZoneInfo(get_settings().timezone))
    return reply_text("handoff_later", when=start)


class ActionRequestHuman(Action):
    """request_human (or repeated "not helpful"): open a handoff case and go quiet."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        try:
            started = await asyncio.to_thread(
                request_person, channel_of(tracker), tracker.sender_id,
                [tracker.get_slot("unit_code"), tracker.get_slot("case_unit")],
                latest_text(tracker),
            )
        except StoreUnavailable as error:
            logger.error("handoff not opened for %s: %s", tracker.sender_id, error)
            send(dispatcher, [Reply(reply_text("handoff_failed"))])
            return []
        send(dispatcher, [Reply(reply_text("handoff_started", unit=started.unit.name,
                                           ref=started.ref_code, when=_when()))])
        return [SlotSet("handoff_active", True), SlotSet("handoff_ref", started.ref_code),
                SlotSet("awaiting", None)]


def acknowledged(events: list[dict[str, Any]], ref: str | None) -> bool:
    """Whether this handoff (the last bot message naming ``ref``) was already acknowledged.

    "handoff_forwarded" is said once per handoff, at the citizen's first message after it
    started (issue 11: the next message got no word at all, and citizens could not tell whether
    anyone had it); both texts are recognised by their words before the first placeholder."""
    started, forwarded = reply_prefix("handoff_started"), reply_prefix("handoff_forwarded")
    said = False
    for event in events:
        if event.get("event") != "bot":
            continue
        text = str(event.get("text") or "")
        if ref and ref in text and text.startswith(started):
            said = False  # a (new) handoff began: acknowledge once after it
        elif text.startswith(forwarded):
            said = True
    return said


class ActionForwardToStaff(Action):
    """During a handoff: every citizen message goes to the case and the unit's staff."""

    def name(self) -> str:
        return "action_forward_to_staff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        metadata = (tracker.latest_message or {}).get("metadata") or {}
        try:
            ref = await asyncio.to_thread(
                forward_to_person, channel_of(tracker), tracker.sender_id, latest_text(tracker),
                list(metadata.get("attachments") or []),
            )
        except StoreUnavailable as error:
            logger.error("message not forwarded for %s: %s", tracker.sender_id, error)
            send(dispatcher, [Reply(reply_text("handoff_forward_failed"))])
            return []
        if ref is None:  # staff closed it in the meantime
            send(dispatcher, [Reply(reply_text("handoff_handed_back"))])
            return [SlotSet("handoff_active", False), SlotSet("handoff_ref", None)]
        if not acknowledged(tracker.events, ref):
            send(dispatcher, [Reply(reply_text("handoff_forwarded", ref=ref))])
        return []


class ActionRelayStaffReply(Action):
    """EXTERNAL_staff_reply: an officer's answer, said in the citizen's conversation."""

    def name(self) -> str:
        return "action_relay_staff_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        text = first_entity(tracker, "reply_text")
        ref = first_entity(tracker, "ref_code")
        if text:
            said = (reply_text("staff_reply_on_case", ref=ref, text=text) if ref
                    else reply_text("staff_reply", text=text))
            dispatcher.utter_message(text=said)
        return []


class ActionRelayStatus(Action):
    """EXTERNAL_case_status: a status change; a resolved case asks for a 1–5 rating."""

    def name(self) -> str:
        return "action_relay_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        ref = first_entity(tracker, "ref_code") or ""
        status = first_entity(tracker, "case_status") or ""
        reason = first_entity(tracker, "reply_text")
        if ref and ref == tracker.get_slot("handoff_ref"):
            if status in ("resolved", "rejected", "closed"):
                # An officer finished the handoff case: the conversation returns to the assistant.
                dispatcher.utter_message(text=reply_text("handoff_handed_back"))
                return [SlotSet("handoff_active", False), SlotSet("handoff_ref", None),
                        SlotSet("not_helpful_count", 0.0)]
            return []
        label = status_label(status)
        text = (reply_text("case_status_changed_with_reason", ref=ref, status=label, reason=reason)
                if reason else reply_text("case_status_changed", ref=ref, status=label))
        dispatcher.utter_message(text=text)
        if status == "resolved":
            dispatcher.utter_message(
                text=reply_text("rating_question", ref=ref),
                buttons=[{"title": str(n), "payload": f'/rate{{"rating":"{n}","ref_code":"{ref}"}}'}
                         for n in range(1, 6)],
            )
            return [SlotSet("rating_ref", ref)]
        return []


class ActionHandback(Action):
    """EXTERNAL_handback: staff (or the idle timeout) returned the conversation."""

    def name(self) -> str:
        return "action_handback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        dispatcher.utter_message(text=reply_text("handoff_handed_back"))
        return [SlotSet("handoff_active", False), SlotSet("handoff_ref", None),
                SlotSet("not_helpful_count", 0.0)]


class ActionRecordRating(Action):
    """rate: store the citizen's 1–5 rating on their resolved case."""

    def name(self) -> str:
        return "action_record_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        raw = first_entity(tracker, "rating") or latest_text(tracker).strip()
        ref = first_entity(tracker, "ref_code") or tracker.get_slot("rating_ref")
        if not raw.isdigit() or not 1 <= int(raw) <= 5 or not ref:
            send(dispatcher, [Reply(reply_text("rating_invalid"))])
            return []
        try:
            rated = await asyncio.to_thread(rate_case, ref, tracker.sender_id, int(raw))
        except (StoreUnavailable, CaseworkError) as error:
            logger.error("rating not stored: %s", error)
            send(dispatcher, [Reply(reply_text("rating_failed"))])
            return []
        if rated is None:
            send(dispatcher, [Reply(reply_text("rating_invalid"))])
            return []
        replies = [Reply(reply_text("rating_thanks", rating=raw))]
        if rated.reopen_days:
            replies.append(Reply(
                reply_text("reopen_offer", ref=rated.ref_code, days=rated.reopen_days),
                [{"title": reply_text("reopen_button"),
                  "payload": payload("reopen_case", ref_code=rated.ref_code)}]))
        send(dispatcher, replies)
        return [SlotSet("rating_ref", None)]


class ActionReopenCase(Action):
    """reopen_case (a button after a rating of 1–2, or typed "mở lại hồ sơ KN-…"): put the
    citizen's own finished case back in progress (issue 17 item 5)."""

    def name(self) -> str:
        return "action_reopen_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        ref = first_entity(tracker, "ref_code") or tracker.get_slot("last_ref_code")
        if not ref:
            send(dispatcher, [Reply(reply_text("reopen_which"))])
            return []
        try:
            reopened = await asyncio.to_thread(reopen_my_case, str(ref), tracker.sender_id)
        except StoreUnavailable as error:
            logger.error("case not reopened: %s", error)
            send(dispatcher, [Reply(reply_text("reopen_failed"))])
            return []
        if reopened:
            send(dispatcher, [Reply(reply_text("reopen_done", ref=ref))])
        else:
            send(dispatcher, [Reply(reply_text("reopen_refused", ref=ref, days=reopen_days()))])
        return []
