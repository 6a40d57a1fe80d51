"""A chat message sent again with the same id is answered with the first reply and runs once
(issue 14: a replica killed mid-turn must cost no message and duplicate none).

The trained model, loaded in-process with Rasa's in-memory tracker and lock stores, handles
messages exactly as the REST channel hands them over (``bot.channels.rest``: a
``CollectingOutputChannel``, ``input_channel="rest"``, the client's ``message_id``). "Runs once"
is judged twice: NLU parses the text once, and the conversation stores one user message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import UserUttered

from bot.conversation import rasa_patches
from bot.conversation.replayed_turns import answer_of
from tests.trained_model import trained_model

pytestmark = pytest.mark.slow

TEXT = "xin chào"
LATER = "cảm ơn bạn"


@pytest.fixture(scope="module")
def agent() -> Agent:
    rasa_patches.install()
    return Agent.load(str(trained_model()))


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The texts NLU parsed during the test."""
    seen: list[str] = []
    original = MessageProcessor.parse_message

    async def counting(self: Any, message: UserMessage, *args: Any, **kwargs: Any) -> Any:
        seen.append(message.text or "")
        return await original(self, message, *args, **kwargs)

    monkeypatch.setattr(MessageProcessor, "parse_message", counting)
    yield seen


async def _send(agent: Agent, sender: str, text: str, message_id: str | None) -> list[dict]:
    output = CollectingOutputChannel()
    await agent.handle_message(
        UserMessage(text, output, sender, input_channel="rest", message_id=message_id)
    )
    return [{k: m.get(k) for k in ("text", "buttons", "image")} for m in output.messages]


async def _user_messages(agent: Agent, sender: str) -> list[UserUttered]:
    tracker = await agent.tracker_store.retrieve(sender)
    assert tracker is not None
    return [e for e in tracker.events if isinstance(e, UserUttered)]


async def test_a_repeated_id_gets_the_first_reply_and_the_turn_runs_once(
    agent: Agent, parses: list[str]
) -> None:
    sender = "web-repeat"
    first = await _send(agent, sender, TEXT, "m-1")
    again = await _send(agent, sender, TEXT, "m-1")
    assert first and first == again
    assert parses == [TEXT]
    assert [e.message_id for e in await _user_messages(agent, sender)] == ["m-1"]

    # A later message with a new id is a new turn, and repeating the older id still answers
    # with that older turn's reply.
    await _send(agent, sender, LATER, "m-2")
    assert await _send(agent, sender, TEXT, "m-1") == first
    assert [e.message_id for e in await _user_messages(agent, sender)] == ["m-1", "m-2"]
    assert parses == [TEXT, LATER]


async def test_concurrent_duplicates_run_one_turn_and_all_get_its_reply(
    agent: Agent, parses: list[str]
) -> None:
    sender = "web-concurrent"
    replies = await asyncio.gather(*(_send(agent, sender, TEXT, "m-c") for _ in range(5)))
    assert replies[0] and all(r == replies[0] for r in replies)
    assert parses == [TEXT]
    assert len(await _user_messages(agent, sender)) == 1


async def test_a_first_attempt_that_was_not_stored_is_run_by_the_retry(
    agent: Agent, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a replica killed mid-turn leaves: the turn ran but nothing was saved."""
    sender = "web-died"
    original = MessageProcessor.save_tracker
    calls = 0

    async def dies_once(self: Any, tracker: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the replica died before saving")
        await original(self, tracker)

    monkeypatch.setattr(MessageProcessor, "save_tracker", dies_once)
    with pytest.raises(ConnectionError):
        await _send(agent, sender, TEXT, "m-d")
    reply = await _send(agent, sender, TEXT, "m-d")
    assert reply
    assert parses == [TEXT, TEXT]
    assert [e.message_id for e in await _user_messages(agent, sender)] == ["m-d"]


async def test_without_an_id_every_message_is_a_turn(agent: Agent, parses: list[str]) -> None:
    sender = "web-no-id"
    await _send(agent, sender, TEXT, None)
    await _send(agent, sender, TEXT, None)
    assert parses == [TEXT, TEXT]
    assert len(await _user_messages(agent, sender)) == 2


def test_answer_of_reads_the_bot_messages_of_that_turn_only() -> None:
    from rasa.shared.core.events import ActionExecuted, BotUttered

    events = [
        UserUttered("a", message_id="1"), ActionExecuted("utter_a"), BotUttered("A1"),
        BotUttered("A2"), ActionExecuted("action_listen"),
        UserUttered("b", message_id="2"), BotUttered("B"),
    ]
    assert [e.text for e in answer_of(events, "1") or []] == ["A1", "A2"]
    assert [e.text for e in answer_of(events, "2") or []] == ["B"]
    assert answer_of(events, "3") is None
    assert answer_of(events, None) is None
