"""The web console end to end: real app, real HTTP on 127.0.0.1, real database (both backends)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import func, select, update
from staff_helpers import (
    PASSWORD,
    World,
    csrf_from,
    csrf_of,
    form,
    login_as,
    outbox_rows,
    seed_case,
)

from bot.db.engine import session_scope
from bot.db.models import (
    Case,
    CaseEvent,
    CaseNote,
    CaseStatus,
    Outbox,
    OutboxStatus,
    StaffSession,
)
from bot.db.types import utcnow
from bot.staff.context import LOGIN_CSRF_COOKIE

# --------------------------------------------------------------------------- login / logout


async def test_login_sets_a_safe_session_cookie_and_logout_ends_it(world: World) -> None:
    client = await world.client()
    anonymous = await client.get("/staff/cases", allow_redirects=False)
    assert anonymous.status == 303
    assert anonymous.headers["Location"].startswith("/staff/login?next=")

    response = await login_as(client, "lan", PASSWORD)
    assert response.status == 303 and response.headers["Location"] == "/staff/cases"
    cookie = next(v for v in response.headers.getall("Set-Cookie") if v.startswith("mttq_staff="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    raw = cookie.split(";")[0].split("=", 1)[1]
    with session_scope(world.engine) as session:
        hashes = list(session.execute(select(StaffSession.token_hash)).scalars())
    assert len(hashes) == 1 and raw not in hashes[0]  # stored hashed, never the token itself

    page = await client.get("/staff/cases")
    html = await page.text()
    assert page.status == 200 and "Nguyễn Thị Lan" in html and '<html lang="vi">' in html
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]

    out = await client.post("/staff/logout", data=form(csrf_from(html)), allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/staff/login"
    with session_scope(world.engine) as session:
        assert session.execute(select(func.count(StaffSession.id))).scalar_one() == 0
    again = await client.get("/staff/cases", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"].startswith("/staff/login")


async def test_login_redirects_back_to_the_page_asked_for_but_never_off_site(world: World) -> None:
    client = await world.client()
    case_id, _ = world.cases["lang"]
    first = await client.get(f"/staff/cases/{case_id}", allow_redirects=False)
    login_page = await client.get(first.headers["Location"])
    html = await login_page.text()
    assert f'value="/staff/cases/{case_id}"' in html
    response = await client.post(
        "/staff/login",
        data={
            "csrf_token": csrf_from(html),
            "login": "lan",
            "password": PASSWORD,
            "next": "//evil.example/staff",
        },
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/staff/cases"


async def test_wrong_password_is_refused_without_a_session(world: World) -> None:
    client = await world.client()
    response = await login_as(client, "lan", "sai-mat-khau-roi")
    assert response.status == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in await response.text()
    assert "mttq_staff=" not in " ".join(response.headers.getall("Set-Cookie", []))
    unknown = await login_as(client, "khong-co-ai", "sai-mat-khau-roi")
    assert unknown.status == 401  # the same answer for an unknown login
    assert (await client.get("/staff/cases", allow_redirects=False)).status == 303


async def test_login_form_without_its_csrf_token_is_refused(world: World) -> None:
    client = await world.client()
    response = await client.post(
        "/staff/login", data={"login": "lan", "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 403


async def test_five_failures_lock_the_login_and_the_address(world: World) -> None:
    client = await world.client()
    for _ in range(4):
        assert (await login_as(client, "lan", "doan-sai-mat-khau")).status == 401
    fifth = await login_as(client, "lan", "doan-sai-mat-khau")
    assert fifth.status == 429
    # Now even the right password is refused, with a clear Vietnamese message.
    locked = await login_as(client, "lan", PASSWORD)
    assert locked.status == 429
    text = await locked.text()
    assert "sai quá nhiều lần" in text and "15 phút" in text
    # Five failures from one address lock that address for other logins too.
    other = await login_as(client, "minh", PASSWORD)
    assert other.status == 429


# --------------------------------------------------------------------------- visibility


async def test_officer_sees_only_own_units_cases(world: World) -> None:
    lang_id, lang_ref = world.cases["lang"]
    other_id, other_ref = world.cases["cau_giay"]
    client = await world.logged_in("lan")
    queue = await (await client.get("/staff/cases")).text()
    assert lang_ref in queue and other_ref not in queue

    assert (await client.get(f"/staff/cases/{lang_id}")).status == 200
    hidden = await client.get(f"/staff/cases/{other_id}")
    missing = await client.get("/staff/cases/999999")
    assert hidden.status == 404 and missing.status == 404
    assert await hidden.text() == await missing.text()  # existence is not revealed

    token = await csrf_of(client)
    refused = await client.post(
        f"/staff/cases/{other_id}/reply", data=form(token, text="Xin chào"), allow_redirects=False
    )
    assert refused.status == 404
    assert outbox_rows(world.engine, other_id, "citizen_reply") == []

    csv_text = (await (await client.get("/staff/cases.csv")).read()).decode("utf-8-sig")
    assert lang_ref in csv_text and other_ref not in csv_text


async def test_province_admin_sees_the_wards_below(world: World) -> None:
    client = await world.logged_in("tinh")
    queue = await (await client.get("/staff/cases")).text()
    assert world.cases["lang"][1] in queue and world.cases["cau_giay"][1] in queue


# --------------------------------------------------------------------------- CSRF and escaping


async def test_post_without_or_with_a_wrong_csrf_token_is_refused(world: World) -> None:
    case_id, _ = world.cases["lang"]
    client = await world.logged_in("lan")
    missing = await client.post(
        f"/staff/cases/{case_id}/reply", data={"text": "Xin chào"}, allow_redirects=False
    )
    forged = await client.post(
        f"/staff/cases/{case_id}/reply",
        data={"text": "Xin chào", "csrf_token": "a" * 64},
        allow_redirects=False,
    )
    assert missing.status == 403 and forged.status == 403
    assert "CSRF" in await missing.text()
    assert outbox_rows(world.engine, case_id, "citizen_reply") == []
    logout = await client.post("/staff/logout", data={}, allow_redirects=False)
    assert logout.status == 403  # logout is a POST like any other


async def test_citizen_script_is_shown_inert(world: World) -> None:
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    case_id, ref = seed_case(world.engine, content=payload + "\n  hai dòng ", channel_user_id="x")
    client = await world.logged_in("lan")
    page = await client.get(f"/staff/cases/{case_id}")
    html = await page.text()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;"
        in html
    )
    assert "\n  hai dòng " in html  # exactly as typed (pre-wrap), only escaped
    queue = await (await client.get("/staff/cases")).text()
    assert ref in queue and "<script>alert(1)" not in queue and "&lt;script&gt;" in queue


# --------------------------------------------------------------------------- case actions


async def test_rejecting_needs_a_reason(world: World) -> None:
    case_id, _ = world.cases["lang"]
    client = await world.logged_in("lan")
    token = await csrf_of(client, f"/staff/cases/{case_id}")
    refused = await client.post(
        f"/staff/cases/{case_id}/status", data=form(token, status="rejected", note="  ")
    )
    assert refused.status == 422
    assert "cần ghi rõ lý do" in await refused.text()
    with session_scope(world.engine) as session:
        assert session.get(Case, case_id).status == CaseStatus.NEW
        assert session.execute(select(func.count(CaseNote.id))).scalar_one() == 0
    assert outbox_rows(world.engine, case_id, "citizen_status") == []

    done = await client.post(
        f"/staff/cases/{case_id}/status",
        data=form(token, status="rejected", note="Không thuộc thẩm quyền của Mặt trận."),
        allow_redirects=False,
    )
    assert done.status == 303 and done.headers["Location"].endswith("?done=status")
    with session_scope(world.engine) as session:
        assert session.get(Case, case_id).status == CaseStatus.REJECTED
    [row] = outbox_rows(world.engine, case_id, "citizen_status")
    assert row.payload["status"] == "rejected"
    assert row.payload["reason"] == "Không thuộc thẩm quyền của Mặt trận."
    page = await (await client.get(done.headers["Location"])).text()
    assert "Không thuộc thẩm quyền của Mặt trận." in page and "Đã cập nhật trạng thái" in page


async def test_reply_creates_an_outbox_row_and_shows_its_delivery_state(world: World) -> None:
    case_id, _ = world.cases["lang"]
    client = await world.logged_in("lan")
    token = await csrf_of(client, f"/staff/cases/{case_id}")
    response = await client.post(
        f"/staff/cases/{case_id}/reply",
        data=form(token, text="Chào bạn, cán bộ phường đã tiếp nhận & sẽ xử lý <ngay>."),
        allow_redirects=False,
    )
    assert response.status == 303
    [row] = outbox_rows(world.engine, case_id, "citizen_reply")
    assert row.status == OutboxStatus.PENDING and row.target == "facebook:psid-1"
    assert row.payload["text"] == "Chào bạn, cán bộ phường đã tiếp nhận & sẽ xử lý <ngay>."
    assert row.payload["channel_user_id"] == "psid-1"
    assert row.payload["conversation_id"] == "conv-psid-1"
    html = await (await client.get(f"/staff/cases/{case_id}")).text()
    assert "Đang chờ gửi" in html and "&amp; sẽ xử lý &lt;ngay&gt;." in html

    with session_scope(world.engine) as session:
        session.execute(
            update(Outbox)
            .where(Outbox.id == row.id)
            .values(
                status=OutboxStatus.UNDELIVERABLE.value,
                attempts=3,
                last_error="Zalo -230: người dân ngoài khung 7 ngày",
            )
        )
    html = await (await client.get(f"/staff/cases/{case_id}")).text()
    assert "Không gửi được" in html and "Zalo -230: người dân ngoài khung 7 ngày" in html
    assert "chưa gửi được cho người dân" in html


async def test_assign_note_and_transfer_from_the_case_page(world: World) -> None:
    case_id, _ = world.cases["lang"]
    client = await world.logged_in("lan")
    token = await csrf_of(client, f"/staff/cases/{case_id}")
    base = f"/staff/cases/{case_id}"
    take = await client.post(
        f"{base}/assign", data=form(token, staff_id=str(world.staff["lan"])), allow_redirects=False
    )
    assert take.status == 303
    outsider = await client.post(
        f"{base}/assign", data=form(token, staff_id=str(world.staff["tuan"]))
    )
    assert outsider.status == 422 and "đơn vị bạn phụ trách" in await outsider.text()
    note = await client.post(
        f"{base}/note", data=form(token, text="Đã gọi tổ trưởng dân phố."), allow_redirects=False
    )
    assert note.status == 303
    mine = await (await client.get("/staff/cases?mine=1")).text()
    assert world.cases["lang"][1] in mine

    moved = await client.post(
        f"{base}/transfer",
        data=form(token, unit_code="p_cau_giay", note="Địa bàn Cầu Giấy."),
        allow_redirects=False,
    )
    assert moved.status == 303 and moved.headers["Location"] == "/staff/cases?done=transfer"
    assert (await client.get(base)).status == 404  # no longer ours
    with session_scope(world.engine) as session:
        case = session.get(Case, case_id)
        assert case.unit_code == "p_cau_giay" and case.assignee_id is None
        actions = list(
            session.execute(
                select(CaseEvent.action).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            ).scalars()
        )
    assert actions == ["created", "assigned", "first_response", "note_added", "transferred"]
    other = await world.logged_in("tuan")
    html = await (await other.get(base)).text()
    assert "Đã gọi tổ trưởng dân phố." in html and "Địa bàn Cầu Giấy." in html


# --------------------------------------------------------------------------- queue, CSV, overview


async def test_queue_filters_search_overdue_and_pages(world: World) -> None:
    now = utcnow()
    late_id, late_ref = seed_case(
        world.engine, content="Cống thoát nước tắc", sla_due_at=now - timedelta(hours=2)
    )
    _, fine_ref = seed_case(
        world.engine,
        content="Lấn chiếm vỉa hè",
        category="trat_tu_do_thi",
        sla_due_at=now + timedelta(days=2),
    )
    client = await world.logged_in("lan")
    overdue = await (await client.get("/staff/cases?overdue=1")).text()
    assert late_ref in overdue and fine_ref not in overdue
    assert '<tr class="overdue">' in overdue and "Quá hạn" in overdue

    search = await (await client.get("/staff/cases", params={"q": "vỉa hè"})).text()
    assert fine_ref in search and late_ref not in search
    by_code = await (await client.get("/staff/cases", params={"q": late_ref.lower()})).text()
    assert late_ref in by_code and fine_ref not in by_code
    category = await (await client.get("/staff/cases?category=trat_tu_do_thi")).text()
    assert fine_ref in category and late_ref not in category
    status = await (await client.get("/staff/cases?status=resolved")).text()
    assert "Không có hồ sơ nào khớp bộ lọc." in status

    first = await (await client.get("/staff/cases?per_page=2")).text()
    second = await (await client.get("/staff/cases?per_page=2&page=2")).text()
    assert "Trang 1/2 · 3 hồ sơ" in first and "Trang sau" in first
    assert "Trang 2/2" in second and "Trang trước" in second


async def test_csv_export_holds_the_filtered_rows_with_a_bom(world: World) -> None:
    _, formula_ref = seed_case(world.engine, content='=HYPERLINK("http://x")', category="an_ninh")
    client = await world.logged_in("lan")
    response = await client.get("/staff/cases.csv?category=moi_truong")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    body = await response.read()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "Mã hồ sơ" and rows[0][-2] == "Nội dung"
    assert [r[0] for r in rows[1:]] == [world.cases["lang"][1]]
    assert rows[1][-2] == "Rác thải ùn ứ ở đầu ngõ 5 phố Láng Hạ."
    assert rows[1][2] == "Môi trường"

    other = await client.get("/staff/cases.csv?category=an_ninh")
    rows = list(csv.reader(io.StringIO((await other.read()).decode("utf-8-sig"))))
    assert rows[1][0] == formula_ref and rows[1][-2] == '\'=HYPERLINK("http://x")'


async def test_overview_shows_counts_and_medians(world: World) -> None:
    case_id, _ = world.cases["lang"]
    client = await world.logged_in("lan")
    token = await csrf_of(client, f"/staff/cases/{case_id}")
    recorded = await client.post(
        f"/staff/cases/{case_id}/outcome",
        data=form(token, action_text="Đã thu gom rác.", done_by="Tổ dân phố 5",
                  done_on="2026-01-05"),
        allow_redirects=False)
    assert recorded.status == 303
    for status in ("in_progress", "resolved"):
        response = await client.post(
            f"/staff/cases/{case_id}/status", data=form(token, status=status), allow_redirects=False
        )
        assert response.status == 303
    [_, resolved] = outbox_rows(world.engine, case_id, "citizen_status")
    assert resolved.payload["ask_rating"] is True
    html = await (await client.get("/staff/overview")).text()
    assert "<svg" in html and "Môi trường" in html
    assert 'id="median-first-response">0 phút<' in html
    assert 'id="median-resolution">0 phút<' in html
    assert "Đã giải quyết" in html


# --------------------------------------------------------------------------- accounts


async def test_unit_admin_manages_own_officers_only(world: World) -> None:
    officer = await world.logged_in("lan")
    assert (await officer.get("/staff/accounts")).status == 403

    admin = await world.logged_in("hoa")
    page = await (await admin.get("/staff/accounts")).text()
    assert "lan" in page and "tuan" not in page
    token = csrf_from(page)
    created = await admin.post(
        "/staff/accounts",
        data=form(
            token, login="thu", display_name="Vũ Thị Thu", unit_code="p_lang", role="officer"
        ),
    )
    text = await created.text()
    assert created.status == 200 and "Mật khẩu của thu: " in text
    password = text.split("Mật khẩu của thu: ")[1].split(" ")[0]
    newcomer = await world.client()
    assert (await login_as(newcomer, "thu", password)).status == 303

    escalate = await admin.post(
        "/staff/accounts", data=form(token, login="sep", unit_code="p_lang", role="system_admin")
    )
    assert escalate.status == 403
    foreign = await admin.post(
        f"/staff/accounts/{world.staff['tuan']}/active", data=form(token, active="0")
    )
    assert foreign.status == 404

    disabled = await admin.post(
        f"/staff/accounts/{world.staff['lan']}/active", data=form(token, active="0")
    )
    assert disabled.status == 200 and "Đã khoá tài khoản lan" in await disabled.text()
    assert (await officer.get("/staff/cases", allow_redirects=False)).status == 303
    assert (await login_as(await world.client(), "lan", PASSWORD)).status == 401


async def test_changing_ones_password_signs_out_other_sessions(world: World) -> None:
    laptop = await world.logged_in("lan")
    phone = await world.logged_in("lan")
    token = await csrf_of(laptop, "/staff/password")
    response = await laptop.post(
        "/staff/password",
        data=form(token, current=PASSWORD, new="mat-khau-moi-12345", confirm="mat-khau-moi-12345"),
    )
    assert response.status == 200 and "Đã đổi mật khẩu." in await response.text()
    assert (await laptop.get("/staff/cases")).status == 200
    assert (await phone.get("/staff/cases", allow_redirects=False)).status == 303
    fresh = await world.client()
    assert (await login_as(fresh, "lan", "mat-khau-moi-12345")).status == 303


async def test_a_planted_cookie_and_field_pair_does_not_log_in(world: World) -> None:
    """Issue 18, item 7: the login accepted any equal cookie/field pair an attacker could plant."""
    client = await world.client()
    client.session.cookie_jar.update_cookies({LOGIN_CSRF_COOKIE: "1700000000.planted-by-attacker"})
    for field in ("1700000000.planted-by-attacker", "a" * 43):
        response = await client.post("/staff/login", allow_redirects=False, data={
            "csrf_token": field, "login": "lan", "password": PASSWORD})
        assert response.status == 403


async def test_a_cross_site_login_post_is_refused_even_with_a_valid_token(world: World) -> None:
    client = await world.client()
    token = csrf_from(await (await client.get("/staff/login")).text())
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = await client.post("/staff/login", allow_redirects=False, headers=headers,
                                     data={"csrf_token": token, "login": "lan",
                                           "password": PASSWORD})
        assert response.status == 403
    same_site = await login_as(client, "lan", PASSWORD)
    assert same_site.status == 303


def test_a_login_token_is_bound_to_its_cookie_address_and_age() -> None:
    from bot.staff import login_csrf

    now = 1_800_000_000.0
    nonce = login_csrf.new_nonce(lambda: now)
    field = login_csrf.field_for(nonce, "203.0.113.7", "shared")
    assert login_csrf.verify(nonce, field, "203.0.113.7", "shared", lambda: now + 60)
    assert not login_csrf.verify(nonce, field, "198.51.100.9", "shared", lambda: now + 60)
    assert not login_csrf.verify(login_csrf.new_nonce(lambda: now), field, "203.0.113.7",
                                 "shared", lambda: now + 60)
    assert not login_csrf.verify(nonce, field, "203.0.113.7", "other-key", lambda: now + 60)
    assert not login_csrf.verify(nonce, field, "203.0.113.7", "shared", lambda: now + 3601)


def test_cross_site_signals() -> None:
    from bot.staff.login_csrf import cross_site

    assert cross_site(None, "cross-site", "127.0.0.1:8080")
    assert cross_site("https://evil.example", None, "127.0.0.1:8080")
    # A same-origin form under Referrer-Policy: no-referrer sends Origin: null (Chromium).
    assert not cross_site("null", "same-origin", "127.0.0.1:8080")
    assert not cross_site("null", None, "127.0.0.1:8080")
    assert not cross_site("http://127.0.0.1:8080", None, "127.0.0.1:8080")


async def test_the_legal_type_and_its_next_clocked_step_are_shown_and_can_be_corrected(
    world: World,
) -> None:
    """Issue 17: staff see what the law calls the case and when its next step is due, and can
    correct a wrong guess; the change is in the case's history."""
    case_id, _ = world.cases["lang"]
    client = await world.logged_in("lan")
    base = f"/staff/cases/{case_id}"
    html = await (await client.get(base)).text()
    assert 'id="legal-type"><span class="muted">Chưa xác định' in html
    token = await csrf_of(client, base)
    done = await client.post(f"{base}/legal-type", data=form(token, legal_type="khieu_nai"),
                             allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == f"{base}?done=legal_type"
    html = await (await client.get(f"{base}?done=legal_type")).text()
    assert 'id="legal-type">Khiếu nại' in html
    assert "Đã cập nhật loại vụ việc." in html and "Đổi loại vụ việc" in html
    step = html.split('id="legal-step">', 1)[1].split("</dd>", 1)[0]
    from bot.cases.legal_clocks import next_step
    from bot.cases.legal_deadlines import load_deadlines
    from bot.staff.html import esc

    table = load_deadlines()
    with session_scope(world.engine) as session:
        filed = session.get(Case, case_id).created_at
    expected = next_step("khieu_nai", filed, audience="staff", deadlines=table)
    assert expected is not None
    cited = next(s for s in table.case_type("khieu_nai").steps if s.id == expected.step_id)
    assert str(esc(table.citation(cited))) in step  # the article and document it comes from
    if expected.due_date is not None:
        assert f"hạn {expected.due_date:%d/%m/%Y}" in step
    else:
        assert "văn bản không nêu số ngày" in step
    assert ("số liệu chưa kiểm chứng" in step) is (not expected.verified)
    refused = await client.post(f"{base}/legal-type", data=form(token, legal_type="kien_tung"))
    assert refused.status == 422 and "Loại vụ việc không hợp lệ" in await refused.text()
    with session_scope(world.engine) as session:
        case = session.get(Case, case_id)
        assert case.legal_type == "khieu_nai"


async def test_a_same_issue_cluster_is_shown_answered_at_once_and_split(world: World) -> None:
    """Issue 15: "+N người cùng phản ánh" in the queue and on the case page; one reply reaches
    every citizen of the cluster (each case keeps its own history); a wrong link is split out."""
    from bot.cases.linking import link_case

    first, _ = world.cases["lang"]
    second, ref2 = seed_case(world.engine, content="Rác ùn ứ đầu ngõ 5 Láng Hạ cả tuần nay",
                             channel_user_id="psid-2")
    with session_scope(world.engine) as session:
        for case_id in (first, second):
            link_case(session, session.get(Case, case_id))
        clusters = {session.get(Case, c).cluster_id for c in (first, second)}
    assert len(clusters) == 1 and None not in clusters

    client = await world.logged_in("lan")
    queue = await (await client.get("/staff/cases")).text()
    assert "+1 người cùng phản ánh" in queue
    base = f"/staff/cases/{first}"
    page = await (await client.get(base)).text()
    assert 'id="cluster"' in page and ref2 in page
    token = await csrf_of(client, base)
    sent = await client.post(f"{base}/reply", data=form(
        token, text="Phường đã cử người dọn ngay trong chiều nay.", whole_cluster="1"),
        allow_redirects=False)
    assert sent.status == 303
    for case_id in (first, second):
        replies = outbox_rows(world.engine, case_id, "citizen_reply")
        assert [r.payload["text"] for r in replies] == ["Phường đã cử người dọn ngay trong chiều nay."]

    split = await client.post(f"/staff/cases/{second}/split", data=form(token),
                              allow_redirects=False)
    assert split.status == 303
    with session_scope(world.engine) as session:
        assert session.get(Case, second).cluster_id is None
        assert session.get(Case, first).cluster_id is None  # a cluster of one dissolves
    assert "+1 người cùng phản ánh" not in await (await client.get("/staff/cases")).text()


async def test_a_denouncers_identity_is_for_the_assigned_officer_and_admins_only(
    world: World,
) -> None:
    """Issue 17 item 4 (Law on Denunciations 25/2018/QH14, Art. 9): a tố cáo's sender is hidden
    from other officers of the unit, shown to the assigned officer and the unit's admins, and
    every showing is in the case's history."""
    case_id, _ = world.cases["lang"]
    with session_scope(world.engine) as session:
        case = session.get(Case, case_id)
        case.consent, case.person_name, case.phone = True, "Trần Thị Bích", "0912345678"
        case.legal_type = "to_cao"
    base = f"/staff/cases/{case_id}"

    officer = await world.logged_in("lan")
    page = await (await officer.get(base)).text()
    assert 'id="identity-protected"' in page
    assert "Trần Thị Bích" not in page and "0912345678" not in page

    admin = await world.logged_in("hoa")
    page = await (await admin.get(base)).text()
    assert "Trần Thị Bích" in page and "0912345678" in page

    token = await csrf_of(officer, base)
    taken = await officer.post(f"{base}/assign", data=form(token, staff_id=str(world.staff["lan"])),
                               allow_redirects=False)
    assert taken.status == 303
    page = await (await officer.get(base)).text()
    assert "Trần Thị Bích" in page
    with session_scope(world.engine) as session:
        viewers = session.execute(
            select(CaseEvent.actor_id).where(CaseEvent.case_id == case_id,
                                             CaseEvent.action == "identity_viewed")
            .order_by(CaseEvent.id)).scalars().all()
    assert viewers == [str(world.staff["hoa"]), str(world.staff["lan"])]
    assert "Xem thông tin người tố cáo" in page  # the audit shows in the history
