"""Issue 18, attack 4: bounded work per sender (bot.conversation.bounded_turns, installed into Rasa's
MessageProcessor by bot.conversation.rasa_patches). No wall clock anywhere: limits run on a fake clock and
"NLU leaves the event loop free" is shown by the loop doing work while a parse is blocked."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor

from bot.conversation import bounded_turns, rasa_patches
from bot.conversation.bounded_turns import SenderRateLimiter, cut_for_nlu, kept_text
from bot.knowledge.replies import reply_text


def test_the_rate_limit_tells_once_per_window_then_recovers() -> None:
    now = [0.0]
    limiter = SenderRateLimiter(limit=3, window_seconds=60, clock=lambda: now[0])
    assert [limiter.check("a") for _ in range(3)] == ["ok"] * 3
    assert limiter.check("b") == "ok"  # other senders are not affected
    assert [limiter.check("a") for _ in range(3)] == ["tell", "drop", "drop"]
    now[0] = 59.0
    assert limiter.check("a") == "drop"
    now[0] = 61.0  # the first three have left the window
    assert limiter.check("a") == "ok"


def test_nlu_reads_the_opening_and_the_channel_keeps_its_ceiling() -> None:
    long = "nhà tôi bị ngập " * 2000
    assert len(cut_for_nlu(long, 100)) <= 100 and not cut_for_nlu(long, 100).endswith(" ")
    assert cut_for_nlu("ngắn", 100) == "ngắn"
    assert len(kept_text(long, "facebook")) == 2000 and len(kept_text(long, "zalo")) == 2000
    assert len(kept_text(long, "rest")) == len(long[:20_000])


@pytest.fixture(autouse=True)
def patched() -> None:
    rasa_patches.install()


def processor(parse: Any) -> Any:
    return SimpleNamespace(
        http_interpreter=None, _parse_message_with_graph=parse,
        _update_full_retrieval_intent=lambda data: None,
        _check_for_unseen_features=lambda data: None,
    )


async def test_parsing_leaves_the_event_loop_free() -> None:
    release = threading.Event()
    seen: list[str] = []

    def blocking_parse(message: UserMessage, tracker: Any, only: bool) -> dict[str, Any]:
        # Waits for a coroutine on the event loop: if NLU ran on the loop, it would never run.
        if not release.wait(timeout=10):
            raise AssertionError("the event loop was held while parsing")
        seen.append(message.text or "")
        return {"text": message.text, "intent": {"name": "greet"}, "entities": []}

    async def other_conversation() -> None:
        await asyncio.sleep(0)
        release.set()

    text = "xin chào " + "x" * 30_000
    message = UserMessage(text, CollectingOutputChannel(), "long-sender")
    parse = MessageProcessor.parse_message(processor(blocking_parse), message)  # type: ignore
    data, _ = await asyncio.gather(parse, other_conversation())
    assert data["intent"]["name"] == "greet"
    assert seen and len(seen[0]) <= bounded_turns.MAX_NLU_CHARS and seen[0].startswith("xin chào")
    assert message.text == text  # what the conversation keeps is not cut


async def test_a_sender_over_the_limit_is_told_once_then_not_parsed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = SenderRateLimiter(limit=0, window_seconds=60, clock=lambda: 0.0)
    monkeypatch.setattr(bounded_turns, "sender_limiter", lambda: limiter)
    never = processor(lambda *args: pytest.fail("a limited message reached NLU"))
    first = UserMessage("a" * 30_000, CollectingOutputChannel(), "flood", input_channel="zalo")
    answers = await MessageProcessor.handle_message(never, first)  # type: ignore[arg-type]
    assert answers == [{"recipient_id": "flood", "text": reply_text("rate_limit_reply")}]
    assert len(first.text or "") == 2000  # Zalo's ceiling
    second = UserMessage("b", CollectingOutputChannel(), "flood")
    assert await MessageProcessor.handle_message(never, second) == []  # type: ignore[arg-type]
