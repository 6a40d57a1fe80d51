"""Issue 17 item 3 in a real headless Chromium (Debian's ``chromium``, driven by Playwright, as
``tests/staff/test_console_browser.py``): an officer forwards a khiếu nại to the competent body,
records the body's answer, and the citizen receives it in their conversation — the app's own
outbox worker delivers it through the real Rasa sender to a fake Rasa server, whose relay runs
the real action the conversation would run.

Without Playwright or Chromium the test is skipped on a developer machine and fails in CI.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from staff_helpers import PASSWORD, World, outbox_rows

from bot.db.engine import session_scope
from bot.db.models import Case, CaseForwarding, OutboxKind
from tests.browser.conftest import FakeRasa
from tests.browser_support import chromium, log_in

ANSWER = "Ủy ban phường đã thụ lý và ra quyết định giải quyết khiếu nại số 45/QĐ-UBND."


@pytest.mark.slow
async def test_forwarding_the_bodys_answer_and_the_citizen_receiving_it(
    browser_ready: None, world: World, fake_rasa: FakeRasa
) -> None:
    from playwright.async_api import expect

    case_id, ref = world.cases["lang"]
    with session_scope(world.engine) as session:
        session.get(Case, case_id).legal_type = "khieu_nai"
    today = datetime.now(timezone.utc).astimezone(timezone(timedelta(hours=7))).date()
    base = str(world.server.make_url("")).rstrip("/")

    async with chromium() as browser:
        page = await browser.new_page(locale="vi-VN")
        await log_in(page, f"{base}/staff/cases/{case_id}", PASSWORD)
        await expect(page.locator("#legal-step")).to_contain_text(
            "Chuyển cơ quan có thẩm quyền"
        )

        # Forward: which body, how, under which reference (the day defaults to today).
        await page.get_by_label("Cơ quan nhận").fill("UBND phường Láng")
        await page.get_by_label("Cách chuyển").select_option("portal")
        await page.get_by_label("Số công văn / mã tiếp nhận").fill("DVC-2026-000123")
        await page.get_by_role("button", name="Ghi nhận chuyển hồ sơ").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Đã ghi nhận việc chuyển hồ sơ"
        )
        forwarding = page.locator("#forwardings li")
        await expect(forwarding).to_contain_text("UBND phường Láng")
        await expect(forwarding).to_contain_text("DVC-2026-000123")
        await expect(page.locator("#legal-step")).to_contain_text(
            "Chờ UBND phường Láng trả lời"
        )

        # The body's answer: recorded, shown on the page and queued for the citizen.
        with session_scope(world.engine) as session:
            row = session.execute(
                select(CaseForwarding).where(CaseForwarding.case_id == case_id)
            ).scalar_one()
            forwarding_id, due = row.id, row.answer_due_on
        await page.get_by_label("Nội dung cơ quan trả lời").fill(ANSWER)
        await page.get_by_label("Số văn bản trả lời").fill("45/QĐ-UBND")
        await page.get_by_role("button", name="Ghi nhận trả lời của cơ quan").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Đã ghi nhận trả lời của cơ quan"
        )
        await expect(page.locator(".body-answer")).to_contain_text("45/QĐ-UBND")
        await expect(page.get_by_text(ANSWER).first).to_be_visible()

    # khiếu nại: Điều 27 (10 days to accept) then Điều 28 (30 days to decide) from today.
    assert due is not None and due >= today + timedelta(days=40)
    assert forwarding_id > 0
    replies = outbox_rows(world.engine, case_id, OutboxKind.CITIZEN_REPLY)
    assert len(replies) == 2  # where it went, then the body's answer

    # The app's own outbox worker delivers both through the Rasa sender to the citizen's
    # conversation, where the relay action words them.
    for _ in range(150):
        if len(fake_rasa.shown.get("conv-psid-1", [])) >= 2:
            break
        await asyncio.sleep(0.1)
    day = f"{today:%d/%m/%Y}"
    assert fake_rasa.shown["conv-psid-1"] == [
        f"Cán bộ Mặt trận trả lời (hồ sơ {ref}): Mặt trận đã chuyển hồ sơ của bạn đến UBND phường "
        f"Láng ngày {day} để giải quyết theo thẩm quyền và sẽ theo dõi kết quả. Khi cơ quan trả "
        "lời, chúng tôi sẽ báo bạn.",
        f"Cán bộ Mặt trận trả lời (hồ sơ {ref}): UBND phường Láng đã trả lời ngày {day} (số văn "
        f"bản: 45/QĐ-UBND): {ANSWER}",
    ]
    for _ in range(50):  # the worker records the result just after the call
        if all(
            r.status.value == "sent"
            for r in outbox_rows(world.engine, case_id, OutboxKind.CITIZEN_REPLY)
        ):
            break
        await asyncio.sleep(0.1)
    assert [
        r.status.value for r in outbox_rows(world.engine, case_id, OutboxKind.CITIZEN_REPLY)
    ] == ["sent", "sent"]
