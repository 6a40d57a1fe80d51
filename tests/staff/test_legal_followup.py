"""Issue 17 in the console and the JSON API: no closing without a recorded outcome, forwarding
and the body's answer, the queue's and the CSV's next legal step, the overview's answers on time
by type, reopening after a poor rating, and a tố cáo's sender kept out of the export."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from staff_helpers import World, csrf_of, form, outbox_rows, seed_case

from bot.cases import casework
from bot.cases.forwarding import forward_case, record_body_answer
from bot.cases.outcome import record_outcome, reopen_case, reopen_offer
from bot.cases.service import Actor
from bot.db.engine import session_scope
from bot.db.models import Case, CaseEvent, CaseForwarding, CaseStatus
from bot.staff import accounts

UTC = timezone.utc
NO_OUTCOME = casework.NO_OUTCOME


def _api_token(world: World, login: str) -> dict[str, str]:
    with session_scope(world.engine) as session:
        token = accounts.create_api_token(session, world.staff[login], "kiểm thử")
    return {"Authorization": f"Bearer {token}"}


async def test_a_case_without_a_recorded_action_cannot_be_closed(world: World) -> None:
    case_id, _ = world.cases["lang"]
    base = f"/staff/cases/{case_id}"
    client = await world.logged_in("lan")
    token = await csrf_of(client, base)
    for status in ("resolved", "closed"):
        refused = await client.post(
            f"{base}/status", data=form(token, status=status), allow_redirects=False
        )
        assert refused.status == 422
        page = await refused.text()
        assert "Chưa thể kết thúc hồ sơ: hãy ghi nhận kết quả xử lý" in page
        assert 'id="no-outcome"' in page

    api = await world.client()
    headers = _api_token(world, "lan")
    refused = await api.post(
        f"/api/v1/cases/{case_id}/status", json={"status": "resolved"}, headers=headers
    )
    assert refused.status == 422 and (await refused.json()) == {"error": NO_OUTCOME}
    with session_scope(world.engine) as session:
        assert session.get(Case, case_id).status == CaseStatus.NEW
    assert outbox_rows(world.engine, case_id, "citizen_status") == []

    # An outcome with nothing in it is refused too, with the reason.
    empty = await api.post(
        f"/api/v1/cases/{case_id}/outcome",
        json={"action_text": " ", "done_by": "x", "done_on": "2026-01-05"},
        headers=headers,
    )
    assert empty.status == 422 and "đã làm gì" in (await empty.json())["error"]
    recorded = await api.post(
        f"/api/v1/cases/{case_id}/outcome",
        headers=headers,
        json={
            "action_text": "Tổ dân phố đã thu gom rác, phường nhắc nhở hộ đổ trộm.",
            "done_by": "Tổ dân phố số 5",
            "done_on": "2026-01-05",
            "evidence_url": "https://example.org/anh-ngo-5.jpg",
        },
    )
    assert recorded.status == 201
    resolved = await api.post(
        f"/api/v1/cases/{case_id}/status", json={"status": "resolved"}, headers=headers
    )
    assert resolved.status == 200
    detail = await (await api.get(f"/api/v1/cases/{case_id}", headers=headers)).json()
    [outcome] = detail["outcomes"]
    assert (outcome["done_by"], outcome["done_on"]) == ("Tổ dân phố số 5", "2026-01-05")
    assert detail["attachments"][-1]["url"] == "https://example.org/anh-ngo-5.jpg"
    page = await (await client.get(base)).text()
    assert "Tổ dân phố đã thu gom rác" in page and "minh chứng" in page


async def test_forwarding_and_the_bodys_answer_through_the_api(world: World) -> None:
    case_id, ref = world.cases["lang"]
    with session_scope(world.engine) as session:
        session.get(Case, case_id).legal_type = "khieu_nai"
    api = await world.client()
    headers = _api_token(world, "lan")
    bad = await api.post(
        f"/api/v1/cases/{case_id}/forwardings",
        headers=headers,
        json={
            "body_name": "UBND phường Láng",
            "method": "fax",
            "reference": "1",
            "forwarded_on": "2026-02-13",
        },
    )
    assert bad.status == 422 and "cách chuyển" in (await bad.json())["error"]
    made = await api.post(
        f"/api/v1/cases/{case_id}/forwardings",
        headers=headers,
        json={
            "body_name": "UBND phường Láng",
            "method": "portal",
            "reference": "DVC-2026-000123",
            "forwarded_on": "2026-02-13",
        },
    )
    assert made.status == 201
    body = await made.json()
    assert (body["answer_due_on"], body["due_basis"]) == ("2026-03-25", "law")
    answered = await api.post(
        f"/api/v1/cases/{case_id}/forwardings/{body['forwarding_id']}/answer",
        headers=headers,
        json={
            "text": "Đã giải quyết, trả lời bằng văn bản.",
            "reference": "9/UBND",
            "answered_on": "2026-03-20",
        },
    )
    assert answered.status == 201
    [told, relayed] = outbox_rows(world.engine, case_id, "citizen_reply")
    assert "UBND phường Láng ngày 13/02/2026" in told.payload["text"]
    assert relayed.payload["text"] == (
        "UBND phường Láng đã trả lời ngày 20/03/2026 (số văn bản: "
        "9/UBND): Đã giải quyết, trả lời bằng văn bản."
    )
    assert relayed.target == "facebook:psid-1" and relayed.payload["ref_code"] == ref
    again = await api.post(
        f"/api/v1/cases/{case_id}/forwardings/{body['forwarding_id']}/answer",
        headers=headers,
        json={"text": "x", "answered_on": "2026-03-21"},
    )
    assert again.status == 422

    # Another unit's officer sees neither the case nor its forwarding.
    other = _api_token(world, "tuan")
    hidden = await api.post(
        f"/api/v1/cases/{case_id}/forwardings",
        headers=other,
        json={"body_name": "x", "method": "letter", "reference": "1", "forwarded_on": "2026-02-13"},
    )
    assert hidden.status == 404

    # The overview counts it as answered on time, for khiếu nại.
    client = await world.logged_in("lan")
    overview = await (await client.get("/staff/overview")).text()
    assert (
        '<tr data-type="khieu_nai"><td>Khiếu nại</td><td>1</td><td>0</td><td>100%</td>' in overview
    )


async def test_the_queue_and_the_csv_show_the_next_legal_step_but_never_a_denouncer(
    world: World,
) -> None:
    case_id, ref = seed_case(
        world.engine,
        content="Tố cáo cán bộ thu tiền sai quy định.",
        channel_user_id="psid-to-cao-552",
    )
    today = datetime.now(UTC).astimezone(timezone(timedelta(hours=7))).date()
    with session_scope(world.engine) as session:
        case = session.get(Case, case_id)
        case.legal_type = "to_cao"
        case.consent, case.person_name, case.phone = True, "Đỗ Thị Tố", "0911222333"
        forward_case(
            session,
            case_id,
            body_name="Thanh tra thành phố",
            method="letter",
            reference="77/MTTQ",
            forwarded_on=today - timedelta(days=40),
            actor=Actor.staff(world.staff["lan"]),
        )
    soon_id, soon_ref = seed_case(world.engine, content="Cống thoát nước ngõ 9 tắc.")
    with session_scope(world.engine) as session:
        session.get(Case, soon_id).legal_type = "phan_anh"
        # No clock of the body in the data: FOLLOW_UP_DAYS (30) -> due tomorrow, warned today.
        forward_case(
            session,
            soon_id,
            body_name="Công ty thoát nước",
            method="other",
            reference="điện thoại 14/11",
            forwarded_on=today - timedelta(days=29),
            actor=Actor.staff(world.staff["lan"]),
        )
    client = await world.logged_in("hoa")  # a unit admin: may see the sender on the case page
    queue = await (await client.get("/staff/cases")).text()
    row = queue[queue.index(ref) :]
    row = row[: row.index("</tr>")]
    assert "Chờ Thanh tra thành phố trả lời" in row and "Quá hạn" in row
    soon_row = queue[queue.index(soon_ref) :]
    soon_row = soon_row[: soon_row.index("</tr>")]
    assert "Chờ Công ty thoát nước trả lời" in soon_row
    assert "Sắp đến hạn" in soon_row and "Quá hạn" not in soon_row
    exported = await (await client.get("/staff/cases.csv")).read()
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))
    header = rows[0]
    [mine] = [r for r in rows if r[0] == ref]
    assert mine[header.index("Loại vụ việc")] == "Tố cáo"
    assert mine[header.index("Bước pháp lý tiếp theo")] == "Chờ Thanh tra thành phố trả lời"
    for secret in ("Đỗ Thị Tố", "0911222333", "psid-to-cao-552"):
        assert secret not in exported.decode("utf-8-sig")
        assert secret not in queue
    overview = await (await client.get("/staff/overview")).text()
    assert (
        '<tr data-type="to_cao"><td>Tố cáo</td><td>0</td><td>0</td><td>—</td><td>0</td>'
        "<td>1</td>" in overview
    )
    for secret in ("Đỗ Thị Tố", "0911222333", "psid-to-cao-552"):
        assert secret not in overview


def test_a_poor_rating_reopens_within_the_period_keeping_history_and_clock(
    world: World,
) -> None:
    case_id, _ = world.cases["lang"]
    lan = Actor.staff(world.staff["lan"])
    citizen = Actor.citizen("psid-1")
    filed = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    due = filed + timedelta(days=3)
    with session_scope(world.engine) as session:
        case = session.get(Case, case_id)
        case.sla_due_at = due
        forwarding = forward_case(
            session,
            case_id,
            body_name="UBND phường Láng",
            method="letter",
            reference="5/MTTQ",
            forwarded_on=date(2026, 11, 3),
            actor=lan,
            now=filed + timedelta(days=1),
        )
        record_body_answer(
            session,
            forwarding.id,
            text="Đã xử lý.",
            reference=None,
            answered_on=date(2026, 11, 5),
            actor=lan,
            now=filed + timedelta(days=3),
        )
        record_outcome(
            session,
            case_id,
            action_text="Phường đã dọn rác.",
            done_by="Phường Láng",
            done_on=date(2026, 11, 5),
            actor=lan,
            now=filed + timedelta(days=3),
        )
        casework.change_status(
            session, case_id, CaseStatus.RESOLVED, actor=lan, now=filed + timedelta(days=3)
        )
        casework.record_rating(session, case_id, 4, actor=citizen, now=filed + timedelta(days=4))
        assert not reopen_offer(
            session, session.get(Case, case_id), now=filed + timedelta(days=4), days=14
        )  # satisfied
        casework.record_rating(session, case_id, 2, actor=citizen, now=filed + timedelta(days=4))
        case = session.get(Case, case_id)
        assert not reopen_offer(session, case, now=filed + timedelta(days=18), days=14)  # too late
        assert reopen_offer(session, case, now=filed + timedelta(days=16), days=14)
        assert reopen_case(session, case_id, actor=citizen, now=filed + timedelta(days=16), days=14)
        assert not reopen_case(
            session, case_id, actor=citizen, now=filed + timedelta(days=16), days=14
        )  # already open again
    with session_scope(world.engine) as session:
        case = session.get(Case, case_id)
        assert case.status == CaseStatus.IN_PROGRESS
        assert case.sla_due_at == due  # the clock is kept
        assert session.execute(
            select(CaseForwarding).where(CaseForwarding.case_id == case_id)
        ).scalar_one().answered_on == date(2026, 11, 5)
        actions = [
            e.action
            for e in session.execute(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            ).scalars()
        ]
        assert actions[0] == "created" and actions[-1] == "reopened"
        assert {"forwarded", "body_answered", "outcome_recorded", "rated"} <= set(actions)
        # A reopened case needs a new outcome before it is resolved again.
        with pytest.raises(casework.CaseworkError) as refused:
            casework.change_status(session, case_id, CaseStatus.RESOLVED, actor=lan)
        assert str(refused.value) == NO_OUTCOME
    [card] = [
        r
        for r in outbox_rows(world.engine, case_id, "staff_notify")
        if r.payload.get("event") == "reopened"
    ]
    assert card.target == "p_lang"
