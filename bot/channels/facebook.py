"""Facebook Messenger (a committee's fan page): our own input and output channel.

Replaces Rasa 3.6's ``facebook`` channel, which checks only the old SHA-1 header, answers 200 to a
forged request, reads only the first event of a batch, replies before acknowledging (so Facebook
redelivers and the citizen is answered twice) and never dedupes.

Webhook (``/webhooks/facebook/webhook``):

* ``GET``: subscription check — echoes ``hub.challenge`` when ``hub.mode=subscribe`` and
  ``hub.verify_token`` matches ``FACEBOOK_VERIFY_TOKEN``; 403 otherwise.
* ``POST``: ``X-Hub-Signature-256: sha256=<HMAC-SHA256(app secret, raw body)>`` compared in
  constant time (403 when missing or wrong); every ``entry[].messaging[]`` event of the batch;
  echoes, reads, deliveries, reactions and ``standby`` ignored; text, quick-reply payloads,
  postbacks, attachments (image / file / location → message metadata ``attachments``, never their
  URL as text). Acknowledged at once (``bot.channels.webhook``), processed in the background
  (``bot.channels.pipeline``).

Sending (``POST {FACEBOOK_GRAPH_BASE}/v18.0/me/messages?access_token=…``): text split at 2,000
characters, up to 13 quick replies with titles cut to 20 characters, more choices as numbered
text, images as attachments. Window rules (Messenger Platform policy): an answer to the message
just received goes as ``RESPONSE``; a message Rasa sends on its own (``trigger_intent``: a staff
reply, a status change) goes as ``RESPONSE`` within 24 hours of the person's last message, as
``MESSAGE_TAG`` / ``HUMAN_AGENT`` up to 7 days, and is refused with
:class:`~bot.delivery.errors.OutsideMessagingWindow` beyond (nothing is sent).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import store
from bot.channels.pipeline import LoopDatabase
from bot.channels.render import FACEBOOK, Part, Rendered
from bot.channels.webhook import (
    HttpClients,
    Inbound,
    MalformedPayload,
    PlatformOutput,
    WebhookChannel,
    from_millis,
    raise_not_configured,
)
from bot.db.types import utcnow
from bot.delivery.errors import ChannelSendError, OutsideMessagingWindow
from bot.settings import FacebookConfig

logger = logging.getLogger(__name__)

__all__ = [
    "FacebookChannel",
    "FacebookOutput",
    "GraphClient",
    "messaging_for",
    "parse_events",
    "sign",
    "verify_signature",
]

CHANNEL = "facebook"
#: Standard messaging window, and the human agent's (``HUMAN_AGENT`` tag).
RESPONSE_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
#: The thumbs-up "like" stickers (three sizes): sent as text 👍, not as a photo for a case.
LIKE_STICKERS = {369239263222822, 369239343222814, 369239383222810}
#: Graph API errors meaning "outside the window / this person cannot be messaged now".
WINDOW_CODES = {10, 551}
WINDOW_SUBCODES = {2018278, 2018108, 1545041}
#: Graph API errors worth another attempt (rate limits, temporary failures).
RETRY_CODES = {1, 2, 4, 17, 32, 613}


# --------------------------------------------------------------------------- signature


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Facebook sends for ``body``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the HMAC-SHA256 of the raw ``body`` (constant-time compare)."""
    if not app_secret or not header:
        return False
    return hmac.compare_digest(sign(app_secret, body).encode(), header.strip().lower().encode())


# --------------------------------------------------------------------------- parsing


def _attachment(item: Any) -> tuple[dict[str, Any] | None, str]:
    """One Messenger attachment → (our attachment or None, text it stands for)."""
    if not isinstance(item, Mapping):
        return None, ""
    kind = item.get("type")
    payload = item.get("payload") if isinstance(item.get("payload"), Mapping) else {}
    assert isinstance(payload, Mapping)
    url = payload.get("url") if isinstance(payload.get("url"), str) else None
    if kind == "image":
        sticker = payload.get("sticker_id")
        if sticker is not None:
            return None, "👍" if sticker in LIKE_STICKERS else ""
        return ({"kind": "image", "url": url, "payload": None}, "") if url else (None, "")
    if kind in ("file", "video", "audio"):
        return ({"kind": "file", "url": url, "payload": {"type": kind}}, "") if url else (None, "")
    if kind == "location":
        coordinates = payload.get("coordinates")
        if isinstance(coordinates, Mapping):
            place = {"latitude": coordinates.get("lat"), "longitude": coordinates.get("long")}
            if item.get("title"):
                place["title"] = item.get("title")
            return {"kind": "location", "url": None, "payload": place}, ""
    return None, ""


