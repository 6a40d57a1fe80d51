"""The JSON API: bearer tokens, the console's visibility rules, JSON errors with 4xx codes."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from staff_helpers import World, outbox_rows

from bot.db.engine import session_scope
from bot.db.models import ApiToken, Case, CaseStatus
from bot.staff import accounts


def _token(world: World, login: str) -> str:
    with session_scope(world.engine) as session:
        return accounts.create_api_token(session, world.staff[login], "kiểm thử")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _api(world: World) -> TestClient:
    return await world.client()


async def test_missing_or_invalid_token_is_401(world: World) -> None:
    client = await _api(world)
    for headers in ({}, {"Authorization": "Basic bGFuOnh4"}, _auth("mttq_not-a-real-token")):
        response = await client.get("/api/v1/cases", headers=headers)
        assert response.status == 401
        assert "error" in await response.json()
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_token_is_stored_hashed_and_revoked_with_the_account(world: World) -> None:
    token = _token(world, "lan")
    with session_scope(world.engine) as session:
        stored = list(session.execute(select(ApiToken.token_hash)).scalars())
    assert token not in stored and len(stored[0]) == 64
    client = await _api(world)
    assert (await client.get("/api/v1/cases", headers=_auth(token))).status == 200
    with session_scope(world.engine) as session:
        accounts.set_active(session, world.staff["lan"], False)
    assert (await client.get("/api/v1/cases", headers=_auth(token))).status == 401


async def test_list_and_get_follow_the_units_visibility(world: World) -> None:
    lang_id, lang_ref = world.cases["lang"]
    other_id, _ = world.cases["cau_giay"]
    client = await _api(world)
    headers = _auth(_token(world, "lan"))
    listing = await (await client.get("/api/v1/cases", headers=headers)).json()
    assert [c["ref_code"] for c in listing["cases"]] == [lang_ref] and listing["total"] == 1
    one = await client.get(f"/api/v1/cases/{lang_id}", headers=headers)
    detail = await one.json()
    assert one.status == 200 and detail["content"] == "Rác thải ùn ứ ở đầu ngõ 5 phố Láng Hạ."
    assert [e["action"] for e in detail["events"]] == ["created"]
    hidden = await client.get(f"/api/v1/cases/{other_id}", headers=headers)
    assert hidden.status == 404 and await hidden.json() == {"error": "Không tìm thấy hồ sơ."}
    write = await client.post(
        f"/api/v1/cases/{other_id}/replies", json={"text": "Xin chào"}, headers=headers
    )
    assert write.status == 404
    assert outbox_rows(world.engine, other_id, "citizen_reply") == []
    filtered = await (await client.get("/api/v1/cases?category=an_ninh", headers=headers)).json()
    assert filtered["cases"] == []


async def test_status_changes_and_refusals(world: World) -> None:
    case_id, _ = world.cases["lang"]
    client = await _api(world)
    headers = _auth(_token(world, "lan"))
    url = f"/api/v1/cases/{case_id}/status"
    rejected = await client.post(url, json={"status": "rejected"}, headers=headers)
    assert rejected.status == 422 and "lý do" in (await rejected.json())["error"]
    bad = await client.post(url, json={"status": "done"}, headers=headers)
    assert bad.status == 400
    not_json = await client.post(url, data=b"{nope", headers=headers)
    assert not_json.status == 400 and "JSON" in (await not_json.json())["error"]

    ok = await client.post(url, json={"status": "in_progress"}, headers=headers)  # no CSRF needed
    body = await ok.json()
    assert ok.status == 200 and body["case"]["status"] == "in_progress"
    back = await client.post(url, json={"status": "new"}, headers=headers)
    assert back.status == 422 and "Không thể chuyển" in (await back.json())["error"]
    with session_scope(world.engine) as session:
        assert session.get(Case, case_id).status == CaseStatus.IN_PROGRESS
    assert [r.payload["status"] for r in outbox_rows(world.engine, case_id, "citizen_status")] == [
        "in_progress"
    ]


async def test_reply_note_assign_and_transfer(world: World) -> None:
    case_id, _ = world.cases["lang"]
    client = await _api(world)
    headers = _auth(_token(world, "lan"))
    base = f"/api/v1/cases/{case_id}"

    reply = await client.post(
        f"{base}/replies", json={"text": "Cán bộ đã tiếp nhận."}, headers=headers
    )
    assert reply.status == 201
    [row] = outbox_rows(world.engine, case_id, "citizen_reply")
    assert (await reply.json())["outbox_id"] == row.id and row.payload["channel"] == "facebook"
    empty = await client.post(f"{base}/replies", json={"text": "   "}, headers=headers)
    assert empty.status == 422
    wrong_type = await client.post(f"{base}/notes", json={"text": 5}, headers=headers)
    assert wrong_type.status == 400

    note = await client.post(f"{base}/notes", json={"text": "Ghi chú qua API"}, headers=headers)
    assert note.status == 201 and isinstance((await note.json())["note_id"], int)

    outsider = await client.post(
        f"{base}/assign", json={"staff_id": world.staff["tuan"]}, headers=headers
    )
    assert outsider.status == 422
    assign = await client.post(
        f"{base}/assign", json={"staff_id": world.staff["minh"]}, headers=headers
    )
    assert (
        assign.status == 200 and (await assign.json())["case"]["assignee_id"] == world.staff["minh"]
    )

    unknown = await client.post(f"{base}/transfer", json={"unit_code": "khong_co"}, headers=headers)
    assert unknown.status == 422
    moved = await client.post(f"{base}/transfer", json={"unit_code": "p_cau_giay"}, headers=headers)
    assert moved.status == 200 and (await moved.json())["case"] is None  # out of sight now
    assert (await client.get(base, headers=headers)).status == 404
    notify = outbox_rows(world.engine, case_id, "staff_notify")
    assert notify[-1].target == "p_cau_giay" and notify[-1].payload["event"] == "transferred"


async def test_api_sends_no_cookies_and_needs_none(world: World) -> None:
    client = await _api(world)
    token = _token(world, "lan")
    response = await client.get("/api/v1/cases", headers=_auth(token))
    assert response.status == 200 and "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
