"""The moderation check in front of intake: verdict, rate limit, citizen reply, quarantine.

Flagged content never becomes a case; it is kept in the quarantine table, exactly as typed and
with the reason, for staff to review. The reply to the sender is neutral (it never repeats what
the filter matched), so a citizen stopped by mistake knows how to reach a person.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.moderation import SpamRateLimiter, Verdict, load_rules, moderate

logger = logging.getLogger(__name__)

BLOCKED = (
    "Tin nhắn của bạn có nội dung giống quảng cáo, lừa đảo hoặc lời lẽ không phù hợp nên chưa "
    "được tiếp nhận thành phản ánh. Nếu bạn muốn phản ánh một sự việc (kể cả việc bị lừa đảo, "
    "cờ bạc), bạn hãy mô tả lại sự việc; hoặc nhắn \"gặp cán bộ\" để được hỗ trợ trực tiếp."
)
RATE_LIMITED = (
    "Bạn đã gửi nhiều tin nhắn bị chặn trong thời gian ngắn. Vui lòng thử lại sau ít phút, hoặc "
    "liên hệ trực tiếp Ủy ban Mặt trận Tổ quốc xã, phường nơi bạn cư trú."
)

_limiter: SpamRateLimiter | None = None
_lock = threading.Lock()


@dataclass(frozen=True)
class GateVerdict:
    verdict: Verdict

    @property
    def flagged(self) -> bool:
        return self.verdict.flagged

    @property
    def citizen_message(self) -> str:
        return RATE_LIMITED if self.verdict.category == "rate_limited" else BLOCKED


def _rate_limiter() -> SpamRateLimiter:
    global _limiter
    with _lock:
        if _limiter is None:
            _limiter = SpamRateLimiter.from_rules(load_rules())
        return _limiter


def check_message(channel: str, sender_id: str, text: str) -> GateVerdict:
    """Moderate one message and apply the per-sender rate limit (in-process counts)."""
    verdict = moderate(text, load_rules())
    return GateVerdict(_rate_limiter().check(f"{channel}:{sender_id}", verdict))


def record_quarantine(channel: str, sender_id: str, text: str, gate: GateVerdict) -> None:
    """Keep the stopped message for staff review; a DB outage is logged, never shown to spam."""
    from bot.cases import quarantine
    from bot.db.engine import session_scope
    from bot.db.runtime import get_engine

    try:
        with session_scope(get_engine()) as session:
            quarantine(
                session,
                channel=channel,
                channel_user_id=sender_id,
                text=text,
                reason=gate.verdict.reason,
                category=str(gate.verdict.category),
            )
    except SQLAlchemyError as error:
        logger.error("quarantine not recorded (%s): %s", gate.verdict.category, error)
