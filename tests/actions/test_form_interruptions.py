"""Issue 11, item 3: the form never traps a citizen who types instead of tapping.

At any step a status question, "gặp cán bộ", "xóa dữ liệu của tôi" or a programme question is
not taken as the step's answer: the validation action sets no slot, so Rasa rejects the form and
the rules in ``nlu_data/rules/cases.yml`` answer it (checked end to end in
``tests/server/test_assistant_server.py``). An answer the step does not understand twice in a row
offers a person.
"""

from __future__ import annotations

from typing import Any

import pytest
from action_helpers import DOMAIN, make_tracker, slots_set, texts
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.case_form import ValidateCaseForm
from actions.case_interruptions import ActionPauseCase, ActionResumeCase, interrupted
from actions.case_slots import MISSES_SLOT
from bot.knowledge.replies import reply_text

SECOND_MISS = reply_text("case_second_miss")

DRAFT = {"case_kind": "petition", "case_key": "k", "case_content": "Cống ngõ 5 bị tắc",
         "case_unit": "p_lang", "case_location": "ngõ 5"}


#: What the NLU finds in "quỹ vì người nghèo là gì": the programme, named.
NAMED = [{"entity": "programme", "value": "quy_vi_nguoi_ngheo", "extractor": "VietnameseGazetteer"}]


def at_step(step: str, text: str, intent: str, confidence: float = 0.9,
            entities: list[dict[str, Any]] | None = None, **slots: Any) -> Tracker:
    if entities is None and intent == "ask_programme":
        entities = NAMED
    tracker = make_tracker(text, intent, confidence=confidence, entities=entities,
                           slots={**DRAFT, "requested_slot": step, **slots})
    tracker.active_loop = {"name": "case_form"}
    return tracker


