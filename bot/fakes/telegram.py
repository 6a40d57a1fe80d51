"""A local fake of the Telegram Bot API for tests (aiohttp on 127.0.0.1).

It speaks the documented formats (https://core.telegram.org/bots/api): requests to
``/bot<token>/<method>`` as form fields (JSON-encoded values, as python-telegram-bot sends them)
or a JSON body; answers ``{"ok": true, "result": …}`` or ``{"ok": false, "error_code": …,
"description": …, "parameters": …}``. Implemented: getMe, sendMessage, editMessageText,
editMessageReplyMarkup, answerCallbackQuery, setWebhook, deleteWebhook, getWebhookInfo,
getUpdates (long polling).

It keeps every call (``calls``), the messages it "sent" per chat (so an edit of an unknown message
fails as Telegram's does, and an edit that changes nothing answers "message is not modified"), and
can be told to fail the next calls of a method (``fail_next``).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")

BOT_ID = 7000000001
BOT_USERNAME = "mttq_test_bot"

#: Parameters that are plain strings on the wire (everything else is JSON-encoded by PTB).
_STRING_FIELDS = {
    "text",
    "caption",
    "callback_query_id",
    "parse_mode",
    "url",
    "secret_token",
    "ip_address",
    "inline_message_id",
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class _Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None
    remaining: int


@dataclass
class FakeTelegram:
    token: str
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(100))
    runner: web.AppRunner | None = None
    port: int = 0
    #: Seconds each call takes (lets concurrent workers interleave).
    latency: float = 0.0
    #: Updates waiting for getUpdates (long polling).
    updates: list[dict[str, Any]] = field(default_factory=list)

    # -- control

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        description: str = "Internal Server Error",
        parameters: dict[str, Any] | None = None,
        times: int = 1,
    ) -> None:
        self._failures.setdefault(method, []).append(
            _Failure(status, description, parameters, times)
        )

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # -- server

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    # -- protocol

    @staticmethod
    def _plain(params: dict[str, Any]) -> str:
        """The text as Telegram stores it: HTML markup parsed away (entities are not modelled)."""
        text = str(params.get("text", ""))
        if str(params.get("parse_mode", "")).upper() == "HTML":
            text = html.unescape(re.sub(r"<[^>]+>", "", text))
        return text

    @staticmethod
    def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> Any:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data or {})
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            text = str(value)
            if key in _STRING_FIELDS:
                params[key] = text
                continue
            try:
                params[key] = json.loads(text)
            except ValueError:
                params[key] = text
        for key, value in request.query.items():
            params.setdefault(key, value)
        return params

    def _user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "MTTQ Bot", "username": BOT_USERNAME}

    @staticmethod
    def _chat(chat_id: int) -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": f"Nhóm {chat_id}"}
        return {"id": chat_id, "type": "private", "first_name": "Cán bộ"}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        self.calls.append(Call(method, params))
        failures = self._failures.get(method)
        if failures:
            failure = failures[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                failures.pop(0)
            return self._error(failure.status, failure.description, failure.parameters)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found")
        if method == "getUpdates":
            return await self._get_updates(params)
        result: web.StreamResponse = handler(params)
        return result

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook.get("url"):
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:  # long polling: hold the request a little while
            await asyncio.sleep(min(float(params.get("timeout") or 0), 0.05))
        return self._ok(list(self.updates))

    def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:  # pragma: no cover
        raise AssertionError("handled in _handle")

    def _m_getMe(self, params: dict[str, Any]) -> web.Response:
        user = self._user()
        user.update(
            can_join_groups=True, can_read_all_group_messages=False, supports_inline_queries=False
        )
        return self._ok(user)

    def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        if "chat_id" not in params or not params.get("text"):
            return self._error(400, "Bad Request: message text is empty")
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self._user(),
            "text": self._plain(params),
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        reply = params.get("reply_parameters")
        if isinstance(reply, dict) and (chat_id, reply.get("message_id")) in self.messages:
            message["reply_to_message"] = self.messages[(chat_id, reply["message_id"])]
        self.messages[(chat_id, message["message_id"])] = message
        return self._ok(message)

    def _edit(self, params: dict[str, Any], *, text: bool) -> web.Response:
        key = (int(params.get("chat_id", 0)), int(params.get("message_id", 0)))
        message = self.messages.get(key)
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        new = dict(message)
        if text:
            new["text"] = self._plain(params)
            new["edit_date"] = int(time.time())
        if params.get("reply_markup"):
            new["reply_markup"] = params["reply_markup"]
        else:
            new.pop("reply_markup", None)
        if new.get("text") == message.get("text") and new.get("reply_markup") == message.get(
            "reply_markup"
        ):
            return self._error(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        self.messages[key] = new
        return self._ok(new)

    def _m_editMessageText(self, params: dict[str, Any]) -> web.Response:
        return self._edit(params, text=True)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        return self._edit(params, text=False)

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        if not params.get("callback_query_id"):
            return self._error(400, "Bad Request: query is too old and response timeout expired")
        return self._ok(True)

    def _m_setWebhook(self, params: dict[str, Any]) -> web.Response:
        if not str(params.get("url", "")).startswith("https://"):
            return self._error(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        self.webhook = params
        return self._ok(True)

    def _m_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {}
        return self._ok(True)

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> web.Response:
        return self._ok(
            {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": 0,
            }
        )


# --------------------------------------------------------------------------- update builders

_update_ids = itertools.count(500000)
#: Ids of messages users send: far from the ids the fake gives the bot's own messages.
_user_message_ids = itertools.count(10_000_000)


def user(user_id: int, name: str = "Cán bộ", username: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": name}
    if username:
        data["username"] = username
    return data


def group(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "supergroup", "title": f"Nhóm {chat_id}"}


def message_update(
    chat_id: int,
    from_user: dict[str, Any],
    text: str,
    *,
    reply_to: dict[str, Any] | None = None,
    chat: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": next(_user_message_ids),
        "date": int(time.time()),
        "chat": chat or group(chat_id),
        "from": from_user,
        "text": text,
    }
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    return {"update_id": next(_update_ids), "message": message}


def callback_update(
    message: dict[str, Any], from_user: dict[str, Any], data: str
) -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": from_user,
            "message": message,
            "chat_instance": "-123456789",
            "data": data,
        },
    }


class FakeTelegramThread:
    """A :class:`FakeTelegram` on 127.0.0.1 served from a background thread with its own loop.

    For tests and benchmarks whose own code blocks (subprocesses, ``requests``) or runs another
    loop. Everything that touches the fake's state goes through :meth:`read` / :meth:`run`, i.e.
    runs on the fake's loop, so the caller never sees a half-updated list.
    """

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="fake-telegram", daemon=True
        )

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    def start(self) -> None:
        self.thread.start()
        self.run(self.fake.start())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def read(self, fn: Callable[[FakeTelegram], T]) -> T:
        async def call() -> T:
            return fn(self.fake)

        return self.run(call())

    def stop(self) -> None:
        try:
            if self.thread.is_alive():
                self.run(self.fake.stop())
        finally:
            if self.thread.is_alive():
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(timeout=10)
            if not self.loop.is_running():
                self.loop.close()
