"""Delete my data: after a confirmation, erase name and phone from the citizen's cases, phone
numbers and the name from the case texts, and what they typed from the conversation store."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.cases import channel_of
from actions.common import Events, send
from bot.cases.citizen import StoreUnavailable, erase_personal_data, held_data
from bot.cases.service import HeldData
from bot.conversation.erasure import PERSONAL_SLOTS, redact_conversation
from bot.knowledge.answers import Reply
from bot.settings import get_settings

logger = logging.getLogger(__name__)
AWAITING_DELETE = "delete_data"
ASK = (
    "Bạn muốn xóa họ tên và số điện thoại của bạn khỏi mọi phản ánh, góp ý đã gửi qua kênh này, "
    "và xóa nội dung các tin nhắn bạn đã gửi trong cuộc trò chuyện? Nội dung sự việc vẫn được "
    "giữ lại (ẩn danh) để cán bộ tiếp tục giải quyết."
)
DONE = (
    "Đã xóa họ tên và số điện thoại của bạn khỏi {n} hồ sơ, và xóa nội dung các tin nhắn trong "
    "cuộc trò chuyện này. Các hồ sơ được giữ lại ở dạng ẩn danh."
)
NOTHING = (
    "Tôi không thấy họ tên hay số điện thoại nào của bạn trong các hồ sơ gửi qua kênh này. Nội "
    "dung các tin nhắn trong cuộc trò chuyện này đã được xóa."
)
KEPT = "Dạ, tôi giữ nguyên thông tin. Bạn cần hỗ trợ gì khác cứ nhắn cho tôi nhé."
FAILED = "Xin lỗi, hệ thống đang gặp sự cố nên chưa xóa được. Bạn vui lòng thử lại sau ít phút."


HELD_NONE = (
    "Qua kênh này, bạn chưa gửi phản ánh, góp ý nào có họ tên hay số điện thoại. Hệ thống chỉ "
    "lưu nội dung các tin nhắn trong cuộc trò chuyện để trả lời bạn, tối đa {days} ngày sau tin "
    "nhắn cuối. Bạn có thể nhắn \"xóa dữ liệu của tôi\" để xóa ngay."
)
HELD_INTRO = "Dữ liệu cá nhân của bạn đang được lưu qua kênh này:"
HELD_OUTRO = (
    "Ngoài ra, nội dung các tin nhắn trong cuộc trò chuyện được lưu để trả lời bạn, tối đa {days} "
    "ngày sau tin nhắn cuối. Dữ liệu chỉ dùng để cán bộ Mặt trận giải quyết và liên hệ lại với "
    "bạn về các hồ sơ trên. Bạn có thể nhắn \"xóa dữ liệu của tôi\" để xóa họ tên, số điện "
    "thoại và nội dung tin nhắn (hồ sơ được giữ ở dạng ẩn danh)."
)


def mask_phone(phone: str) -> str:
    """``0912345678`` → ``091****678``: enough for the citizen to recognise, not to copy."""
    return phone[:3] + "*" * max(0, len(phone) - 6) + phone[-3:] if len(phone) > 6 else "***"


def describe_held(held: list[HeldData], days: int) -> str:
    """The answer to "what do you keep about me?" (pure, for tests)."""
    personal = [h for h in held if not h.anonymised and (h.person_name or h.phone)]
    if not personal:
        return HELD_NONE.format(days=days)
    lines = [HELD_INTRO]
    for item in personal:
        parts = [f"họ tên {item.person_name}" if item.person_name else "",
                 f"số điện thoại {mask_phone(item.phone)}" if item.phone else ""]
        lines.append(f"- Hồ sơ {item.ref_code} ({item.created_at:%d/%m/%Y}): "
                     + ", ".join(p for p in parts if p) + ".")
    lines.append(HELD_OUTRO.format(days=days))
    return "\n".join(lines)


class ActionShowMyData(Action):
    """access_my_data: what is held about the citizen, answered at once (the law's time limit
    for a data request is days; the assistant answers in the conversation)."""

    def name(self) -> str:
        return "action_show_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        try:
            held = await asyncio.to_thread(held_data, channel_of(tracker), tracker.sender_id)
        except StoreUnavailable as error:
            logger.error("data access request failed: %s", error)
            send(dispatcher, [Reply(FAILED.replace("xóa", "tra cứu"))])
            return []
        send(dispatcher, [Reply(describe_held(held, get_settings().retention_days))])
        return []


class ActionDeleteMyData(Action):
    """Asks for confirmation; the yes/no is handled by :func:`erase`."""

    def name(self) -> str:
        return "action_delete_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        send(dispatcher, [Reply(ASK, [
            {"title": "Đồng ý xóa", "payload": "/affirm"},
            {"title": "Không", "payload": "/deny"},
        ])])
        return [SlotSet("awaiting", AWAITING_DELETE)]


async def erase(dispatcher: CollectingDispatcher, tracker: Tracker, confirmed: bool) -> Events:
    """The answer to the confirmation :class:`ActionDeleteMyData` asked for."""
    if not confirmed:
        send(dispatcher, [Reply(KEPT)])
        return [SlotSet("awaiting", None)]
    try:
        count = await asyncio.to_thread(
            erase_personal_data, channel_of(tracker), tracker.sender_id,
            redact_conversation=partial(redact_conversation, get_settings().tracker_store_url),
        )
    except StoreUnavailable as error:
        logger.error("erasure failed: %s", error)
        send(dispatcher, [Reply(FAILED)])
        return [SlotSet("awaiting", None)]
    send(dispatcher, [Reply(DONE.format(n=count) if count else NOTHING)])
    # The draft of a form in progress goes too (it is what the citizen typed).
    return [SlotSet("awaiting", None), *(SlotSet(slot, None) for slot in PERSONAL_SLOTS)]
