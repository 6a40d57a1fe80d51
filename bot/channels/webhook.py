"""What the Facebook and Zalo channels share: acknowledge fast, process in order, in the background.

A platform redelivers a webhook that is not answered 200 in time (Facebook: 20 s, Zalo: 2 s), and
the assistant's turn (NLU, policies, actions, DB) can take longer. So a webhook

1. reads at most :data:`~bot.settings.MAX_BODY_BYTES` (413 beyond), checks the signature
   (403), parses the events (400 when the body is not what the platform sends);
2. queues each event behind the earlier ones of the same conversation
   (:class:`~bot.channels.pipeline.ConversationQueues`), reserving its place before anything is
   awaited, so arrival order is kept;
3. records every message id and the time the person wrote, in one transaction
   (:func:`bot.channels.store.admit`); a redelivered id is acknowledged and dropped;
4. answers 200, and only then is each admitted event handed to Rasa, one at a time per
   conversation, different conversations concurrently.

If the ids cannot be recorded (DB down) nothing is processed and the webhook answers 503, so the
platform delivers again later.

This module is the Rasa-facing channel base (sanic, ``rasa.core.channels``): routes, body limits,
parsing into :class:`Inbound`, the acknowledgement, the hand-over to Rasa and the output channel;
the platform modules build on :class:`WebhookChannel`. What carries an event from acknowledgement
to the end of its turn (de-duplication, queues, turn slots, outage retries, draining) is
:mod:`bot.channels.pipeline`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NoReturn

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import store
from bot.channels.pipeline import (
    ACK_GATE,
    MAX_PENDING,
    Admitter,
    ConversationQueues,
    LoopDatabase,
)
from bot.channels.render import Capabilities, Choice, Rendered, render, resolve_number
from bot.delivery.errors import ChannelNotConfigured
from bot.settings import MAX_BODY_BYTES

logger = logging.getLogger(__name__)

__all__ = [
    "BodyTooLarge",
    "HttpClients",
    "Inbound",
    "MalformedPayload",
    "PlatformOutput",
    "WebhookChannel",
    "from_millis",
    "read_body",
]


class MalformedPayload(ValueError):
    """The body is not what the platform sends (→ 400)."""


class BodyTooLarge(ValueError):
    """The body is larger than the limit (→ 413)."""


@dataclass(frozen=True)
class Inbound:
    """One event from a platform, in the shape the assistant needs.

    ``kind``: ``message`` (text, quick reply, attachments), ``postback`` (a button),
    ``follow`` (handled as ``text``, e.g. "/greet") or ``unfollow`` (recorded only).
    ``attachments``: ``{"kind": "image" | "file" | "location", "url": …, "payload": …}``, the form
    ``actions/case_form.py`` reads from the message metadata.
    """

    message_id: str
    sender_id: str
    text: str = ""
    kind: str = "message"
    at: datetime | None = None
    attachments: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


def from_millis(value: Any) -> datetime | None:
    """A platform timestamp in milliseconds (number or digit string) → aware UTC datetime."""
    try:
        millis = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    if millis <= 0:
        return None
    try:
        return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes before reading them all."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise BodyTooLarge(f"{length} bytes announced")
    stream = getattr(request, "stream", None)
    if stream is None or request.body:
        body = bytes(request.body or b"")
        if len(body) > limit:
            raise BodyTooLarge(f"{len(body)} bytes")
        return body
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await stream.read()
        if chunk is None:
            break
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class HttpClients:
    """One aiohttp session per event loop, created on first use, closed on shutdown."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
            self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

async def _quietly(db: LoopDatabase, function: Callable[..., Any], *args: Any) -> Any:
    """``db.call(function, *args)``, logging instead of raising.

    For what only helps (numbered choices, the unfollow note): a DB hiccup must not cost the
    citizen their answer."""
    try:
        return await db.call(function, *args)
    except Exception as error:
        logger.warning("%s failed: %s", getattr(function, "__name__", "store call"), error)
        return None


