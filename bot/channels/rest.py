"""Rasa's REST channel, with failures reported instead of hidden.

Rasa 3.6's ``RestInput`` catches every exception of a turn, logs the citizen's text (which may hold
a phone number) and answers ``200`` with whatever replies it collected, often none. A caller
cannot tell "the assistant chose to stay silent" (during a handoff) from "the turn failed"
(the conversation database or the action server is down), so the web chat page could not tell
the citizen to try again. This channel keeps the same URL (``/webhooks/rest/webhook``), request
and reply format, and answers ``503`` with a Vietnamese message when a turn fails, ``400`` when
``sender`` or ``message`` is missing; it logs the conversation id, never the text.

Who the sender is, is this channel's to say (issue 18): Rasa's ``RestInput`` takes
``input_channel`` from the request body, so a caller could claim to be a Facebook or Zalo
citizen and read that citizen's case status. Here every message is ``rest``, whatever the body
says, and a ``sender`` made only of digits (the form of a Messenger page-scoped id and of a Zalo
user id) is refused with ``403``: those conversations are only ever entered through a signed
webhook, so a REST caller can neither read nor redirect them.

Turns share Rasa's event loop with the Facebook and Zalo acknowledgements (issue 18: 20 parallel
long chat messages held them for seconds). So, like the webhook channels' turns, at most
:func:`~bot.settings.rest_concurrent_turns` chat turns run at once, each after the webhook
acknowledgements in flight (``ACK_GATE``); the others wait their turn, which a chat caller (who
waits for the reply anyway) does not notice, while a platform that gives 2 s to acknowledge does.

A message may carry ``message_id`` (the chat page and ``bench/citizens.py`` send one per message,
and the same one again when they resend after a dropped connection or a 502/503). It becomes the
id of the user message in the conversation, and a message whose id is already there is answered
with the first attempt's reply instead of running again (:mod:`bot.conversation.replayed_turns`).
An id names one message of one conversation: sent again with another text, it still gets the
first message's reply. Without it a message is handled as before. An id that is not 1-64 letters, digits, ``-``, ``_``,
``.`` or ``:`` is refused with ``400``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.pipeline import ACK_GATE
from bot.knowledge.replies import reply_text
from bot.settings import rest_concurrent_turns

logger = logging.getLogger(__name__)

#: What a client message id may look like (a UUID, with or without dashes, fits).
MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

def foreign_sender(sender: str) -> bool:
    """Whether ``sender`` has the form of a Facebook or Zalo conversation id (digits only)."""
    return sender.isascii() and sender.isdigit()


class TurnSlots:
    """At most ``limit`` turns of this channel at once, each started when no webhook is being
    acknowledged (one per event loop: the semaphore belongs to the loop that created it)."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit or rest_concurrent_turns()
        self._slots: dict[int, asyncio.Semaphore] = {}
        self.running = 0
        self.most_running = 0

    async def run(self, turn: Callable[[], Awaitable[Any]]) -> Any:
        loop_id = id(asyncio.get_running_loop())
        slots = self._slots.get(loop_id)
        if slots is None:
            slots = self._slots[loop_id] = asyncio.Semaphore(self.limit)
        async with slots:
            await ACK_GATE.wait_quiet()
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            try:
                return await turn()
            finally:
                self.running -= 1


class RestChannel(RestInput):
    """``/webhooks/rest/webhook`` with honest status codes (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.turns = TurnSlots()

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        bp = Blueprint("mttq_rest", __name__)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            sender = body.get("sender")
            text = body.get("message")
            if not isinstance(sender, str) or not sender or not isinstance(text, str):
                return response.json({"error": reply_text("chat_bad_request")}, status=400)
            message_id = body.get("message_id")
            if message_id is not None and not (
                isinstance(message_id, str) and MESSAGE_ID.fullmatch(message_id)
            ):
                return response.json({"error": reply_text("chat_bad_request")}, status=400)
            if foreign_sender(sender):
                logger.warning("refused a REST message into conversation %s (a channel's id)",
                               sender)
                return response.json({"error": reply_text("chat_foreign_sender")}, status=403)
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                sender,
                input_channel=self.name(),  # never the body's: see the module docstring
                message_id=message_id,
                metadata=body.get("metadata"),
            )
            try:
                await self.turns.run(lambda: on_new_message(message))
            except Exception as error:  # the turn failed: say so, keep the text out of the log
                logger.error(
                    "turn of conversation %s failed: %s: %s",
                    sender,
                    type(error).__name__,
                    error,
                    exc_info=logger.isEnabledFor(logging.DEBUG),
                )
                return response.json(
                    {"error": reply_text("chat_turn_failed"), "messages": collector.messages}, status=503
                )
            return response.json(collector.messages)

        return bp
