"""Issue 18, items 6 and 7, on the chat page's endpoints (real aiohttp app, fake Rasa on
127.0.0.1): a frozen Rasa gets the designed apology, not a 5xx; JSON nested a thousand deep is
a 400, not a 500; the page and its API cannot be framed."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.knowledge.replies import reply_text
from bot.settings import Settings
from bot.web import chat
from bot.web.app import create_app


@pytest.fixture
async def frozen_rasa() -> AsyncIterator[str]:
    """A Rasa that accepts the request and never answers."""
    release = asyncio.Event()

    async def webhook(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response([])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    release.set()
    await server.close()


async def client_for(rasa_url: str) -> TestClient:
    client = TestClient(TestServer(create_app(dataclasses.replace(Settings(), rasa_url=rasa_url)),
                                   host="127.0.0.1"))
    await client.start_server()
    return client


async def test_a_frozen_rasa_gets_the_designed_message(frozen_rasa: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat, "RASA_TIMEOUT_SECONDS", 0.3)  # the 30 s of production, shortened
    client = await client_for(frozen_rasa)
    try:
        answer = await client.post("/chat/api/message",
                                   json={"sender": str(uuid.uuid4()), "message": "Gửi"})
        assert answer.status == 502
        assert await answer.json() == [{"text": reply_text("chat_unavailable")}]
    finally:
        await client.close()


@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_deeply_nested_json_is_a_bad_request(depth: int) -> None:
    client = await client_for("http://127.0.0.1:9")
    try:
        body = ("[" * depth + "]" * depth).encode()
        answer = await client.post("/chat/api/message", data=body,
                                   headers={"Content-Type": "application/json"})
        assert answer.status == 400
        assert "không hợp lệ" in (await answer.json())["error"]
    finally:
        await client.close()


@pytest.mark.parametrize("path", ["/chat", "/chat/api/updates?sender=x"])
async def test_the_chat_cannot_be_framed(path: str) -> None:
    client = await client_for("http://127.0.0.1:9")
    try:
        answer = await client.get(path)
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        await client.close()
