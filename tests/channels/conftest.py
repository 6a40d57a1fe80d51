"""Fixtures of the channel tests: recorded-format payloads, a feedback DB for the channels, local
fake platform APIs, and the channels served in-process by Sanic (Rasa's web server) with a fake
assistant in place of Rasa's agent."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from sqlalchemy.engine import Engine

from bot.fakes.platforms import FakeGraph, FakeZalo
from tools.procs import free_port

DATA = Path(__file__).resolve().parents[1] / "data" / "channels"

FB_SECRET = "fb-app-secret-for-tests"
FB_VERIFY = "verify-me-please"
FB_PAGE_TOKEN = "PAGE-TOKEN"
ZALO_APP_ID = "1234567890"
ZALO_OA_SECRET = "zalo-oa-secret-for-tests"
ZALO_APP_SECRET = "ZALO-APP-SECRET"


def payload(name: str) -> Any:
    """A recorded-format payload from ``tests/data/channels`` (a fresh copy each time)."""
    return copy.deepcopy(json.loads((DATA / f"{name}.json").read_text(encoding="utf-8")))


@pytest.fixture
def channel_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh SQLite feedback DB that the channels' ``get_engine()`` opens (migrated)."""
    from bot.db.runtime import dispose_all, get_engine
    from bot.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'feedback.db'}")
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        yield get_engine()
    finally:
        dispose_all()
        get_settings.cache_clear()


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph(page_token=FB_PAGE_TOKEN)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def zalo_api() -> AsyncIterator[FakeZalo]:
    fake = FakeZalo(app_id=ZALO_APP_ID, app_secret=ZALO_APP_SECRET)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def platform_env(monkeypatch: pytest.MonkeyPatch, graph: FakeGraph,
                 zalo_api: FakeZalo) -> dict[str, str]:
    """Both channels configured against the local fakes."""
    env = {
        "FACEBOOK_VERIFY_TOKEN": FB_VERIFY,
        "FACEBOOK_APP_SECRET": FB_SECRET,
        "FACEBOOK_PAGE_ACCESS_TOKEN": FB_PAGE_TOKEN,
        "FACEBOOK_GRAPH_BASE": graph.url,
        "ZALO_APP_ID": ZALO_APP_ID,
        "ZALO_OA_SECRET_KEY": ZALO_OA_SECRET,
        "ZALO_ACCESS_TOKEN": zalo_api.access_token,
        "ZALO_REFRESH_TOKEN": zalo_api.refresh_token,
        "ZALO_APP_SECRET": ZALO_APP_SECRET,
        "ZALO_API_BASE": zalo_api.url,
        "ZALO_OAUTH_BASE": zalo_api.url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


Reply = Callable[[UserMessage], list[dict[str, Any]]]

GREETING_BUTTONS = [
    {"title": "Hỏi về chương trình", "payload": "/ask_programme"},
    {"title": "Gửi phản ánh, kiến nghị", "payload": "/submit_petition"},
    {"title": "Gặp cán bộ", "payload": "/request_human"},
]


def echo(message: UserMessage) -> list[dict[str, Any]]:
    """The fake assistant's default: offers choices for "xin chao", echoes anything else."""
    if (message.text or "").lower() in ("xin chao", "xin chào", "/greet"):
        return [{"text": "Xin chào! Bạn cần hỗ trợ gì ạ?", "buttons": GREETING_BUTTONS}]
    return [{"text": f"Bạn đã gửi: {message.text}"}]


@dataclass
class FakeAssistant:
    """Stands in for Rasa's agent: records every UserMessage, waits ``delay`` seconds (the NLU and
    the actions), then answers through the message's output channel."""

    reply: Reply = echo
    delay: float = 0.0
    messages: list[UserMessage] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    #: Senders being handled right now, and a snapshot of them each time a message starts: tests
    #: read concurrency from these instead of from wall-clock durations, which vary with load.
    active: list[str] = field(default_factory=list)
    #: When set, every message waits for this event before it is answered.
    gate: asyncio.Event | None = None
    overlaps: list[tuple[str, ...]] = field(default_factory=list)

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        self.active.append(message.sender_id)
        self.overlaps.append(tuple(self.active))
        try:
            await self._answer(message)
        finally:
            self.active.remove(message.sender_id)

    async def _answer(self, message: UserMessage) -> None:
        if self.gate is not None:  # held until the test opens it: "slower than anything"
            await self.gate.wait()
        await asyncio.sleep(self.delay)
        try:
            for response in self.reply(message):
                await message.output_channel.send_response(message.sender_id, dict(response))
        except Exception as error:  # recorded for the test, then raised like Rasa would
            self.errors.append(error)
            raise
        finally:
            self.finished.append(message.message_id)

    def texts(self, sender: str | None = None) -> list[str]:
        return [m.text or "" for m in self.messages if sender is None or m.sender_id == sender]

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.finished) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(self.finished)} of {count} messages processed")
            await asyncio.sleep(0.01)


@dataclass
class ChannelServer:
    """Our channels' blueprints in a real Sanic server on 127.0.0.1 (no Rasa agent)."""

    channels: list[Any]
    assistant: FakeAssistant
    url: str = ""
    _server: Any = None

    async def start(self) -> ChannelServer:
        Sanic.test_mode = True
        app = Sanic(f"channels_{id(self)}")
        for channel in self.channels:
            app.blueprint(channel.blueprint(self.assistant),
                          url_prefix=f"/webhooks/{channel.name()}")
        port = free_port()
        self._server = await app.create_server(host="127.0.0.1", port=port,
                                               return_asyncio_server=True)
        await self._server.startup()
        await self._server.after_start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.before_stop()
            self._server.close()
            await self._server.wait_closed()
            await self._server.after_stop()
