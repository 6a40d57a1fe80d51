"""Issue 17 at intake: a saved petition is classified (phản ánh, kiến nghị, khiếu nại, tố cáo),
the citizen is told in one sentence what will happen to it, and asked when the guess is unsure;
their answer replaces the guess. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from action_helpers import DOMAIN, buttons, entity, make_tracker, texts
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.cases import ActionSubmitCase
from actions.legal_type import ActionSetLegalType
from bot.cases import legal_type
from bot.db.engine import session_scope
from bot.db.models import Case, CaseEvent
from bot.db.runtime import get_engine
from bot.knowledge.replies import reply_text

COMPLAINT = ("UBND phường ra quyết định xử phạt tôi 5 triệu vì lấn chiếm vỉa hè nhưng tôi không "
             "hề lấn chiếm, tôi không đồng ý với quyết định này và đề nghị xem xét lại")


def _slots(content: str, **overrides: Any) -> dict[str, Any]:
    return {"case_kind": "petition", "case_key": f"key-{abs(hash(content))}",
            "case_content": content, "case_unit": "p_lang", "case_category": "moi_truong",
            "case_consent": False, "case_confirm": "confirm", **overrides}


def _case(database: str) -> tuple[str | None, list[dict[str, Any]]]:
    with session_scope(get_engine(database)) as session:
        case = session.execute(select(Case)).scalar_one()
        events = [e.detail for e in session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case.id,
                                    CaseEvent.action == "legal_type_changed")).scalars()]
        return case.legal_type, events


async def test_a_saved_petition_gets_its_type_and_one_sentence(database: str) -> None:
    dispatcher = CollectingDispatcher()
    await ActionSubmitCase().run(dispatcher, make_tracker(
        "/affirm", "affirm", slots=_slots(COMPLAINT), sender_id="citizen-lt"), DOMAIN)
    guess = legal_type.classify(COMPLAINT)
    stored, events = _case(database)
    assert stored == guess.type
    assert events[0]["source"] == "classifier" and events[0]["to"] == guess.type
    said = texts(dispatcher)
    assert said[0].startswith("Cảm ơn bạn!")  # saved first: nothing below can unsave it
    if guess.unsure:
        assert said[1].startswith(legal_type.unsure_question())
        offered = buttons(dispatcher)[1]
        assert [b["title"] for b in offered] == [legal_type.label(t)
                                                for t, _ in legal_type.choices(guess)]
    else:
        assert said[1] == legal_type.explain(guess.type)


async def test_feedback_is_not_given_a_legal_type(database: str) -> None:
    dispatcher = CollectingDispatcher()
    await ActionSubmitCase().run(dispatcher, make_tracker(
        "/affirm", "affirm", slots=_slots("Trang của phường nên đăng lịch tiếp dân sớm hơn",
                                          case_kind="feedback"), sender_id="citizen-fb"), DOMAIN)
    assert _case(database) == (None, [])
    assert len(texts(dispatcher)) == 1


async def test_the_citizen_picks_the_type_of_their_own_case_only(database: str) -> None:
    dispatcher = CollectingDispatcher()
    await ActionSubmitCase().run(dispatcher, make_tracker(
        "/affirm", "affirm", slots=_slots(COMPLAINT), sender_id="owner"), DOMAIN)
    with session_scope(get_engine(database)) as session:
        ref = session.execute(select(Case.ref_code)).scalar_one()

    stranger = CollectingDispatcher()
    await ActionSetLegalType().run(stranger, make_tracker(
        "/set_legal_type", "set_legal_type", sender_id="someone-else",
        entities=[entity("legal_type", "to_cao"), entity("ref_code", ref)]), DOMAIN)
    assert texts(stranger) == [reply_text("legal_type_not_your_case", ref=ref)]

    owner = CollectingDispatcher()
    await ActionSetLegalType().run(owner, make_tracker(
        "/set_legal_type", "set_legal_type", sender_id="owner",
        entities=[entity("legal_type", "khieu_nai"), entity("ref_code", ref)]), DOMAIN)
    assert texts(owner) == [legal_type.explain("khieu_nai")]
    stored, events = _case(database)
    assert stored == "khieu_nai"
    assert events[-1]["source"] in ("citizen", "classifier")


async def test_an_unknown_choice_is_answered_in_vietnamese(database: str) -> None:
    dispatcher = CollectingDispatcher()
    await ActionSetLegalType().run(dispatcher, make_tracker(
        "/set_legal_type", "set_legal_type", entities=[entity("legal_type", "kien_tung")]), DOMAIN)
    assert texts(dispatcher) == [reply_text("legal_type_not_understood")]


async def test_a_second_citizen_reporting_the_same_thing_is_told_others_did(database: str) -> None:
    """Issue 15: the filing links a petition to the open ones of its unit about the same problem
    at the same place, and the citizen hears that others reported it too."""
    first = ("Cống thoát nước đầu ngõ 12 phố Láng Hạ bị tắc cả tuần nay, mưa xuống là nước tràn "
             "vào nhà dân, đề nghị phường cho người xuống thông cống")
    second = ("ngo 12 Lang Ha cong bi tac may hom roi, mua la nuoc ngap vao nha, "
              "nho phuong xu ly thong cong giup")
    one, two = CollectingDispatcher(), CollectingDispatcher()
    await ActionSubmitCase().run(one, make_tracker(
        "/affirm", "affirm", slots=_slots(first, case_category="ha_tang"), sender_id="a"), DOMAIN)
    await ActionSubmitCase().run(two, make_tracker(
        "/affirm", "affirm", slots=_slots(second, case_category="ha_tang"), sender_id="b"), DOMAIN)
    assert not any("người khác cùng phản ánh" in t for t in texts(one))
    assert reply_text("case_others_reported", others=1) in texts(two)
    with session_scope(get_engine(database)) as session:
        clusters = session.execute(select(Case.cluster_id).order_by(Case.id)).scalars().all()
    assert clusters[0] is not None and clusters == [clusters[0], clusters[0]]


async def _form(text: str, slots: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    """Run the form's validation on ``text``; the slots it set, what it said, and its steps."""
    from action_helpers import slots_set

    from actions.case_form import ValidateCaseForm

    tracker = make_tracker(text, "inform", slots=slots)
    form, dispatcher = ValidateCaseForm(), CollectingDispatcher()
    events = await form.run(dispatcher, tracker, DOMAIN)
    steps = await form.required_slots([], dispatcher, make_tracker(
        text, "inform", slots={**slots, **slots_set(events)}), DOMAIN)
    return slots_set(events), texts(dispatcher), steps