async def validate(tracker: Tracker) -> tuple[dict[str, Any], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateCaseForm().run(dispatcher, tracker, DOMAIN)
    slots = slots_set(events)
    slots.pop("requested_slot", None)
    return slots, texts(dispatcher)


@pytest.mark.parametrize("step", ["case_unit", "case_category", "case_consent", "case_name",
                                  "case_phone", "case_confirm"])
@pytest.mark.parametrize("text,intent", [
    ("đơn của tôi sao rồi", "check_status"),
    ("tôi muốn gặp cán bộ", "request_human"),
    ("xóa dữ liệu của tôi", "delete_my_data"),
    ("quỹ vì người nghèo là gì", "ask_programme"),
    ("/request_human", "request_human"),
])
async def test_an_interruption_sets_no_slot_so_the_form_is_rejected(
        step: str, text: str, intent: str) -> None:
    slots, said = await validate(at_step(step, text, intent))
    assert slots == {}
    assert said == []


async def test_the_same_words_as_an_answer_are_still_taken() -> None:
    slots, _ = await validate(at_step("case_category", "ha tang", "inform"))
    assert slots["case_category"] == "ha_tang"
    assert slots.get(MISSES_SLOT) is None


def test_a_shrug_read_as_a_programme_question_is_no_interruption() -> None:
    """"cái gì cũng được" at the category step names no programme: a miss, not the menu."""
    assert not interrupted(at_step("case_category", "cái gì cũng được", "ask_programme", 0.56,
                                   entities=[]), "case_category")
    offered = at_step("case_category", "cho hỏi có những chương trình nào vậy", "ask_programme",
                      entities=[])
    offered.latest_message["programme_candidates"] = ["giam_sat_phan_bien", "fanpage"]
    assert interrupted(offered, "case_category")
    guessed = [{"entity": "programme", "value": "cuu_tro", "extractor": "ProgrammeClassifier"}]
    assert interrupted(at_step("case_category", "nhà em khó khăn có được giúp gì không",
                               "ask_programme", entities=guessed), "case_category")


def test_a_shrug_read_as_a_withdrawal_is_no_interruption() -> None:
    """"không biết nữa" at the category step read as "hủy nhận tin" (stop 47, one trained model,
    0.54): it names no announcement, so it is the step's miss; a real withdrawal still interrupts."""
    assert not interrupted(at_step("case_category", "khong biet nua", "unsubscribe", 0.54),
                           "case_category")
    for text in ("không muốn nhận tin nữa", "dung gui tin nua phien qua", "hủy đăng ký"):
        assert interrupted(at_step("case_category", text, "unsubscribe", 0.9), "case_category")


async def test_a_shrug_read_as_a_withdrawal_counts_as_a_miss() -> None:
    slots, said = await validate(at_step("case_category", "khong biet nua", "unsubscribe", 0.54))
    assert slots["case_category"] is None and slots[MISSES_SLOT] == 1.0
    assert said == [reply_text("case_category_missed")]


def test_at_the_description_step_only_a_short_sure_request_interrupts() -> None:
    assert interrupted(at_step("case_content", "gặp cán bộ", "request_human", 0.9),
                       "case_content")
    long_text = ("hôm qua tôi ra phường hỏi đơn của tôi sao rồi mà cán bộ không trả lời, "
                 "cống ngõ 5 vẫn tắc, nước tràn vào nhà")
    assert not interrupted(at_step("case_content", long_text, "check_status", 0.9),
                           "case_content")
    assert not interrupted(at_step("case_content", "gặp cán bộ", "request_human", 0.6),
                           "case_content")
    assert interrupted(at_step("case_category", "gặp cán bộ", "request_human", 0.6),
                       "case_category")


async def test_two_misses_in_a_row_offer_a_person() -> None:
    first, said = await validate(at_step("case_category", "linh tinh gì đó", "inform"))
    assert first["case_category"] is None and first[MISSES_SLOT] == 1.0
    assert SECOND_MISS not in said
    second_tracker = at_step("case_category", "cái kia", "inform", **{MISSES_SLOT: 1.0})
    dispatcher = CollectingDispatcher()
    events = await ValidateCaseForm().run(dispatcher, second_tracker, DOMAIN)
    assert slots_set(events)[MISSES_SLOT] == 2.0
    offered = [m for m in dispatcher.messages if m.get("text") == SECOND_MISS]
    assert offered and any(b["payload"] == "/request_human" for b in offered[0]["buttons"])


async def test_consent_typed_as_the_button_title_then_a_miss_then_a_person() -> None:
    slots, _ = await validate(at_step("case_consent", "Gửi ẩn danh", "inform"))
    assert slots["case_consent"] is False
    slots, said = await validate(at_step("case_consent", "hmm", "inform", **{MISSES_SLOT: 1.0}))
    assert slots[MISSES_SLOT] == 2.0 and SECOND_MISS in said


async def test_resume_says_the_draft_is_kept_and_pause_stops_the_form() -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionResumeCase().run(dispatcher, at_step("case_unit", "x", "inform"), DOMAIN)
    assert "vẫn được giữ" in texts(dispatcher)[0] and slots_set(events)[MISSES_SLOT] is None
    events = await ActionPauseCase().run(CollectingDispatcher(),
                                         at_step("case_unit", "x", "inform"), DOMAIN)
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    assert not any(e.get("name") in DRAFT for e in events if e.get("event") == "slot")


@pytest.mark.parametrize("step,text,intent", [
    ("case_unit", "phường Láng", "ask_contact"),
    ("case_category", "môi trường", "ask_programme"),
    ("case_consent", "đồng ý", "request_human"),
    ("case_phone", "0912 345 678", "check_status"),
])
async def test_a_valid_answer_to_the_step_never_interrupts(step: str, text: str,
                                                           intent: str) -> None:
    """Whatever the NLU made of it, the step's own answer fills the step."""
    tracker = at_step(step, text, intent, **({"case_consent": True} if step == "case_phone"
                                             else {}))
    assert not interrupted(tracker, step)
    slots, _ = await validate(tracker)
    assert slots.get(step) not in (None, "")


def test_a_place_split_by_the_entity_extractor_is_joined_back() -> None:
    """Issue 11, item 5: the CRF found "p" and "Cầu Giấy"; "p" alone names no ward."""
    from actions.common import first_place

    entities = [{"entity": "location", "value": "p", "start": 0, "end": 1},
                {"entity": "location", "value": "Cầu Giấy", "start": 3, "end": 11}]
    tracker = make_tracker("p. Cầu Giấy", "inform", entities)
    assert first_place(tracker, "location", "unit") == "p. Cầu Giấy"
    apart = make_tracker("ngõ 5 và phường Láng", "inform", [
        {"entity": "location", "value": "ngõ 5", "start": 0, "end": 5},
        {"entity": "location", "value": "phường Láng", "start": 9, "end": 20}])
    assert first_place(apart, "location", "unit") == "ngõ 5"


@pytest.mark.parametrize("place", ["phuong Lang", "phường Láng", "xa Soc Son"])
async def test_a_description_that_is_only_a_place_keeps_the_place_and_asks_what_happened(
        place: str) -> None:
    """Stop 47, tried on the chat page: "phuong Lang" typed at the description step became the
    case's whole text. The place goes to the place step; what happened is asked again."""
    tracker = make_tracker(place, "inform", slots={"case_kind": "petition", "case_key": "k",
                                                   "requested_slot": "case_content"})
    tracker.active_loop = {"name": "case_form"}
    slots, said = await validate(tracker)
    assert slots.get("case_content") is None
    assert slots.get("case_unit") in ("p_lang", "x_soc_son")
    assert said == [reply_text("case_content_only_place")]


@pytest.mark.parametrize("text", ["ngập ở phường Láng", "đèn đường hỏng"])
async def test_a_description_naming_a_place_is_taken(text: str) -> None:
    # A sender of its own: the spam rate limit counts per sender, and other tests send adverts.
    tracker = make_tracker(text, "submit_petition", sender_id=f"place-{abs(hash(text))}",
                           slots={"case_kind": "petition", "case_key": "k",
                                  "requested_slot": "case_content"})
    tracker.active_loop = {"name": "case_form"}
    slots, said = await validate(tracker)
    assert slots.get("case_content") == text, said
