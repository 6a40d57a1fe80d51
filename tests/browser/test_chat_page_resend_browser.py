"""The chat page's own JavaScript in a real headless Chromium (as ``test_forwarding_browser.py``):
every message carries a client message id, and a message whose request fails on the way (here:
Rasa answers 503 once, the chat service turns that into a 502) is sent once more with the same id,
so the citizen sees the reply and not the apology (issue 14).

Without Playwright or Chromium the test is skipped on a developer machine and fails in CI.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.knowledge.replies import reply_text
from bot.settings import Settings
from bot.web.app import create_app
from tests.browser_support import browser_ready, chromium

__all__ = ["browser_ready"]  # the fixture, imported to be used here


class FlakyRasa:
    """Rasa's REST webhook that fails the first attempt of every message id with 503."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_get("/conversations/{conversation}/tracker", self._tracker)
        return app

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        if sum(1 for b in self.bodies if b.get("message_id") == body.get("message_id")) == 1:
            return web.json_response({"error": "turn failed"}, status=503)
        return web.json_response([{"recipient_id": body["sender"],
                                   "text": f"Đã nhận: {body['message']}"}])

    async def _tracker(self, request: web.Request) -> web.Response:
        return web.json_response({"events": []})


@pytest.fixture
async def chat_url() -> AsyncIterator[tuple[str, FlakyRasa]]:
    rasa = FlakyRasa()
    rasa_server = TestServer(rasa.app(), host="127.0.0.1")
    await rasa_server.start_server()
    rasa.url = str(rasa_server.make_url("")).rstrip("/")
    settings = dataclasses.replace(Settings(), rasa_url=rasa.url)
    web_server = TestServer(create_app(settings), host="127.0.0.1")
    await web_server.start_server()
    try:
        yield str(web_server.make_url("/chat")), rasa
    finally:
        await web_server.close()
        await rasa_server.close()


@pytest.mark.slow
async def test_the_chat_page_sends_an_id_and_resends_with_it_once(
    browser_ready: None, chat_url: tuple[str, FlakyRasa]
) -> None:
    from playwright.async_api import expect

    url, rasa = chat_url
    async with chromium() as browser:
        page = await browser.new_page(locale="vi-VN")
        await page.goto(url)
        await expect(page.locator(".msg.bot").filter(has_text="Đã nhận: /greet")).to_have_count(1)
        await page.locator("#input").fill("hỏi về bảo hiểm y tế")
        await page.locator("#send").click()
        await expect(
            page.locator(".msg.bot").filter(has_text="Đã nhận: hỏi về bảo hiểm y tế")
        ).to_have_count(1)
        shown = await page.locator(".msg.bot").all_inner_texts()

    assert [b["message"] for b in rasa.bodies] == ["/greet", "/greet", "hỏi về bảo hiểm y tế",
                                                   "hỏi về bảo hiểm y tế"]
    ids = [b.get("message_id") for b in rasa.bodies]
    assert all(isinstance(i, str) and re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", i) for i in ids)
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    assert not any(reply_text("chat_unavailable") in text for text in shown)
