"""Issue 12, item 1, through the actions: a rude complaint becomes a case marked for staff, a
threat is looked at first, a bare insult gets a calm reply and nothing is kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from action_helpers import DOMAIN, make_tracker, slots_set, texts
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.case_slots import MODERATION_SLOT
from actions.cases import ActionStartCase, ActionSubmitCase
from actions.moderation import ActionCalmReply
from bot.cases.citizen import THREAT_RESPONSE, worst_marker
from bot.db.engine import session_scope
from bot.db.models import Case, Quarantine
from bot.db.runtime import get_engine
from bot.knowledge.replies import reply_text
from bot.moderation.gate import MARKER_LABELS, RUDE, THREAT
from bot.notify.messages import load_card, render_case


async def test_a_rude_complaint_opens_the_form_with_its_marker(database: str) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionStartCase().run(dispatcher, make_tracker(
        "đm cái cống ngõ 5 tắc cả tuần rồi không ai xử lý", "submit_petition"), DOMAIN)
    assert any(e.get("name") == "case_form" for e in events)
    assert slots_set(events)[MODERATION_SLOT] == RUDE
    with session_scope(get_engine(database)) as session:
        assert session.execute(select(func.count()).select_from(Quarantine)).scalar_one() == 0


async def test_a_bare_insult_gets_a_calm_reply_no_form_no_quarantine(database: str) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionStartCase().run(dispatcher, make_tracker("đm lũ ăn hại",
                                                                  "submit_petition"), DOMAIN)
    assert events == [] and texts(dispatcher) == [reply_text("moderation_calm")]
    with session_scope(get_engine(database)) as session:
        assert session.execute(select(func.count()).select_from(Quarantine)).scalar_one() == 0


async def test_the_calm_reply_outside_a_form_keeps_nothing(database: str) -> None:
    """What the insult policy predicts for a bare insult the NLU did not read as a case."""
    dispatcher = CollectingDispatcher()
    events = await ActionCalmReply().run(dispatcher, make_tracker("dm cái bot ngu vl",
                                                                  "out_of_scope"), DOMAIN)
    assert events == [] and texts(dispatcher) == [reply_text("moderation_calm")]
    with session_scope(get_engine(database)) as session:
        assert session.execute(select(func.count()).select_from(Case)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(Quarantine)).scalar_one() == 0


def _slots(marker: str) -> dict[str, object]:
    return {"case_kind": "petition", "case_key": f"key-{marker}",
            "case_content": "Đường ngõ 7 ngập cả tháng, tao mà gặp tổ trưởng là tao chém chết",
            "case_unit": "p_lang", "case_location": "ngõ 7", "case_category": "ha_tang",
            "case_consent": False, "case_confirm": "confirm", MODERATION_SLOT: marker}


async def test_a_threat_case_is_marked_due_within_hours_and_says_so_on_the_card(
        database: str) -> None:
    dispatcher = CollectingDispatcher()
    before = datetime.now(timezone.utc)
    await ActionSubmitCase().run(dispatcher, make_tracker("/affirm", "affirm",
                                                          slots=_slots(THREAT)), DOMAIN)
    with session_scope(get_engine(database)) as session:
        (case,) = session.execute(select(Case)).scalars().all()
        assert case.moderation_verdict == THREAT
        assert case.sla_due_at is not None
        assert case.sla_due_at <= before + THREAT_RESPONSE + timedelta(minutes=1)
        card = load_card(session, case.id)
    assert card is not None
    text = render_case(card, title="Kiến nghị mới", tz=__import__("zoneinfo").ZoneInfo(
        "Asia/Ho_Chi_Minh"))
    assert MARKER_LABELS[THREAT] in text and text.index(MARKER_LABELS[THREAT]) < text.index(
        "Đơn vị")


def test_the_worst_marker_wins() -> None:
    assert worst_marker(None, RUDE) == RUDE
    assert worst_marker(RUDE, THREAT, "clean") == THREAT
    assert worst_marker("nonsense") == "clean"


async def test_the_citizen_can_see_what_is_held_about_them(database: str) -> None:
    """Issue 12, item 3: the right to access, in the conversation."""
    from actions.privacy import ActionShowMyData, mask_phone
    HELD_INTRO = reply_text("data_held_intro")

    dispatcher = CollectingDispatcher()
    await ActionShowMyData().run(dispatcher, make_tracker("dữ liệu của tôi", "access_my_data",
                                                          sender_id="owner"), DOMAIN)
    assert "chưa gửi phản ánh" in texts(dispatcher)[0]
    slots = {**_slots(RUDE), "case_consent": True, "case_name": "Trần Văn Bình",
             "case_phone": "0912345678", "case_key": "access-key"}
    await ActionSubmitCase().run(CollectingDispatcher(), make_tracker(
        "/affirm", "affirm", slots=slots, sender_id="owner"), DOMAIN)
    shown = CollectingDispatcher()
    await ActionShowMyData().run(shown, make_tracker("dữ liệu của tôi", "access_my_data",
                                                     sender_id="owner"), DOMAIN)
    answer = texts(shown)[0]
    assert answer.startswith(HELD_INTRO) and "Trần Văn Bình" in answer
    assert mask_phone("0912345678") in answer and "0912345678" not in answer
    other = CollectingDispatcher()
    await ActionShowMyData().run(other, make_tracker("dữ liệu của tôi", "access_my_data",
                                                     sender_id="someone-else"), DOMAIN)
    assert "Trần Văn Bình" not in texts(other)[0]