def _event(event: Mapping[str, Any]) -> Inbound | None:
    """One ``messaging`` event → Inbound, or None when it is not for the assistant."""
    sender = event.get("sender")
    sender_id = sender.get("id") if isinstance(sender, Mapping) else None
    at = from_millis(event.get("timestamp"))
    message = event.get("message")
    postback = event.get("postback")
    if isinstance(message, Mapping):
        if message.get("is_echo"):
            return None
        mid = message.get("mid")
        if not sender_id or not isinstance(mid, str) or not mid:
            raise MalformedPayload("a message event without sender.id or message.mid")
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        quick = message.get("quick_reply")
        if isinstance(quick, Mapping) and isinstance(quick.get("payload"), str):
            text = quick["payload"]
        attachments = []
        for item in message.get("attachments") or []:
            attachment, stands_for = _attachment(item)
            if attachment is not None:
                attachments.append(attachment)
            elif stands_for and not text:
                text = stands_for
        return Inbound(mid, str(sender_id), text or "", "message", at, tuple(attachments))
    if isinstance(postback, Mapping):
        if not sender_id:
            raise MalformedPayload("a postback event without sender.id")
        payload = postback.get("payload")
        text = payload if isinstance(payload, str) and payload else str(postback.get("title") or "")
        mid = postback.get("mid")
        if not isinstance(mid, str) or not mid:
            mid = "postback:" + hashlib.sha256(
                f"{sender_id}:{event.get('timestamp')}:{text}".encode()
            ).hexdigest()[:32]
        return Inbound(mid, str(sender_id), text, "postback", at,
                       metadata={"postback_title": str(postback.get("title") or "")})
    return None  # read, delivery, reaction, optin, referral, …


def parse_events(payload: Any) -> list[Inbound]:
    """Every event of a webhook POST meant for the assistant, in order.

    Raises :class:`MalformedPayload` when the body is not a page webhook (``object: page`` with an
    ``entry`` list), or when it has events but none usable. A single event that lacks what it
    needs is logged and skipped, so it cannot make Facebook redeliver the whole batch forever.
    ``standby`` (another app owns the thread) and everything but messages and postbacks are
    skipped.
    """
    if not isinstance(payload, Mapping) or payload.get("object") != "page":
        raise MalformedPayload("not a page webhook (object != 'page')")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload("no entry list")
    events: list[Inbound] = []
    problems: list[str] = []
    for entry in entries:
        messaging = entry.get("messaging") if isinstance(entry, Mapping) else None
        if not isinstance(entry, Mapping) or not isinstance(messaging or [], list):
            problems.append("an entry without a messaging list")
            continue
        for item in messaging or []:
            try:
                if not isinstance(item, Mapping):
                    raise MalformedPayload("a messaging event is not an object")
                inbound = _event(item)
            except MalformedPayload as error:
                problems.append(str(error))
                continue
            if inbound is not None:
                events.append(inbound)
    if problems and not events:
        raise MalformedPayload("; ".join(problems[:3]))
    for skipped in problems:
        logger.warning("facebook: skipped a malformed event: %s", skipped)
    return events


# --------------------------------------------------------------------------- sending


def messaging_for(last_inbound: datetime | None, now: datetime, *,
                  proactive: bool) -> dict[str, str]:
    """``messaging_type`` (and ``tag``) for a message, or raise OutsideMessagingWindow.

    ``proactive`` is False for answers to the message being processed, True for what Rasa sends
    on its own (``trigger_intent``: staff replies and status changes, which a person wrote).
    """
    if not proactive:
        return {"messaging_type": "RESPONSE"}
    if last_inbound is None:
        raise OutsideMessagingWindow(CHANNEL, "this person never wrote to the page (no record)")
    age = now - last_inbound
    if age <= RESPONSE_WINDOW:
        return {"messaging_type": "RESPONSE"}
    if age <= HUMAN_AGENT_WINDOW:
        return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    raise OutsideMessagingWindow(
        CHANNEL, f"last message from this person {age.days} days ago, more than 7"
    )


