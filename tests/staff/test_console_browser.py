"""The console in a real headless Chromium (Debian's ``chromium`` package, driven by Playwright):
log in, find a case in the queue, change its status, reply to the citizen.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (``CHROMIUM_PATH``
overrides) through ``executable_path``. Without Playwright or Chromium the test is skipped on a
developer machine and fails in CI (``CI`` set), so CI cannot pass by silently not testing.
"""

from __future__ import annotations

import pytest
from staff_helpers import PASSWORD, World, outbox_rows, seed_case

from bot.db.engine import session_scope
from bot.db.models import Case, CaseStatus
from tests.browser_support import chromium, log_in


@pytest.mark.slow
async def test_login_queue_status_change_and_reply(browser_ready: None, world: World) -> None:
    from playwright.async_api import expect

    case_id, ref = world.cases["lang"]
    script_id, _ = seed_case(
        world.engine, content="<script>alert(1)</script> Nước ngập ngõ 8", channel_user_id="p9"
    )
    base = str(world.server.make_url("")).rstrip("/")
    dialogs: list[str] = []

    async with chromium() as browser:
        page = await browser.new_page(locale="vi-VN")
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))

        # Login (the queue redirects there first).
        await page.goto(f"{base}/staff/cases")
        await expect(page.get_by_role("heading", name="Đăng nhập cổng cán bộ")).to_be_visible()
        await page.get_by_label("Tên đăng nhập").fill("lan")
        await page.get_by_label("Mật khẩu").fill("sai-mat-khau-roi")
        await page.get_by_role("button", name="Đăng nhập").click()
        await expect(page.get_by_role("alert")).to_contain_text("không đúng")
        await page.get_by_label("Mật khẩu").fill(PASSWORD)
        await page.get_by_role("button", name="Đăng nhập").click()
        await expect(page).to_have_url(f"{base}/staff/cases")

        # The queue: own unit's cases only, citizen text inert.
        await expect(page.get_by_role("link", name=ref)).to_be_visible()
        await expect(page.get_by_text(world.cases["cau_giay"][1])).to_have_count(0)
        await expect(
            page.get_by_text("<script>alert(1)</script> Nước ngập ngõ 8")
        ).to_be_visible()
        await page.goto(f"{base}/staff/cases/{script_id}")
        await expect(page.locator("#citizen-content")).to_have_text(
            "<script>alert(1)</script> Nước ngập ngõ 8"
        )
        await page.goto(f"{base}/staff/cases")
        await page.get_by_role("link", name=ref).click()
        await expect(page).to_have_url(f"{base}/staff/cases/{case_id}")

        # Status change: "rejected" without a reason is refused, "in progress" goes through.
        await page.locator("#status").select_option("rejected")
        await page.get_by_role("button", name="Cập nhật trạng thái").click()
        await expect(page.get_by_role("alert")).to_contain_text("cần ghi rõ lý do")
        await page.locator("#status").select_option("in_progress")
        await page.get_by_role("button", name="Cập nhật trạng thái").click()
        await expect(page.get_by_role("status")).to_contain_text("Đã cập nhật trạng thái")
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Đang xử lý")

        # Reply: queued for the citizen and shown with its delivery state.
        await page.get_by_label("Trả lời người dân").fill("Cán bộ phường đã xuống kiểm tra.")
        await page.get_by_role("button", name="Gửi trả lời").click()
        await expect(page.get_by_role("status")).to_contain_text("hàng gửi cho người dân")
        await expect(page.get_by_text("Cán bộ phường đã xuống kiểm tra.")).to_be_visible()
        await expect(page.get_by_text("Đang chờ gửi").first).to_be_visible()

        # Logout.
        await page.get_by_role("button", name="Đăng xuất").click()
        await expect(page.get_by_role("heading", name="Đăng nhập cổng cán bộ")).to_be_visible()

    assert dialogs == []  # no script ever ran
    with session_scope(world.engine) as session:
        assert session.get(Case, case_id).status == CaseStatus.IN_PROGRESS
    [reply] = outbox_rows(world.engine, case_id, "citizen_reply")
    assert reply.payload["text"] == "Cán bộ phường đã xuống kiểm tra."
    statuses = [r.payload["status"] for r in outbox_rows(world.engine, case_id, "citizen_status")]
    assert statuses == ["in_progress"]


@pytest.mark.slow
async def test_an_officer_restores_a_quarantined_message_and_the_citizen_gets_the_code(
        browser_ready: None, world: World) -> None:
    """Issue 12: a mistaken stop is visible and reversible in one click."""
    from playwright.async_api import expect
    from sqlalchemy import select

    from bot.cases.inbound import quarantine

    complaint = "dm cai cong ngo 7 tac ca tuan roi, nuoc ban tran vao nha, ai xu ly di"
    with session_scope(world.engine) as session:
        quarantine(session, channel="zalo", channel_user_id="zalo-user-77", text=complaint,
                   reason="Ngôn từ xúc phạm", category="abuse")
    base = str(world.server.make_url("")).rstrip("/")
    async with chromium() as browser:
        page = await browser.new_page(locale="vi-VN")
        await log_in(page, f"{base}/staff/quarantine", PASSWORD)
        row = page.locator("tr", has_text=complaint)
        await expect(row).to_be_visible()
        await row.get_by_role("button", name="Khôi phục thành hồ sơ").click()
        await expect(page.get_by_role("status")).to_contain_text("Đã khôi phục thành hồ sơ KN-")
        await expect(page.get_by_text(complaint)).to_have_count(0)
    with session_scope(world.engine) as session:
        case = session.execute(select(Case).where(
            Case.channel_user_id == "zalo-user-77")).scalar_one()
        case_id, ref = case.id, case.ref_code
    [told] = outbox_rows(world.engine, case_id, "citizen_reply")
    assert ref in told.payload["text"] and told.payload["channel"] == "zalo"