class PlatformOutput(OutputChannel):
    """Sends Rasa's bot messages through a platform, rendered by :func:`bot.channels.render.render`.

    One instance per turn (an incoming message) or per ``trigger_intent`` request. It remembers
    whether this turn offered numbered choices, which the channel then stores for the person.
    """

    channel_name = "platform"
    caps: Capabilities

    def __init__(self, db: LoopDatabase | None = None) -> None:
        #: The channel's; on its own (tests, scripts) an output uses worker threads.
        self.db = db or LoopDatabase(on_loop=False)
        self.offered: tuple[Choice, ...] = ()

    @classmethod
    def name(cls) -> str:
        return cls.channel_name

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        custom = message.get("custom")
        if isinstance(custom, Mapping) and isinstance(custom.get(self.channel_name), Mapping):
            await self.send_native(recipient_id, dict(custom[self.channel_name]))
        rendered = render(message, self.caps)
        await self.send_rendered(recipient_id, rendered)
        if rendered.options:
            self.offered = rendered.options
            await _quietly(self.db, store.set_options, self.channel_name, recipient_id,
                           rendered.options)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"custom": json_message})

    async def send_rendered(self, recipient_id: str, rendered: Rendered) -> None:
        raise NotImplementedError

    async def send_native(self, recipient_id: str, message: dict[str, Any]) -> None:
        """A platform-specific message from a response's ``custom: {<channel>: {...}}``."""
        raise NotImplementedError


