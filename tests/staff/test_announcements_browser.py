"""Announcements in a real headless Chromium (as ``test_console_browser.py``: Debian's chromium
driven by Playwright, skipped without it locally, failing in CI): one unit_admin composes and
previews, a second one approves, the worker's scan and a delivery pass run against the fake
Graph API, and the report shows on the page."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from staff_helpers import PASSWORD, World, seed_staff

from bot.announcements import delivery
from bot.announcements.rules import load_rules
from bot.db.engine import session_scope
from bot.db.models import ChannelUser, OutboxKind, StaffRole, Subscription
from bot.db.types import utcnow
from bot.fakes.platforms import FakeGraph
from bot.notify.announcements import AnnouncementSender
from bot.notify.outbox import deliver_pass, session_factory
from bot.settings import FacebookConfig, ZaloConfig
from tests.browser_support import chromium, sign_in


async def _login(page, base: str, login: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(f"{base}/staff/login")
    await sign_in(page, login, PASSWORD)


@pytest.fixture
def world_role() -> str:
    """The console without its background workers: this test runs the announcement worker's
    steps itself, against the fake Graph API. With them, the service's own worker (which knows
    no fake Graph API) sometimes claimed a recipient first under load, and the announcement
    stayed "Đang gửi" (CI, stop 35)."""
    return "staff"


@pytest.mark.slow
async def test_compose_preview_approve_and_report(browser_ready: None, world: World) -> None:
    from playwright.async_api import expect

    seed_staff(world.engine, "binh", "p_lang", StaffRole.UNIT_ADMIN, "Đỗ Văn Bình")
    now = utcnow()
    with session_scope(world.engine) as session:
        for sender, hours in (("psid-new", 2), ("psid-old", 48)):
            session.add(
                Subscription(
                    channel="facebook",
                    sender_id=sender,
                    unit_code="p_lang",
                    topics=["cuu_tro"],
                    consented_at=now,
                )
            )
            session.add(
                ChannelUser(
                    channel="facebook", user_id=sender, last_inbound_at=now - timedelta(hours=hours)
                )
            )
    base = str(world.server.make_url("")).rstrip("/")
    graph = FakeGraph()
    await graph.start()
    try:
        async with chromium() as browser:
            author = await browser.new_page(locale="vi-VN")
            await _login(author, base, "hoa")
            await author.get_by_role("link", name="Thông báo").click()
            await author.get_by_role("link", name="Soạn thông báo mới").click()
            await author.locator("#topic").select_option("cuu_tro")
            await author.get_by_label("Nội dung").fill(
                "Phường Láng tiếp nhận hàng cứu trợ đồng bào vùng lũ tại nhà văn hoá."
            )
            await author.get_by_label("Liên kết (không bắt buộc)").fill(
                "https://mttq.example.vn/cuu-tro"
            )
            await author.get_by_role("button", name="Xem trước").click()
            fb = author.locator("#preview-facebook")
            await expect(fb).to_contain_text("https://mttq.example.vn/cuu-tro")
            await expect(fb).to_contain_text("hủy nhận tin")
            await expect(author.locator("#preview-zalo")).to_contain_text("tiếp nhận hàng cứu trợ")
            await expect(author.locator("#preview-web")).to_contain_text("không có kênh đẩy tin")
            await author.get_by_role("button", name="Gửi duyệt").click()
            await expect(author.get_by_role("status")).to_contain_text("quản trị viên khác")
            await expect(author.get_by_role("button", name="Duyệt và gửi")).to_have_count(0)
            url = author.url.split("?")[0]

            approver = await browser.new_page(locale="vi-VN")
            await _login(approver, base, "binh")
            await approver.goto(url)
            await approver.get_by_role("button", name="Duyệt và gửi").click()
            await expect(approver.get_by_role("status")).to_contain_text("Đã duyệt")

            # The worker: choose recipients, deliver through the fake Graph API, close it.
            with session_scope(world.engine) as session:
                delivery.start_due(session, now=utcnow())
            async with aiohttp.ClientSession() as http:
                sender = AnnouncementSender(
                    world.engine,
                    http,
                    rules=load_rules(),
                    tz=ZoneInfo("Asia/Ho_Chi_Minh"),
                    facebook=FacebookConfig(
                        page_access_token=graph.page_token, graph_base=graph.url
                    ),
                    zalo=ZaloConfig(),
                )
                await deliver_pass(session_factory(world.engine), {OutboxKind.ANNOUNCEMENT: sender})
            with session_scope(world.engine) as session:
                delivery.finish_done(session, now=utcnow())

            await approver.reload()
            await expect(approver.get_by_role("heading", level=1)).to_contain_text("Đã gửi xong")
            report = approver.locator("table.report")
            await expect(report.locator("tr", has_text="Đã gửi")).to_contain_text("1")
            await expect(
                report.locator("tr", has_text="Nền tảng không cho phép gửi")
            ).to_contain_text("1")
            await expect(approver.locator("#history")).to_contain_text("Đỗ Văn Bình")
            await expect(approver.get_by_role("link", name="Tải báo cáo (CSV)")).to_be_visible()
    finally:
        await graph.stop()
    assert [b["recipient"]["id"] for b in graph.to_all()] == ["psid-new"]