def graph_error(status: int, data: Any) -> ChannelSendError | OutsideMessagingWindow:
    """The exception for a failed Send API call (HTTP ``status``, JSON ``data``)."""
    error = data.get("error") if isinstance(data, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode")
    message = str(error.get("message") or f"HTTP {status}")[:300]
    if code in WINDOW_CODES or subcode in WINDOW_SUBCODES:
        return OutsideMessagingWindow(CHANNEL, message, code=code)
    retryable = status >= 500 or status == 429 or code in RETRY_CODES
    return ChannelSendError(CHANNEL, message, code=code, retryable=retryable)


class GraphClient:
    """``POST /me/messages`` with retries for temporary failures (never for window errors)."""

    def __init__(self, config: FacebookConfig, http: HttpClients, *, attempts: int = 3,
                 backoff: float = 0.5) -> None:
        self.config = config
        self.http = http
        self.attempts = attempts
        self.backoff = backoff

    async def send(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.config.page_access_token:
            raise_not_configured(CHANNEL, ["FACEBOOK_PAGE_ACCESS_TOKEN"])
        last: ChannelSendError | None = None
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                async with self.http.get().post(
                    self.config.messages_url,
                    params={"access_token": self.config.page_access_token},
                    json=body,
                ) as answer:
                    status = answer.status
                    try:
                        data = await answer.json(content_type=None)
                    except ValueError:
                        data = None
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                last = ChannelSendError(CHANNEL, f"Graph API unreachable: {error!r}",
                                        retryable=True)
                continue
            if status == 200 and isinstance(data, Mapping) and "error" not in data:
                return dict(data)
            failure = graph_error(status, data)
            if not failure.retryable:
                raise failure
            assert isinstance(failure, ChannelSendError)
            last = failure
        assert last is not None
        raise last


class FacebookOutput(PlatformOutput):
    """Sends one turn's (or one ``trigger_intent``'s) messages to a page-scoped user id."""

    channel_name = CHANNEL
    caps = FACEBOOK

    def __init__(self, client: GraphClient, *, proactive: bool,
                 clock: Callable[[], datetime] = utcnow, db: LoopDatabase | None = None) -> None:
        super().__init__(db)
        self.client = client
        self.proactive = proactive
        self.clock = clock
        self._messaging: dict[str, str] | None = None

    async def messaging(self, recipient_id: str) -> dict[str, str]:
        if self._messaging is None:
            last = None
            if self.proactive:
                last = await self.db.call(store.last_inbound, CHANNEL, recipient_id)
            self._messaging = messaging_for(last, self.clock(), proactive=self.proactive)
        return self._messaging

    def _body(self, recipient_id: str, messaging: Mapping[str, str],
              message: Mapping[str, Any]) -> dict[str, Any]:
        return {"recipient": {"id": recipient_id}, **messaging, "message": dict(message)}

    @staticmethod
    def message_of(part: Part) -> dict[str, Any]:
        if part.image:
            return {"attachment": {"type": "image",
                                   "payload": {"url": part.image, "is_reusable": True}}}
        message: dict[str, Any] = {"text": part.text}
        if part.quick_replies:
            message["quick_replies"] = [
                {"content_type": "text", "title": c.title, "payload": c.payload[:1000]}
                for c in part.quick_replies
            ]
        return message

    async def send_rendered(self, recipient_id: str, rendered: Rendered) -> None:
        if not rendered.parts:
            return
        messaging = await self.messaging(recipient_id)
        for part in rendered.parts:
            await self.client.send(self._body(recipient_id, messaging, self.message_of(part)))

    async def send_native(self, recipient_id: str, message: dict[str, Any]) -> None:
        messaging = await self.messaging(recipient_id)
        await self.client.send(self._body(recipient_id, messaging, message))


# --------------------------------------------------------------------------- the channel


class FacebookChannel(WebhookChannel):
    """``credentials.yml``: ``bot.channels.facebook.FacebookChannel:`` (values from the
    environment, see :class:`bot.settings.FacebookConfig`)."""

    channel_name = CHANNEL

    def __init__(self, config: FacebookConfig) -> None:
        super().__init__()
        self.config = config
        self.client = GraphClient(config, self.http)

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> FacebookChannel:
        return cls(FacebookConfig.load(credentials))

    def missing(self) -> list[str]:
        return self.config.missing()

    def turn_output(self) -> FacebookOutput:
        return FacebookOutput(self.client, proactive=False, db=self.db)

    def get_output_channel(self) -> FacebookOutput:
        return FacebookOutput(self.client, proactive=True, db=self.db)

    def verify_subscription(self, request: Request) -> HTTPResponse:
        refused = self.refuse_unconfigured()
        if refused is not None:
            return refused
        mode = request.args.get("hub.mode")
        token = request.args.get("hub.verify_token") or ""
        challenge = request.args.get("hub.challenge") or ""
        if mode == "subscribe" and hmac.compare_digest(token.encode(),
                                                       self.config.verify_token.encode()):
            logger.info("facebook: webhook subscription verified")
            return response.text(challenge)
        logger.warning("facebook: webhook verification refused (mode %r, wrong or no token)", mode)
        return response.text("forbidden", status=403)

    async def receive(self, request: Request,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        body = await self.accept_body(request)
        if isinstance(body, HTTPResponse):
            return body
        header = request.headers.get("x-hub-signature-256")
        if not verify_signature(self.config.app_secret, body, header):
            logger.warning("facebook: webhook with %s X-Hub-Signature-256 refused (403)",
                           "a wrong" if header else "no")
            return response.json({"error": "invalid signature"}, status=403)
        try:
            events = parse_events(json.loads(body))
        except (ValueError, RecursionError) as error:
            logger.warning("facebook: malformed webhook body refused (400): %s", error)
            return response.json({"error": "malformed body"}, status=400)
        if not events:
            return response.text("EVENT_RECEIVED")
        return await self.acknowledge(events, on_new_message,
                                      lambda: response.text("EVENT_RECEIVED"))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint("mttq_facebook_webhook", on_new_message)

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return self.verify_subscription(request)

        return webhook