async def test_a_khieu_nai_is_asked_which_decision_and_since_when() -> None:
    """Issue 17: the extra thing a khiếu nại needs is asked in the form, and the answer joins the
    description the staff read; a phản ánh is not asked."""
    base = {"case_kind": "petition", "case_content": COMPLAINT}
    _, _, steps = await _form("", base)
    assert steps[:2] == ["case_content", "case_complaint_detail"]
    plain = {"case_kind": "petition", "case_content": "Đống rác ở đầu ngõ 5 chưa được dọn"}
    assert "case_complaint_detail" not in (await _form("", plain))[2]

    asked = {**base, "requested_slot": "case_complaint_detail"}
    answer = "Quyết định số 123/QĐ-XPHC ngày 02/11/2026, tôi nhận được ngày 05/11"
    set_, _, _ = await _form(answer, asked)
    assert set_["case_complaint_detail"] == answer
    assert set_["case_content"] == (
        f"{COMPLAINT}\n{reply_text('case_complaint_detail_label')}: {answer}")

    skipped, _, steps = await _form("bỏ qua", asked)
    assert skipped["case_complaint_detail"] == "" and "case_content" not in skipped
    assert steps[steps.index("case_complaint_detail") + 1] == "case_unit"


async def test_the_question_comes_from_the_legal_texts(dispatcher) -> None:
    from actions.case_questions import ActionAskCaseComplaintDetail

    await ActionAskCaseComplaintDetail().run(dispatcher, make_tracker("", "inform"), DOMAIN)
    assert texts(dispatcher) == [
        f"{legal_type.extra_question('khieu_nai')} {reply_text('case_complaint_detail_skip')}"]
