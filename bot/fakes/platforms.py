"""Local fakes of the Facebook Graph Send API and the Zalo OA API (aiohttp on 127.0.0.1).

They speak the documented formats:

* Graph: ``POST /<version>/me/messages?access_token=…`` with a JSON body; answers
  ``{"recipient_id", "message_id"}`` or ``{"error": {"message", "type", "code", "error_subcode",
  "fbtrace_id"}}`` with HTTP 400 (e.g. code 10 / subcode 2018278 "outside of allowed window").
* Zalo: ``POST /v3.0/oa/message/cs`` with header ``access_token`` and a JSON body; answers HTTP
  200 with ``{"error": 0, "message": "Success", "data": {"message_id", "user_id"}}`` or
  ``{"error": <negative code>, "message": …}`` (-216: invalid access token). OAuth:
  ``POST /v4/oa/access_token`` (form ``app_id``, ``grant_type=refresh_token``, ``refresh_token``;
  header ``secret_key``) answers ``{"access_token", "refresh_token", "expires_in": "90000"}`` and
  rotates the pair (a refresh token works once) or ``{"error": -14014, "error_name": …}``.

Everything received is kept (``sent``, ``refreshes``) so tests assert on what left the assistant;
each call's arrival time is kept too, so :func:`max_per_second` says the most requests the fake
received in any one second (the announcement bench checks the configured rate against it). Users in
``blocked`` get the documented "blocked" answer: Graph error 551 / subcode 1545041 ("This person
isn't available right now"), Zalo -213 (not a follower of the OA).
:class:`ThreadedFakes` runs both in a thread of their own for tests that drive a real Rasa server
from synchronous code, and for ``bench/webhook_ack.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

WINDOW_ERROR_FB = {
    "message": "(#10) This message is sent outside of allowed window.",
    "type": "OAuthException",
    "code": 10,
    "error_subcode": 2018278,
    "fbtrace_id": "Fake",
}


BLOCKED_ERROR_FB = {
    "message": "(#551) This person isn't available right now.",
    "type": "OAuthException",
    "code": 551,
    "error_subcode": 1545041,
    "fbtrace_id": "Fake",
}
BLOCKED_CODE_ZALO = -213


def max_per_second(calls: list[dict[str, Any]]) -> int:
    """The most calls that arrived within one calendar second."""
    counts: dict[int, int] = {}
    for call in calls:
        second = int(call["at"])
        counts[second] = counts.get(second, 0) + 1
    return max(counts.values(), default=0)


@dataclass
class _Server:
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self, app: web.Application) -> str:
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self.port = int(sockets[0].getsockname()[1])
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@dataclass
class FakeGraph:
    page_token: str = "PAGE-TOKEN"
    #: Every accepted or refused Send API call: {"query": {...}, "body": {...}}.
    sent: list[dict[str, Any]] = field(default_factory=list)
    #: PSIDs whose messages are refused as outside the window.
    window_closed: set[str] = field(default_factory=set)
    #: (HTTP status, error object) answers for the next calls, in order.
    fail_next: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: PSIDs who blocked the page: error 551.
    blocked: set[str] = field(default_factory=set)
    url: str = ""
    _server: _Server = field(default_factory=_Server)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{version}/me/messages", self._messages)
        return app

    async def _messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        call = {"query": dict(request.query), "body": body, "at": time.time()}
        self.sent.append(call)
        if request.query.get("access_token") != self.page_token:
            return web.json_response({"error": {"message": "Invalid OAuth access token.",
                                                "type": "OAuthException", "code": 190}},
                                     status=400)
        if self.fail_next:
            status, error = self.fail_next.pop(0)
            call["refused"] = error
            return web.json_response({"error": error}, status=status)
        recipient = str(body.get("recipient", {}).get("id"))
        if recipient in self.blocked:
            call["refused"] = BLOCKED_ERROR_FB
            return web.json_response({"error": BLOCKED_ERROR_FB}, status=400)
        if recipient in self.window_closed:
            call["refused"] = WINDOW_ERROR_FB
            return web.json_response({"error": WINDOW_ERROR_FB}, status=400)
        return web.json_response({"recipient_id": recipient,
                                  "message_id": f"m_fake_{next(self._ids)}"})

    async def start(self) -> str:
        self.url = await self._server.start(self.app())
        return self.url

    async def stop(self) -> None:
        await self._server.stop()

    def to_all(self) -> list[dict[str, Any]]:
        """Every body delivered (not refused)."""
        return [c["body"] for c in list(self.sent) if "refused" not in c]

    def to(self, psid: str) -> list[dict[str, Any]]:
        """Bodies delivered (not refused) to ``psid``."""
        return [c["body"] for c in list(self.sent)
                if c["body"].get("recipient", {}).get("id") == psid and "refused" not in c]


@dataclass
class FakeZalo:
    app_id: str = "1234567890"
    app_secret: str = "ZALO-APP-SECRET"
    access_token: str = "ZALO-ACCESS-1"
    refresh_token: str = "ZALO-REFRESH-1"
    #: Every call to message/cs: {"token": …, "body": {...}, "answer": {...}}.
    sent: list[dict[str, Any]] = field(default_factory=list)
    #: Every refresh request: {"form": {...}, "secret_key": …, "answer": {...}}.
    refreshes: list[dict[str, Any]] = field(default_factory=list)
    #: user id → error code answered for messages to them (e.g. -213).
    window_closed: dict[str, int] = field(default_factory=dict)
    #: Error codes answered to the next calls, in order.
    fail_next: list[int] = field(default_factory=list)
    #: Users who are not (or no longer) followers: error -213.
    blocked: set[str] = field(default_factory=set)
    url: str = ""
    _server: _Server = field(default_factory=_Server)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._message)
        app.router.add_post("/v4/oa/access_token", self._refresh)
        return app

    async def _message(self, request: web.Request) -> web.Response:
        body = await request.json()
        token = request.headers.get("access_token", "")
        call: dict[str, Any] = {"token": token, "body": body, "at": time.time()}
        self.sent.append(call)
        user = str(body.get("recipient", {}).get("user_id"))
        if token != self.access_token:
            answer: dict[str, Any] = {"error": -216, "message": "Access token is invalid"}
        elif self.fail_next:
            answer = {"error": self.fail_next.pop(0), "message": "fake failure"}
        elif user in self.blocked:
            answer = {"error": BLOCKED_CODE_ZALO, "message": "User has not followed the OA"}
        elif user in self.window_closed:
            answer = {"error": self.window_closed[user],
                      "message": "User has not interacted with the OA in the allowed time"}
        else:
            answer = {"error": 0, "message": "Success",
                      "data": {"message_id": f"z_fake_{next(self._ids)}", "user_id": user}}
        call["answer"] = answer
        return web.json_response(answer)

    async def _refresh(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        secret = request.headers.get("secret_key", "")
        ok = (secret == self.app_secret and form.get("app_id") == self.app_id
              and form.get("grant_type") == "refresh_token"
              and form.get("refresh_token") == self.refresh_token)
        if ok:
            n = len(self.refreshes) + 2
            self.access_token, self.refresh_token = f"ZALO-ACCESS-{n}", f"ZALO-REFRESH-{n}"
            answer: dict[str, Any] = {"access_token": self.access_token,
                                      "refresh_token": self.refresh_token, "expires_in": "90000"}
        else:
            answer = {"error": -14014, "error_name": "Invalid refresh token",
                      "error_description": "refresh token is invalid or used"}
        self.refreshes.append({"form": form, "secret_key": secret, "answer": answer})
        return web.json_response(answer)

    async def start(self) -> str:
        self.url = await self._server.start(self.app())
        return self.url

    async def stop(self) -> None:
        await self._server.stop()

    def to(self, user_id: str) -> list[dict[str, Any]]:
        """Bodies delivered (answered error 0) to ``user_id``."""
        return [c["body"] for c in list(self.sent)
                if c["body"].get("recipient", {}).get("user_id") == user_id
                and c.get("answer", {}).get("error") == 0]


class ThreadedFakes:
    """:class:`FakeGraph` and :class:`FakeZalo` served from a thread with its own event loop."""

    def __init__(self, graph: FakeGraph | None = None, zalo: FakeZalo | None = None) -> None:
        self.graph = graph or FakeGraph()
        self.zalo = zalo or FakeZalo()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="fake-platforms")

    def start(self) -> ThreadedFakes:
        self._thread.start()
        self.call(self.graph.start)
        self.call(self.zalo.start)
        return self

    def call(self, coroutine: Callable[[], Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine(), self._loop).result(timeout=30)

    def stop(self) -> None:
        self.call(self.graph.stop)
        self.call(self.zalo.stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def _calls(fakes: ThreadedFakes) -> dict[str, Any]:
    """Every call by platform: (user, arrival time, accepted, refusal code), and the busiest
    second."""
    graph = list(fakes.graph.sent)
    zalo = list(fakes.zalo.sent)
    return {
        "facebook": {
            "max_per_second": max_per_second(graph),
            "calls": [(str(c["body"].get("recipient", {}).get("id")), c["at"], "refused" not in c,
                       (c.get("refused") or {}).get("code")) for c in graph],
        },
        "zalo": {
            "max_per_second": max_per_second(zalo),
            "calls": [(str(c["body"].get("recipient", {}).get("user_id")), c["at"],
                       c.get("answer", {}).get("error") == 0, c.get("answer", {}).get("error"))
                      for c in zalo],
        },
    }


def _serve(connection: Any, graph_kwargs: dict[str, Any], zalo_kwargs: dict[str, Any]) -> None:
    fakes = ThreadedFakes(FakeGraph(**graph_kwargs), FakeZalo(**zalo_kwargs)).start()
    connection.send({"graph": fakes.graph.url, "zalo": fakes.zalo.url,
                     "zalo_access_token": fakes.zalo.access_token,
                     "zalo_refresh_token": fakes.zalo.refresh_token})
    while True:
        request = connection.recv()
        if request == "delivered":
            counts: dict[str, dict[str, int]] = {"facebook": {}, "zalo": {}}
            for body in fakes.graph.to_all():
                psid = str(body.get("recipient", {}).get("id"))
                counts["facebook"][psid] = counts["facebook"].get(psid, 0) + 1
            for call in list(fakes.zalo.sent):
                if call.get("answer", {}).get("error") == 0:
                    user = str(call["body"].get("recipient", {}).get("user_id"))
                    counts["zalo"][user] = counts["zalo"].get(user, 0) + 1
            connection.send(counts)
        elif request == "calls":
            connection.send(_calls(fakes))
        else:
            fakes.stop()
            connection.send("stopped")
            return


class FakesProcess:
    """The fakes in a child process, so that a benchmark's HTTP client does not share a GIL with
    servers busy receiving the assistant's replies. ``delivered()`` counts replies per recipient."""

    def __init__(self, graph: dict[str, Any] | None = None,
                 zalo: dict[str, Any] | None = None) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, graph or {}, zalo or {}),
                                        daemon=True, name="fake-platforms")
        self.urls: dict[str, str] = {}

    def start(self) -> FakesProcess:
        self._process.start()
        self.urls = self._connection.recv()
        return self

    def delivered(self) -> dict[str, dict[str, int]]:
        self._connection.send("delivered")
        return dict(self._connection.recv())

    def calls(self) -> dict[str, Any]:
        """Every call the fakes received, by platform (see ``_calls``)."""
        self._connection.send("calls")
        return dict(self._connection.recv())

    def stop(self) -> None:
        if self._process.is_alive():
            self._connection.send("stop")
            self._connection.recv()
            self._process.join(timeout=10)
