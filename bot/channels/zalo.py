"""Zalo Official Account (API v3): input and output channel.

Webhook (``/webhooks/zalo/webhook``, registered in the Zalo app's Webhook settings):

* ``X-ZEvent-Signature: mac=<hex sha256(app_id + raw body + timestamp + OA secret key)>`` — plain
  SHA-256 (not HMAC) of the app id, the body exactly as received, the ``timestamp`` field of that
  body and the OA secret key, compared in constant time; 403 when missing or wrong.
* Events: ``user_send_text``, ``user_send_image``, ``user_send_location``, ``user_send_file``
  (attachments → message metadata ``attachments``; the text is the caption, possibly empty),
  ``follow`` (the new follower is greeted: "/greet" goes through the assistant), ``unfollow``
  (recorded only); the OA's own messages (``oa_send_*``) and other events are acknowledged and
  ignored. Acknowledged at once (Zalo wants 200 within 2 s), processed in the background.

Sending (``POST {ZALO_API_BASE}/v3.0/oa/message/cs``, header ``access_token``; success is
``{"error": 0}``): text split at 2,000 characters, choices as numbered text (a later bare "2"
picks the second), images as a media template. The access token expires: it is refreshed with
the refresh token (``POST {ZALO_OAUTH_BASE}/v4/oa/access_token``, header ``secret_key``) and the
new pair is stored in the DB (``channel_tokens``) at once, since a refresh token works only once.
Errors -32 and -100 are retried with backoff; an expired or invalid token is refreshed once;
-213, -217, -227, -230, -232, -234, -244 (the person is outside the messaging window, or it is
the 22:00–06:00 quiet period) raise :class:`~bot.delivery.errors.OutsideMessagingWindow` at once,
without retries.
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
from sqlalchemy.engine import Engine

from bot.channels import store
from bot.channels.pipeline import LoopDatabase, feedback_engine
from bot.channels.render import ZALO, Part, Rendered
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
from bot.settings import ZaloConfig

logger = logging.getLogger(__name__)

__all__ = [
    "WINDOW_ERRORS",
    "ZaloChannel",
    "ZaloClient",
    "ZaloOutput",
    "ZaloTokens",
    "parse_event",
    "sign",
    "verify_signature",
]

CHANNEL = "zalo"
#: The person is outside the window the OA may write in (or it is the night quiet period).
WINDOW_ERRORS = frozenset({-213, -217, -227, -230, -232, -234, -244})
#: Temporary: try again after a pause.
RETRY_ERRORS = frozenset({-32, -100})
#: The access token expired or is invalid: refresh it, then try again once.
TOKEN_ERRORS = frozenset({-216, -124})
#: Refresh a token this long before Zalo says it expires.
REFRESH_MARGIN = timedelta(minutes=5)
#: Text sent through the assistant when someone follows the OA.
FOLLOW_TEXT = "/greet"


# --------------------------------------------------------------------------- signature


def sign(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The ``X-ZEvent-Signature`` value Zalo sends for ``body``."""
    digest = hashlib.sha256(
        app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()
    ).hexdigest()
    return f"mac={digest}"


def verify_signature(app_id: str, oa_secret_key: str, body: bytes, timestamp: str | None,
                     header: str | None) -> bool:
    """True when ``header`` matches ``body`` and its ``timestamp`` (constant-time compare)."""
    if not app_id or not oa_secret_key or not header or not timestamp:
        return False
    supplied = header.strip().lower()
    if not supplied.startswith("mac="):
        supplied = "mac=" + supplied
    expected = sign(app_id, body, timestamp, oa_secret_key)
    return hmac.compare_digest(expected.encode(), supplied.encode())


def body_timestamp(payload: Any) -> str | None:
    """The ``timestamp`` field as it appears in the body (Zalo sends a digit string)."""
    if not isinstance(payload, Mapping):
        return None
    value = payload.get("timestamp")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, str)):
        return str(value)
    return None


# --------------------------------------------------------------------------- parsing


