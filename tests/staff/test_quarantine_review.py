"""Issue 12, item 2: an officer sees quarantined messages, restores one as a case (the citizen
is told the code through their channel) or confirms it as spam; decisions export as labelled
lines. Real app, real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select
from staff_helpers import World, csrf_of, form, outbox_rows

from bot.cases.inbound import quarantine
from bot.db.engine import session_scope
from bot.db.models import Case, Quarantine

COMPLAINT = "đm cái loa phường 5h sáng kêu inh ỏi, ngõ 7 không ai ngủ được"
SPAM = "Nhà cái uy tín nạp đầu tặng 100%"


def _quarantine(world: World, text: str, user: str) -> int:
    with session_scope(world.engine) as session:
        return quarantine(session, channel="facebook", channel_user_id=user, text=text,
                          reason="Thử nghiệm", category="abuse")


async def test_restore_makes_a_case_tells_the_citizen_and_cannot_be_done_twice(
        world: World) -> None:
    qid = _quarantine(world, COMPLAINT, "psid-restore")
    spam_id = _quarantine(world, SPAM, "psid-spam")
    client = await world.logged_in("lan")
    page = await (await client.get("/staff/quarantine")).text()
    assert COMPLAINT in page and SPAM in page
    overview = await (await client.get("/staff/overview")).text()
    assert 'id="quarantine-count"' in overview
    token = await csrf_of(client, "/staff/quarantine")

    done = await client.post(f"/staff/quarantine/{qid}/restore", data=form(token))
    text = await done.text()
    assert done.status == 200 and "Đã khôi phục thành hồ sơ KN-" in text
    with session_scope(world.engine, read_only=True) as session:
        case = session.execute(select(Case).where(
            Case.channel_user_id == "psid-restore")).scalar_one()
        assert (case.unit_code, case.content, case.channel) == ("p_lang", COMPLAINT, "facebook")
        assert session.get(Quarantine, qid).reviewed_by is not None
        case_id, ref = case.id, case.ref_code
    replies = outbox_rows(world.engine, case_id, "citizen_reply")
    assert len(replies) == 1 and ref in replies[0].payload["text"]
    assert replies[0].payload["channel"] == "facebook"

    again = await client.post(f"/staff/quarantine/{qid}/restore", data=form(token))
    assert again.status == 409
    with session_scope(world.engine, read_only=True) as session:
        assert len(session.execute(select(Case).where(
            Case.channel_user_id == "psid-restore")).scalars().all()) == 1

    spam = await client.post(f"/staff/quarantine/{spam_id}/spam", data=form(token))
    assert spam.status == 200
    left = await (await client.get("/staff/quarantine")).text()
    assert COMPLAINT not in left and SPAM not in left
    tsv = await (await client.get("/staff/quarantine.tsv")).text()
    assert f"allow\tabuse\t{COMPLAINT}" in tsv and f"stop\tabuse\t{SPAM}" in tsv


async def test_posting_without_the_csrf_token_is_refused(world: World) -> None:
    qid = _quarantine(world, COMPLAINT, "psid-csrf")
    client = await world.logged_in("lan")
    refused = await client.post(f"/staff/quarantine/{qid}/restore", data={})
    assert refused.status == 403
    with session_scope(world.engine, read_only=True) as session:
        assert session.get(Quarantine, qid).reviewed_by is None
