"""The REST channel hands the client's message id to Rasa as the user message's id (what the
repeated-message check reads, ``bot.conversation.replayed_turns``), refuses a malformed one, and
works as before without one. The route's handler is called with a stand-in request."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage

from bot.channels.rest import RestChannel


def _handler(received: list[UserMessage]) -> Any:
    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "Xin chào!")

    blueprint = RestChannel().blueprint(on_new_message)
    return next(r.handler for r in blueprint._future_routes if r.uri.endswith("/webhook"))


async def test_the_id_becomes_the_user_messages_id() -> None:
    received: list[UserMessage] = []
    answer = await _handler(received)(
        SimpleNamespace(json={"sender": "web-a", "message": "xin chào", "message_id": "m-1"}))
    assert answer.status == 200
    assert [m.message_id for m in received] == ["m-1"]
    assert received[0].input_channel == "rest"


async def test_without_an_id_rasa_makes_one() -> None:
    received: list[UserMessage] = []
    answer = await _handler(received)(SimpleNamespace(json={"sender": "web-a", "message": "hi"}))
    assert answer.status == 200 and len(received[0].message_id) == 32  # uuid4().hex


@pytest.mark.parametrize("bad", ["", "x" * 65, "a b", 7, ["m"], "ü"])
async def test_a_malformed_id_is_refused(bad: Any) -> None:
    received: list[UserMessage] = []
    answer = await _handler(received)(
        SimpleNamespace(json={"sender": "web-a", "message": "hi", "message_id": bad}))
    assert answer.status == 400 and not received
