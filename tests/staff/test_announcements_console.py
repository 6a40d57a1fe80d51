"""The announcement pages over the real aiohttp app (SQLite and PostgreSQL): compose with the
three previews, the four-eyes approval through the console, the report and its CSV."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from staff_helpers import World, csrf_of, form, seed_staff

from bot.announcements import delivery
from bot.announcements.rules import load_rules
from bot.db.engine import session_scope
from bot.db.models import (
    Announcement,
    AnnouncementRecipient,
    AnnouncementStatus,
    StaffRole,
    Subscription,
)
from bot.db.types import utcnow

TEXT = "Lịch tiếp dân tháng 12: sáng thứ Năm hằng tuần tại trụ sở phường."


async def test_compose_preview_submit_and_approve_by_a_second_admin(world: World) -> None:
    seed_staff(world.engine, "binh", "p_lang", StaffRole.UNIT_ADMIN, "Đỗ Văn Bình")
    hoa = await world.logged_in("hoa")
    token = await csrf_of(hoa, "/staff/announcements/new")
    values = form(
        token,
        topic="lich_tiep_dan",
        text=TEXT,
        units="p_lang",
        image_url="https://mttq.example.vn/lich.jpg",
        link_url="",
    )
    preview = await hoa.post("/staff/announcements/new", data={**values, "action": "preview"})
    page = await preview.text()
    assert preview.status == 200
    for channel in ("facebook", "zalo", "web"):
        assert f'id="preview-{channel}"' in page
    assert "[Ảnh] https://mttq.example.vn/lich.jpg" in page
    assert "không có kênh đẩy tin" in page
    with session_scope(world.engine) as session:
        assert session.execute(select(Announcement)).first() is None  # a preview saves nothing

    created = await hoa.post(
        "/staff/announcements/new", data={**values, "action": "submit"}, allow_redirects=False
    )
    assert created.status == 303
    location = created.headers["Location"].split("?")[0]
    aid = int(location.rsplit("/", 1)[1])
    own = await hoa.get(location)
    own_page = await own.text()
    assert "Duyệt và gửi" not in own_page and "người soạn không tự duyệt" in own_page
    refused = await hoa.post(f"{location}/approve", data=form(await csrf_of(hoa, location)))
    assert refused.status == 403
    assert "không được tự duyệt" in await refused.text()

    officer = await world.logged_in("lan")
    assert (await officer.get("/staff/announcements/new")).status == 403
    assert "Duyệt và gửi" not in await (await officer.get(location)).text()
    other_ward = await world.logged_in("tuan")
    assert (await other_ward.get(location)).status == 404

    binh = await world.logged_in("binh")
    approved = await binh.post(
        f"{location}/approve", data=form(await csrf_of(binh, location)), allow_redirects=False
    )
    assert approved.status == 303
    with session_scope(world.engine) as session:
        row = session.get(Announcement, aid)
        assert AnnouncementStatus(row.status) == AnnouncementStatus.APPROVED
        session.add(
            Subscription(
                channel="web",
                sender_id="w1",
                unit_code="p_lang",
                topics=["lich_tiep_dan"],
                consented_at=utcnow(),
            )
        )
        session.flush()
        delivery.start_due(session, now=utcnow())
    with session_scope(world.engine) as session:
        # The worker's decision for the chat-page subscriber: not allowed (no push).
        [rid] = session.execute(select(AnnouncementRecipient.id)).scalars().all()
        delivery.plan_delivery(
            session, rid, rules=load_rules(), now=utcnow(), tz=ZoneInfo("Asia/Ho_Chi_Minh")
        )
        delivery.finish_done(session, now=utcnow())
    page = await (await binh.get(location)).text()
    assert "Báo cáo gửi" in page and "Đã gửi xong" in page
    for label in ("Soạn thông báo", "Gửi duyệt", "Duyệt", "Bắt đầu gửi", "Gửi xong"):
        assert label in page  # the audit trail
    exported = await binh.get(f"{location}/report.csv")
    assert exported.status == 200
    lines = (await exported.text()).splitlines()
    assert lines[1] == f"{aid},1,0,1,0,0,0,0"


async def test_a_rejection_needs_a_reason(world: World) -> None:
    seed_staff(world.engine, "binh", "p_lang", StaffRole.UNIT_ADMIN)
    hoa = await world.logged_in("hoa")
    token = await csrf_of(hoa, "/staff/announcements/new")
    created = await hoa.post(
        "/staff/announcements/new",
        allow_redirects=False,
        data=form(
            token,
            topic="canh_bao_lua_dao",
            text="Cảnh giác: không có ai thu tiền nhân danh MTTQ.",
            units="p_lang",
            action="submit",
        ),
    )
    location = created.headers["Location"].split("?")[0]
    binh = await world.logged_in("binh")
    empty = await binh.post(f"{location}/reject", data=form(await csrf_of(binh, location)))
    assert empty.status == 422 and "Cần ghi rõ lý do" in await empty.text()
    done = await binh.post(
        f"{location}/reject",
        data=form(await csrf_of(binh, location), reason="Cần ghi số điện thoại"),
    )
    assert done.status == 200 and "Lý do từ chối: Cần ghi số điện thoại" in await done.text()