def _coordinate(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _attachments(message: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    found: list[dict[str, Any]] = []
    for item in message.get("attachments") or []:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        payload = item.get("payload") if isinstance(item.get("payload"), Mapping) else {}
        assert isinstance(payload, Mapping)
        url = payload.get("url") if isinstance(payload.get("url"), str) else None
        if kind == "image" and url:
            found.append({"kind": "image", "url": url, "payload": None})
        elif kind == "file" and url:
            details = {k: payload.get(k) for k in ("name", "size", "type") if payload.get(k)}
            found.append({"kind": "file", "url": url, "payload": details or None})
        elif kind == "location":
            coordinates = payload.get("coordinates")
            if isinstance(coordinates, Mapping):
                found.append({
                    "kind": "location",
                    "url": None,
                    "payload": {"latitude": _coordinate(coordinates.get("latitude")),
                                "longitude": _coordinate(coordinates.get("longitude"))},
                })
    return tuple(found)


def _id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return str(value)
    return None


def parse_event(payload: Any) -> Inbound | None:
    """The webhook's event in the assistant's shape, or None when it is not for the assistant.

    Raises :class:`MalformedPayload` when a handled event lacks what it needs.
    """
    if not isinstance(payload, Mapping):
        raise MalformedPayload("the body is not a JSON object")
    name = payload.get("event_name")
    if not isinstance(name, str) or not name:
        raise MalformedPayload("no event_name")
    timestamp = body_timestamp(payload)
    at = from_millis(timestamp)
    if name in ("follow", "unfollow"):
        follower = _id(payload.get("follower")) or _id(payload.get("sender"))
        if follower is None:
            raise MalformedPayload(f"{name} without follower.id")
        return Inbound(f"{name}:{follower}:{timestamp}", follower,
                       FOLLOW_TEXT if name == "follow" else "", name, at)
    if name not in ("user_send_text", "user_send_image", "user_send_location",
                    "user_send_file"):
        return None  # oa_send_* (our own messages), stickers, seen / received receipts, …
    sender = _id(payload.get("sender"))
    message = payload.get("message")
    if sender is None or not isinstance(message, Mapping):
        raise MalformedPayload(f"{name} without sender.id or message")
    message_id = _id(message.get("msg_id"))
    if message_id is None:
        raise MalformedPayload(f"{name} without message.msg_id")
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    attachments = _attachments(message)
    if name != "user_send_text" and not attachments:
        raise MalformedPayload(f"{name} without a usable attachment")
    return Inbound(message_id, sender, text or "", "message", at, attachments)


# --------------------------------------------------------------------------- tokens


async def post_for_json(http: HttpClients, url: str, **kwargs: Any) -> tuple[int, Any]:
    """POST and read the answer as JSON: (status, data), data None when the body is not JSON.
    Network errors propagate to the caller, which decides whether they are worth a retry."""
    async with http.get().post(url, **kwargs) as answer:
        try:
            data = await answer.json(content_type=None)
        except ValueError:
            data = None
        return answer.status, data


class ZaloTokens:
    """The OA's access token: from the DB (``channel_tokens``), seeded from the environment,
    refreshed with the refresh token when it expires, the new pair stored before it is used.

    When ``ZALO_REFRESH_TOKEN`` changes in the environment (an operator reconnected the OA), the
    environment's pair replaces the stored one.
    """

    def __init__(self, config: ZaloConfig, http: HttpClients, *,
                 engine: Callable[[], Engine] = feedback_engine,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self.http = http
        self.engine = engine
        self.clock = clock
        self._token: store.StoredToken | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    @property
    def seed_hash(self) -> str | None:
        seed = self.config.refresh_token or self.config.access_token
        return hashlib.sha256(seed.encode()).hexdigest() if seed else None

    def _guard(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def _load(self) -> store.StoredToken | None:
        engine = self.engine()
        stored = store.load_token(engine, CHANNEL)
        seed = self.seed_hash
        if stored is not None and (seed is None or stored.seed_hash == seed):
            return stored
        if not (self.config.access_token or self.config.refresh_token):
            return stored
        token = store.StoredToken(self.config.access_token, self.config.refresh_token or None,
                                  None, seed)
        store.save_token(engine, CHANNEL, token)
        if stored is not None:
            logger.info("zalo: new tokens from the environment replace the stored ones")
        return token

    async def current(self) -> str:
        """An access token to send with (refreshed first when it is about to expire)."""
        async with self._guard():
            if self._token is None:
                self._token = await asyncio.to_thread(self._load)
            token = self._token
        if token is None:
            raise_not_configured(CHANNEL, ["ZALO_ACCESS_TOKEN", "ZALO_REFRESH_TOKEN"])
        assert token is not None
        expires = token.expires_at
        if not token.access_token or (expires is not None
                                      and expires - REFRESH_MARGIN <= self.clock()):
            return await self.refresh(token.access_token)
        return token.access_token

    async def refresh(self, failed: str) -> str:
        """Refresh after ``failed`` was refused; only once however many sends saw it fail."""
        async with self._guard():
            if self._token is not None and self._token.access_token != failed \
                    and self._token.access_token:
                return self._token.access_token  # another send refreshed meanwhile
            stored = await asyncio.to_thread(self._load)
            if stored is not None and stored.access_token and stored.access_token != failed:
                self._token = stored  # another process refreshed and stored it
                return stored.access_token
            self._token = await self._refresh(stored)
            return self._token.access_token

    async def _refresh(self, stored: store.StoredToken | None) -> store.StoredToken:
        refresh_token = (stored.refresh_token if stored else None) or self.config.refresh_token
        if not refresh_token or not self.config.app_secret or not self.config.app_id:
            raise_not_configured(CHANNEL, ["ZALO_REFRESH_TOKEN", "ZALO_APP_SECRET"])
        assert refresh_token is not None
        try:
            status, data = await post_for_json(
                self.http,
                self.config.refresh_url,
                data={"app_id": self.config.app_id, "grant_type": "refresh_token",
                      "refresh_token": refresh_token},
                headers={"secret_key": self.config.app_secret},
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise ChannelSendError(CHANNEL, f"token refresh: OAuth unreachable: {error!r}",
                                   retryable=True) from error
        if not isinstance(data, Mapping) or not data.get("access_token"):
            detail = ""
            if isinstance(data, Mapping):
                detail = str(data.get("error_description") or data.get("error_name")
                             or data.get("message") or "")[:200]
            code = data.get("error") if isinstance(data, Mapping) else None
            logger.error("zalo: access token refresh refused (HTTP %s, %s): reconnect the OA and "
                         "set ZALO_ACCESS_TOKEN / ZALO_REFRESH_TOKEN", status, detail or code)
            raise ChannelSendError(CHANNEL, f"token refresh refused: {detail or status}",
                                   code=code if isinstance(code, int) else None,
                                   retryable=status >= 500)
        try:
            lifetime = timedelta(seconds=int(str(data.get("expires_in") or "0")))
        except ValueError:
            lifetime = timedelta(0)
        token = store.StoredToken(
            access_token=str(data["access_token"]),
            refresh_token=str(data.get("refresh_token") or refresh_token),
            expires_at=self.clock() + lifetime if lifetime else None,
            seed_hash=stored.seed_hash if stored else self.seed_hash,
        )
        await asyncio.to_thread(store.save_token, self.engine(), CHANNEL, token)
        logger.info("zalo: access token refreshed and stored")
        return token


# --------------------------------------------------------------------------- sending


class ZaloClient:
    """``POST /v3.0/oa/message/cs`` with token refresh and retries (never for window errors)."""

    def __init__(self, config: ZaloConfig, http: HttpClients, tokens: ZaloTokens, *,
                 attempts: int = 3, backoff: float = 0.5) -> None:
        self.config = config
        self.http = http
        self.tokens = tokens
        self.attempts = attempts
        self.backoff = backoff

    async def send(self, body: dict[str, Any]) -> dict[str, Any]:
        last: ChannelSendError | None = None
        refreshed = False
        attempt = 0
        while attempt < self.attempts:
            token = await self.tokens.current()
            try:
                status, data = await post_for_json(
                    self.http, self.config.send_url, json=body, headers={"access_token": token}
                )
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                last = ChannelSendError(CHANNEL, f"OA API unreachable: {error!r}", retryable=True)
            else:
                code = data.get("error") if isinstance(data, Mapping) else None
                detail = str(data.get("message") or "") if isinstance(data, Mapping) else ""
                if status == 200 and code == 0:
                    assert isinstance(data, Mapping)
                    return dict(data)
                if code in WINDOW_ERRORS:
                    raise OutsideMessagingWindow(CHANNEL, detail or "outside the window", code=code)
                if code in TOKEN_ERRORS and not refreshed:
                    refreshed = True
                    await self.tokens.refresh(token)
                    continue  # a refresh does not count as an attempt
                if code in RETRY_ERRORS or status >= 500 or status == 429:
                    last = ChannelSendError(CHANNEL, detail or f"HTTP {status}", code=code,
                                            retryable=True)
                else:
                    raise ChannelSendError(CHANNEL, detail or f"HTTP {status}", code=code,
                                           retryable=False)
            attempt += 1
            if attempt < self.attempts:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        assert last is not None
        raise last


class ZaloOutput(PlatformOutput):
    """Sends one turn's (or one ``trigger_intent``'s) messages to an OA follower."""

    channel_name = CHANNEL
    caps = ZALO

    def __init__(self, client: ZaloClient, db: LoopDatabase | None = None) -> None:
        super().__init__(db)
        self.client = client

    @staticmethod
    def message_of(part: Part) -> dict[str, Any]:
        if part.image:
            return {"attachment": {"type": "template", "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", "url": part.image}],
            }}}
        return {"text": part.text}

    async def send_rendered(self, recipient_id: str, rendered: Rendered) -> None:
        for part in rendered.parts:
            await self.client.send({"recipient": {"user_id": recipient_id},
                                    "message": self.message_of(part)})

    async def send_native(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.client.send({"recipient": {"user_id": recipient_id}, "message": message})


# --------------------------------------------------------------------------- the channel


class ZaloChannel(WebhookChannel):
    """``credentials.yml``: ``bot.channels.zalo.ZaloChannel:`` (values from the environment, see
    :class:`bot.settings.ZaloConfig`)."""

    channel_name = CHANNEL

    def __init__(self, config: ZaloConfig) -> None:
        super().__init__()
        self.config = config
        self.tokens = ZaloTokens(config, self.http)
        self.client = ZaloClient(config, self.http, self.tokens)

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ZaloChannel:
        return cls(ZaloConfig.load(credentials))

    def missing(self) -> list[str]:
        return self.config.missing()

    def turn_output(self) -> ZaloOutput:
        return ZaloOutput(self.client, self.db)

    def get_output_channel(self) -> ZaloOutput:
        return ZaloOutput(self.client, self.db)

    async def receive(self, request: Request,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        body = await self.accept_body(request)
        if isinstance(body, HTTPResponse):
            return body
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as error:
            logger.warning("zalo: webhook body is not JSON, refused (400): %s", error)
            return response.json({"error": "malformed body"}, status=400)
        header = request.headers.get("x-zevent-signature")
        if not verify_signature(self.config.app_id, self.config.oa_secret_key, body,
                                body_timestamp(payload), header):
            logger.warning("zalo: webhook with %s X-ZEvent-Signature refused (403)",
                           "a wrong" if header else "no")
            return response.json({"error": "invalid signature"}, status=403)
        try:
            event = parse_event(payload)
        except MalformedPayload as error:
            logger.warning("zalo: malformed webhook event refused (400): %s", error)
            return response.json({"error": "malformed event"}, status=400)
        if event is None:
            return response.json({"status": "ignored"})
        return await self.acknowledge([event], on_new_message,
                                      lambda: response.json({"status": "ok"}))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        return self.webhook_blueprint("mttq_zalo_webhook", on_new_message)
