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

from actions.cases import channel_of
from actions.common import Events, first_entity, latest_text, send
from bot.cases.casework import CaseworkError
from bot.cases.citizen import StoreUnavailable, forward_to_person, rate_case, request_person
from bot.cases.sla import is_working_time, load_calendar, next_working_time
from bot.cases.status import STATUS_LABELS
from bot.knowledge.answers import Reply
from bot.settings import get_settings

logger = logging.getLogger(__name__)

HANDOFF_STARTED = (
    "Tôi đã chuyển cuộc trò chuyện tới cán bộ {unit} (mã {ref}). {when} Trong lúc chờ, bạn cứ "
    "nhắn thêm thông tin, cán bộ sẽ đọc được tất cả."
)
NOW_OPEN = "Cán bộ sẽ trả lời bạn sớm trong giờ làm việc."
LATER = "Hiện đang ngoài giờ làm việc; cán bộ sẽ trả lời bạn từ {when}."
HANDOFF_FAILED = (
    "Xin lỗi, hiện tôi chưa kết nối được với cán bộ do hệ thống gặp sự cố. Bạn vui lòng thử lại "
    "sau ít phút, hoặc liên hệ trực tiếp Ủy ban Mặt trận Tổ quốc xã, phường nơi bạn cư trú."
)
FORWARD_FAILED = (
    "Xin lỗi, tin nhắn vừa rồi chưa chuyển được tới cán bộ do hệ thống gặp sự cố. Bạn vui lòng "
    "gửi lại sau ít phút."
)
HANDED_BACK = (
    "Cán bộ đã kết thúc trao đổi. Bạn đang trò chuyện lại với trợ lý tự động của Mặt trận; "
    "bạn cần hỗ trợ gì cứ nhắn nhé."
)
RATING_QUESTION = "Bạn đánh giá thế nào về việc giải quyết hồ sơ {ref}? (1 = rất không hài lòng, 5 = rất hài lòng)"
RATING_THANKS = "Cảm ơn bạn đã đánh giá {rating}/5. Ý kiến của bạn giúp Mặt trận làm tốt hơn."
RATING_INVALID = "Bạn chọn một số từ 1 đến 5 giúp tôi nhé."


def _when(now: datetime | None = None) -> str:
    calendar = load_calendar()
    now = now or datetime.now(timezone.utc)
    if is_working_time(now, calendar):
        return NOW_OPEN
    start = next_working_time(now, calendar).astimezone(ZoneInfo(get_settings().timezone))
    return LATER.format(when=start.strftime("%H:%M ngày %d/%m/%Y"))


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
            send(dispatcher, [Reply(HANDOFF_FAILED)])
            return []
        send(dispatcher, [Reply(HANDOFF_STARTED.format(unit=started.unit.name,
                                                        ref=started.ref_code, when=_when()))])
        return [SlotSet("handoff_active", True), SlotSet("handoff_ref", started.ref_code),
                SlotSet("awaiting", None)]


#: Said once per handoff, at the citizen's first message after it started (issue 11: the next
#: message got no word at all, and citizens could not tell whether anyone had it).
FORWARDED_ACK = "Đã chuyển tin nhắn của bạn tới cán bộ"
FORWARDED_ACK_TEXT = (
    FORWARDED_ACK + " (hồ sơ {ref}). Cán bộ sẽ trả lời bạn ngay tại đây; bạn cứ nhắn thêm, mọi "
    "tin nhắn đều được chuyển tới cán bộ. Tôi sẽ không trả lời tự động trong lúc này."
)


def acknowledged(events: list[dict[str, Any]], ref: str | None) -> bool:
    """Whether this handoff (the last bot message naming ``ref``) was already acknowledged."""
    said = False
    for event in events:
        if event.get("event") != "bot":
            continue
        text = str(event.get("text") or "")
        if ref and ref in text and text.startswith(HANDOFF_STARTED.split("{", 1)[0]):
            said = False  # a (new) handoff began: acknowledge once after it
        elif text.startswith(FORWARDED_ACK):
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
            send(dispatcher, [Reply(FORWARD_FAILED)])
            return []
        if ref is None:  # staff closed it in the meantime
            send(dispatcher, [Reply(HANDED_BACK)])
            return [SlotSet("handoff_active", False), SlotSet("handoff_ref", None)]
        if not acknowledged(tracker.events, ref):
            send(dispatcher, [Reply(FORWARDED_ACK_TEXT.format(ref=ref))])
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
            prefix = f"Cán bộ Mặt trận trả lời (hồ sơ {ref}): " if ref else "Cán bộ Mặt trận: "
            dispatcher.utter_message(text=prefix + text)
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
                dispatcher.utter_message(text=HANDED_BACK)
                return [SlotSet("handoff_active", False), SlotSet("handoff_ref", None),
                        SlotSet("not_helpful_count", 0.0)]
            return []
        text = f"Hồ sơ {ref} đã được cập nhật: {STATUS_LABELS.get(status, status)}."
        if reason:
            text += f" Lý do: {reason}"
        dispatcher.utter_message(text=text)
        if status == "resolved":
            dispatcher.utter_message(
                text=RATING_QUESTION.format(ref=ref),
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
        dispatcher.utter_message(text=HANDED_BACK)
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
            send(dispatcher, [Reply(RATING_INVALID)])
            return []
        try:
            rated = await asyncio.to_thread(rate_case, ref, tracker.sender_id, int(raw))
        except (StoreUnavailable, CaseworkError) as error:
            logger.error("rating not stored: %s", error)
            send(dispatcher, [Reply("Xin lỗi, chưa lưu được đánh giá. Bạn thử lại sau nhé.")])
            return []
        if not rated:
            send(dispatcher, [Reply(RATING_INVALID)])
            return []
        send(dispatcher, [Reply(RATING_THANKS.format(rating=raw))])
        return [SlotSet("rating_ref", None)]