class WebhookChannel(InputChannel):
    """Base of the Facebook and Zalo input channels (see the module docstring)."""

    channel_name = "platform"

    def __init__(self) -> None:
        self.queues = ConversationQueues()
        self.http = HttpClients()
        self.db = LoopDatabase()
        self.admitter = Admitter(self.channel_name, self.db)

    @classmethod
    def name(cls) -> str:
        return cls.channel_name

    # -- to implement
    def missing(self) -> list[str]:
        raise NotImplementedError

    def turn_output(self) -> PlatformOutput:
        """The output channel of a turn that answers an incoming message."""
        raise NotImplementedError

    # -- shared
    def refuse_unconfigured(self) -> HTTPResponse | None:
        missing = self.missing()
        if not missing:
            return None
        logger.error("%s channel refused a webhook: %s not set", self.channel_name,
                     ", ".join(missing))
        return response.json({"error": f"{self.channel_name} channel is not configured"},
                             status=503)

    async def acknowledge(self, events: Sequence[Inbound],
                          on_new_message: Callable[[UserMessage], Awaitable[Any]],
                          ok: Callable[[], HTTPResponse]) -> HTTPResponse:
        """Queue ``events``, record their ids, and answer (see the module docstring)."""
        if self.queues.pending + len(events) > MAX_PENDING:
            logger.error("%s: %d events already queued, asking the platform to retry",
                         self.channel_name, self.queues.pending)
            return response.json({"error": "busy"}, status=503)
        started = time.perf_counter()
        admitted = [
            self.queues.submit(event.sender_id, self._runner(event, on_new_message))
            for event in events
        ]
        arrivals = [
            store.Arrival(event.message_id, event.sender_id,
                          event.at if event.kind in ("message", "postback") else None)
            for event in events
        ]
        try:
            fresh = await self.admitter.admit(arrivals)
        except Exception as error:
            for future in admitted:
                future.set_result(False)
            logger.error("%s: could not record %d event ids, answering 503: %s",
                         self.channel_name, len(events), error)
            return response.json({"error": "temporarily unavailable"}, status=503)
        for future, new, event in zip(admitted, fresh, events, strict=True):
            future.set_result(new)
            if not new:
                logger.info("%s: redelivered event %s ignored", self.channel_name,
                            event.message_id)
        logger.debug("%s: %d events acknowledged in %.1f ms", self.channel_name, len(events),
                     (time.perf_counter() - started) * 1000)
        return ok()

    def _runner(self, event: Inbound,
                on_new_message: Callable[[UserMessage], Awaitable[Any]]
                ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.process(event, on_new_message)

        return run

    async def process(self, event: Inbound,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Hand one admitted event to Rasa (a bare number picks a choice offered just before)."""
        if event.kind == "unfollow":
            await _quietly(self.db, store.mark_unfollowed, self.channel_name, event.sender_id,
                           event.at)
            return
        options = await _quietly(self.db, store.get_options, self.channel_name,
                                 event.sender_id) or []
        text = event.text
        metadata: dict[str, Any] = {
            "channel": self.channel_name,
            "message_id": event.message_id,
            "event": event.kind,
            "attachments": [dict(a) for a in event.attachments],
            **dict(event.metadata),
        }
        choice = resolve_number(text, options) if not event.attachments else None
        if choice is not None:
            metadata["chosen"] = {"number": text.strip(), "title": choice.title}
            text = choice.payload
        output = self.turn_output()
        await on_new_message(
            UserMessage(
                text,
                output,
                event.sender_id,
                input_channel=self.name(),
                message_id=event.message_id,
                metadata=metadata,
            )
        )
        if options and not output.offered:
            await _quietly(self.db, store.set_options, self.channel_name, event.sender_id, None)

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        return None

    async def accept_body(self, request: Request) -> bytes | HTTPResponse:
        """The raw body of a webhook POST (signatures are computed over it), or the answer that
        refuses it: 503 while the channel's secrets are missing, 413 when it is too large."""
        refused = self.refuse_unconfigured()
        if refused is not None:
            return refused
        try:
            return await read_body(request, MAX_BODY_BYTES)
        except BodyTooLarge as error:
            logger.warning("%s: webhook body too large (%s), refused (413)",
                           self.channel_name, error)
            return response.json({"error": "payload too large"}, status=413)

    async def receive(self, request: Request,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        """Verify, parse and acknowledge one webhook POST (each platform its own way)."""
        raise NotImplementedError

    def webhook_blueprint(self, name: str,
                          on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """:meth:`lifecycle_blueprint` plus ``POST /webhook`` to :meth:`receive`, counted by
        ``ACK_GATE`` so turns in the background yield to acknowledgements in flight."""
        webhook = self.lifecycle_blueprint(name)

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            ACK_GATE.enter()
            try:
                return await self.receive(request, on_new_message)
            finally:
                ACK_GATE.leave()

        return webhook

    def lifecycle_blueprint(self, name: str) -> Blueprint:
        """A blueprint with what every platform webhook shares: start-up and shutdown of the
        channel's workers, and ``GET /`` telling whether its secrets are configured."""
        webhook = Blueprint(name, __name__)

        @webhook.listener("after_server_start")
        async def start(app: Any, loop: Any) -> None:
            await self.startup()

        @webhook.listener("before_server_stop")
        async def stop(app: Any, loop: Any) -> None:
            await self.shutdown()

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": not self.missing()})

        return webhook

    async def startup(self) -> None:
        """Open the DB (migrating it if needed) before the first webhook arrives."""
        missing = self.missing()
        if missing:
            logger.warning("%s channel is not configured (%s not set): it will refuse webhooks",
                           self.channel_name, ", ".join(missing))
        try:
            await asyncio.to_thread(self.db.prepare)
        except Exception as error:  # the DB may come up later; webhooks answer 503 meanwhile
            logger.error("%s channel: feedback DB not reachable at start-up: %s",
                         self.channel_name, error)

    async def shutdown(self) -> None:
        await self.queues.close()
        await self.http.close()
        self.db.close()


def raise_not_configured(channel: str, missing: Sequence[str]) -> NoReturn:
    raise ChannelNotConfigured(channel, f"not configured ({', '.join(missing)} not set)")
