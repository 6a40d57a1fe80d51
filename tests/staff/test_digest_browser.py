"""Issue 15's "done when", in a real headless Chromium (Debian's, through Playwright, as in
``test_console_browser.py``): an officer opens the digest, follows the rising topic into its
same-issue cluster, answers the cluster once, and every citizen in it receives the reply.

"Receives" is checked where the staff service's part ends: the outbox worker of the running app
delivers each reply to a fake of Rasa's HTTP API (``POST /conversations/<id>/trigger_intent``,
what ``bot.delivery.citizens`` calls), which records the calls; one call per citizen's
conversation, each with the reply's text, and each outbox row marked sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.engine import Engine
from staff_helpers import PASSWORD, World, outbox_rows, seed_staff, settings_for
from test_digest_export import seed_flooded_alley

from bot.db.models import OutboxStatus, StaffRole
from bot.web.app import create_app
from tests.browser_support import chromium, log_in

REPLY = "Phường đã cử đội thoát nước nạo vét cống ngõ 5 Láng Hạ trong sáng nay."


class FakeRasa:
    """Rasa's HTTP API as far as the citizen sender uses it: records every triggered intent."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        app = web.Application()
        app.router.add_post("/conversations/{cid}/trigger_intent", self._trigger)
        self.server = TestServer(app, host="127.0.0.1")

    async def _trigger(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append({"conversation": request.match_info["cid"], **body})
        return web.json_response({"tracker": {}, "messages": []})


@pytest.fixture
async def digest_world(
    db_url: str, tmp_path: Path, seeded_engine: Engine
) -> AsyncIterator[tuple[World, FakeRasa]]:
    rasa = FakeRasa()
    await rasa.server.start_server()
    settings = dataclasses.replace(
        settings_for(db_url, tmp_path), rasa_url=str(rasa.server.make_url("")).rstrip("/")
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    staff = {"lan": seed_staff(seeded_engine, "lan", "p_lang", StaffRole.OFFICER, "Nguyễn Thị Lan")}
    world = World(server=server, engine=seeded_engine, staff=staff, cases={})
    try:
        yield world, rasa
    finally:
        await server.close()
        await rasa.server.close()


@pytest.mark.slow
@pytest.mark.usefixtures("browser_ready")
async def test_officer_answers_a_rising_cluster_from_the_digest(
    digest_world: tuple[World, FakeRasa],
) -> None:
    from playwright.async_api import expect

    world, rasa = digest_world
    ids = seed_flooded_alley(world, 3)
    base = str(world.server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await browser.new_page(locale="vi-VN")
        await log_in(page, f"{base}/staff/digest", PASSWORD)
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Bản tin dư luận · phường Láng"
        )
        await expect(page.get_by_role("heading", name="Vấn đề tăng nhanh")).to_be_visible()
        await expect(page.locator("svg[role=img]").first).to_be_visible()

        # the rising topic, into its cluster
        topic = page.locator(".topic").first
        await expect(topic).to_contain_text("Ngập")
        await topic.get_by_role("link", name="Xem nhóm 3 hồ sơ cùng phản ánh").click()
        await expect(page).to_have_url(f"{base}/staff/cases/{ids[0]}")
        await expect(page.locator("#cluster")).to_contain_text("+2 người cùng phản ánh")

        # one answer for the whole cluster
        await page.get_by_label("Trả lời người dân").fill(REPLY)
        await page.get_by_label("Gửi cho cả 3 hồ sơ cùng phản ánh").check()
        await page.get_by_role("button", name="Gửi trả lời").click()
        await expect(page.get_by_role("status")).to_contain_text("hàng gửi cho người dân")

    conversations = {f"conv-psid-flood-{i}" for i in range(3)}
    for _ in range(150):  # the outbox worker polls every 2 s
        got = {
            c["conversation"]
            for c in rasa.calls
            if c.get("entities", {}).get("reply_text") == REPLY
        }
        if got >= conversations:
            break
        await asyncio.sleep(0.1)
    replies = [c for c in rasa.calls if c["name"] == "EXTERNAL_staff_reply"]
    assert sorted(c["conversation"] for c in replies) == sorted(conversations)
    assert all(c["entities"]["reply_text"] == REPLY for c in replies)
    for case_id in ids:
        [row] = outbox_rows(world.engine, case_id, "citizen_reply")
        assert row.payload["text"] == REPLY
        assert OutboxStatus(row.status) == OutboxStatus.SENT
