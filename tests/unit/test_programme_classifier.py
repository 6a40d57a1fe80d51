"""The programme classifier (issue 11): labels from annotations or block metadata, content
sentences, and the joint decision that keeps a programme question from opening a petition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.programme import (
    CANDIDATES,
    HINT,
    OVERRIDDEN,
    ProgrammeClassifier,
    ProgrammeModel,
    content_texts,
    example_label,
    is_question,
    training_pairs,
    without_spans,
)

ROOT = Path(__file__).resolve().parents[2]


def test_label_from_the_annotation_or_from_the_block_metadata() -> None:
    named = Message.build("quỹ vnn là gì", "ask_programme", [
        {"entity": "programme", "value": "quỹ vnn", "start": 0, "end": 7}])
    assert example_label(named, {"quỹ vnn": "quy_vi_nguoi_ngheo"}) == (
        "quy_vi_nguoi_ngheo", [(0, 7)])
    described = Message.build("nhà dột nát có được giúp không", "ask_programme", None,
                              {"programme": "mai_am_dai_doan_ket"})
    assert example_label(described, {}) == ("mai_am_dai_doan_ket", [])
    assert example_label(Message.build("là gì", "ask_programme"), {}) == (None, [])


def test_the_name_is_cut_out_so_the_words_around_it_count() -> None:
    assert without_spans("đăng ký quỹ vnn ở đâu", [(8, 15)]) == "đăng ký ở đâu"


def test_question_shape_with_and_without_diacritics() -> None:
    assert is_question("có được hỗ trợ không ạ")
    assert is_question("lam sao de dang ky")
    assert not is_question("đèn đường hỏng cả tháng nay rồi")


def test_every_programme_has_content_sentences() -> None:
    pairs = content_texts(ROOT / "content")
    assert len({p for _, p in pairs}) == 13
    assert all(len(text) >= 3 for text, _ in pairs)


def test_the_model_learns_needs_from_the_training_data_and_content() -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    texts, labels = training_pairs(load_data(str(ROOT / "nlu_data" / "nlu")), ROOT / "content")
    model = ProgrammeModel().fit(texts, labels)
    # Phrases of the issue (not of any evaluation set): no programme is named.
    assert model.rank("nha toi ngheo lam, co duoc ho tro xay nha khong a")[0][0] == \
        "mai_am_dai_doan_ket"
    assert model.rank("lũ cuốn trôi hết đồ đạc, bà con vùng ngập cần quyên góp")[0][0] == \
        "cuu_tro"


def test_the_fast_ranking_gives_sklearns_probabilities() -> None:
    """``rank`` computes the probabilities without sklearn's sparse matrices (for parse
    latency); they must be sklearn's, whatever the text: typed, folded, unknown words, emoji,
    one character, a long message, and a model whose coef_ is stored either way."""
    texts = ["quỹ vì người nghèo", "ho ngheo xin ho tro", "nhà bị sập", "lũ lụt cứu trợ",
             "bầu cử đại biểu", "giam sat cong dong", "hòa giải", "hàng việt"]
    labels = ["quy_vi_nguoi_ngheo", "quy_vi_nguoi_ngheo", "mai_am_dai_doan_ket", "cuu_tro",
              "bau_cu", "giam_sat_dau_tu_cong_dong", "hoa_giai_co_so", "uu_tien_hang_viet"]
    model = ProgrammeModel().fit(texts, labels)
    probes = ["quy vi nguoi ngheo o dau", "Nhà tôi nghèo lắm 😢, xây nhà được không?", "x",
              "zzzz qqqq", "bầu cử " * 200, "hoa giai tranh chap hang xom"]
    for text in probes:
        fast = dict(model.rank(text, top=len(model.labels)))
        reference = dict(zip(model.labels, model.rank_with_sklearn(text), strict=True))
        assert fast.keys() == reference.keys()
        for name, probability in reference.items():
            assert abs(fast[name] - probability) < 1e-12, (text, name)


class _Model:
    def __init__(self, ranking: list[tuple[str, float]]) -> None:
        self.ranking = ranking

    def rank(self, text: str, top: int | None = 3) -> list[tuple[str, float]]:
        return self.ranking[:top]


def _run(text: str, intent: str, confidence: float, ranking: list[tuple[str, float]],
         entities: list[dict[str, Any]] | None = None, asked: float = 0.2) -> Message:
    """``ranking``: the programme model's; ``asked``: the intent classifier's confidence in
    ask_programme, second after ``intent``."""
    component = ProgrammeClassifier({}, None, None, _Model(ranking))  # type: ignore[arg-type]
    message = Message({"text": text, "intent": {"name": intent, "confidence": confidence},
                       "intent_ranking": [{"name": intent, "confidence": confidence},
                                          {"name": "ask_programme", "confidence": asked}],
                       "entities": entities or []})
    component.process([message])
    return message


def test_a_clear_programme_is_added_as_an_entity_without_a_span() -> None:
    message = _run("nhà dột có được giúp không", "ask_programme", 0.9,
                   [("mai_am_dai_doan_ket", 0.8), ("quy_vi_nguoi_ngheo", 0.1)])
    (entity,) = message.get("entities")
    assert entity["value"] == "mai_am_dai_doan_ket" and "start" not in entity
    assert entity["extractor"] == "ProgrammeClassifier"


def test_two_close_programmes_are_offered_not_guessed() -> None:
    message = _run("ai được hỗ trợ", "ask_programme", 0.9,
                   [("quy_vi_nguoi_ngheo", 0.35), ("cuu_tro", 0.3)])
    assert message.get("entities") == []
    assert message.get(CANDIDATES) == ["quy_vi_nguoi_ngheo", "cuu_tro"]


def test_a_named_programme_is_left_alone() -> None:
    named = [{"entity": "programme", "value": "bau_cu", "start": 0, "end": 6}]
    # The meaning leans elsewhere, but not to the point of contradicting the name.
    message = _run("bầu cử khi nào", "ask_programme", 0.9,
                   [("cuu_tro", 0.6), ("bau_cu", 0.3)], named)
    assert message.get("entities") == named
    assert message.get(CANDIDATES) is None


def test_a_name_the_meaning_contradicts_gives_the_two_buttons() -> None:
    """"đại biểu" is one of the election's names, but a question about deputies meeting voters
    is the Front's oversight: both programmes are offered, neither answered outright."""
    named = [{"entity": "programme", "value": "bau_cu", "start": 0, "end": 7}]
    ranking = [("giam_sat_phan_bien", 0.9), ("thanh_tra_nhan_dan", 0.05), ("bau_cu", 0.03)]
    message = _run("đại biểu có về gặp dân không", "ask_programme", 0.9, ranking, named)
    assert [e for e in message.get("entities") if e["entity"] == "programme"] == []
    assert message.get(CANDIDATES) == ["giam_sat_phan_bien", "bau_cu"]
    # Still a named answer when the meaning is unsure, or when it also reads as the name.
    unsure = _run("đại biểu có về gặp dân không", "ask_programme", 0.9,
                  [("giam_sat_phan_bien", 0.6), ("bau_cu", 0.03)], named)
    assert unsure.get("entities") == named
    agrees = _run("đại biểu có về gặp dân không", "ask_programme", 0.9,
                  [("giam_sat_phan_bien", 0.75), ("bau_cu", 0.2)], named)
    assert agrees.get("entities") == named


def test_an_unsure_petition_that_asks_about_a_clear_programme_becomes_a_question() -> None:
    message = _run("nhà nghèo có được làm nhà không", "submit_petition", 0.6,
                   [("mai_am_dai_doan_ket", 0.8), ("cuu_tro", 0.1)])
    assert message.get("intent")["name"] == "ask_programme"
    assert message.get(OVERRIDDEN) == "submit_petition"
    # The petition drops to ask_programme's old place: no tie for the fallback's ambiguity check.
    ranking = message.get("intent_ranking")
    assert ranking[0]["name"] == "ask_programme"
    assert ranking[0]["confidence"] - ranking[1]["confidence"] > 0.03


def test_a_complaint_stays_a_petition() -> None:
    not_a_question = _run("đường ngõ 5 ngập cả tuần nay rồi", "submit_petition", 0.6,
                          [("giam_sat_dau_tu_cong_dong", 0.8), ("cuu_tro", 0.1)])
    assert not_a_question.get("intent")["name"] == "submit_petition"
    sure = _run("đường ngõ 5 ngập sao không ai xử lý", "submit_petition", 0.9,
                [("giam_sat_dau_tu_cong_dong", 0.8), ("cuu_tro", 0.1)])
    assert sure.get("intent")["name"] == "submit_petition"


def test_a_sure_petition_worded_as_a_question_carries_the_programme_hint() -> None:
    """Too sure to be turned into a question (0.95, the question 0.01), so it stays a petition,
    but the form will offer the programme it reads as (actions/case_questions.py)."""
    message = _run("nhà em nghèo lắm, mái dột hết rồi, có được hỗ trợ sửa không ạ",
                   "submit_petition", 0.95, [("mai_am_dai_doan_ket", 0.7), ("cuu_tro", 0.1)],
                   asked=0.01)
    assert message.get("intent")["name"] == "submit_petition"
    assert message.get(HINT) == "mai_am_dai_doan_ket"
    named = [{"entity": "programme", "value": "cuu_tro", "start": 0, "end": 7}]
    asked = _run("cứu trợ đợt này sao xóm tôi chưa nhận được?", "submit_petition", 0.95,
                 [("quy_vi_nguoi_ngheo", 0.6), ("cuu_tro", 0.3)], named, asked=0.01)
    assert asked.get(HINT) == "cuu_tro"  # the programme the citizen named


def test_a_petition_that_may_be_a_programme_question_is_asked_back() -> None:
    """The classifier is sure of the petition (0.9) but gave the programme question a real
    chance (0.15), and the programme is clear: the assistant asks (below the fallback's 0.50)
    with the programme first, instead of opening the form."""
    message = _run("nhà em nghèo lắm, mái dột hết rồi, có được hỗ trợ sửa không ạ",
                   "submit_petition", 0.9, [("mai_am_dai_doan_ket", 0.7), ("cuu_tro", 0.1)],
                   asked=0.15)
    assert message.get("intent") == {"name": "ask_programme", "confidence": 0.4}
    assert [r["name"] for r in message.get("intent_ranking")] == [
        "ask_programme", "submit_petition"]
    assert message.get(OVERRIDDEN) == "submit_petition"
    (entity,) = message.get("entities")  # what the clarification offers by name
    assert entity["value"] == "mai_am_dai_doan_ket"


def test_a_question_shaped_petition_about_a_less_clear_programme_is_asked_back_too() -> None:
    """Since stop 37 the programme need only be 0.3 likely (the form's hint needs 0.5) and the
    question 0.02: asking costs a real petition one tap, a question sent to the form more."""
    message = _run("nhà em khó khăn quá, con đi học không có tiền, có chỗ nào giúp không ạ",
                   "submit_petition", 0.93, [("quy_vi_nguoi_ngheo", 0.35), ("cuu_tro", 0.2)],
                   asked=0.03)
    assert message.get("intent") == {"name": "ask_programme", "confidence": 0.4}
    assert message.get(HINT) is None  # too unclear for the form's button
    assert message.get(CANDIDATES) == ["quy_vi_nguoi_ngheo", "cuu_tro"]


def test_no_asking_back_without_a_question_a_chance_of_one_or_a_likely_programme() -> None:
    sure = _run("nhà em nghèo lắm, mái dột hết rồi, có được hỗ trợ sửa không ạ",
                "submit_petition", 0.95, [("mai_am_dai_doan_ket", 0.7), ("cuu_tro", 0.1)],
                asked=0.01)
    assert sure.get("intent")["name"] == "submit_petition"
    statement = _run("đường ngõ 5 ngập cả tuần nay rồi", "submit_petition", 0.8,
                     [("giam_sat_dau_tu_cong_dong", 0.8), ("cuu_tro", 0.1)], asked=0.15)
    assert statement.get("intent")["name"] == "submit_petition"  # not worded as a question
    # A programme hint from a name (0.6 for the named one's place), but the meaning is unclear.
    named = [{"entity": "programme", "value": "cuu_tro", "start": 0, "end": 7}]
    unclear = _run("cứu trợ đợt này sao xóm tôi chưa nhận được?", "submit_petition", 0.85,
                   [("quy_vi_nguoi_ngheo", 0.25), ("cuu_tro", 0.2)], named, asked=0.15)
    assert unclear.get("intent")["name"] == "submit_petition"
    assert unclear.get(HINT) == "cuu_tro"
    # A question that demands an answer for a wrong is a petition (the form, with the hint).
    for demand in ("tiền cứu trợ lũ sao xóm tôi chưa nhận được?",
                   "đường ngõ 5 ngập sao không ai xử lý vậy"):
        message = _run(demand, "submit_petition", 0.8, [("cuu_tro", 0.7), ("mai_am_dai_doan_ket",
                       0.1)], asked=0.15)
        assert message.get("intent")["name"] == "submit_petition", demand
        assert message.get(HINT) == "cuu_tro"


def test_no_hint_without_a_question_a_likely_programme_or_a_petition() -> None:
    statement = _run("đường ngõ 5 ngập cả tuần nay rồi", "submit_petition", 0.95,
                     [("giam_sat_dau_tu_cong_dong", 0.8), ("cuu_tro", 0.1)])
    assert statement.get(HINT) is None
    unsure = _run("đường ngõ 5 ngập sao không ai xử lý", "submit_petition", 0.95,
                  [("giam_sat_dau_tu_cong_dong", 0.3), ("cuu_tro", 0.2)])
    assert unsure.get(HINT) is None
    feedback = _run("trang nên đăng lịch tiếp dân được không", "give_feedback", 0.95,
                    [("fanpage", 0.9), ("ban_tin", 0.05)])
    assert feedback.get(HINT) is None


def test_a_fact_past_its_date_gives_its_afterwards_text_and_validate_lists_it(
        tmp_path: Path) -> None:
    import datetime as dt

    from bot.knowledge.programme_files import load_knowledge_base
    from tools.validate import expiring_facts

    (tmp_path / "bau_cu.yml").write_text(
        "programme: bau_cu\ntitle: Bầu cử\nsummary: Tóm tắt.\naspects:\n"
        "  gioi_thieu: Giới thiệu.\n  thoi_gian:\n    text: Bầu cử sắp diễn ra ngày 15/3/2026.\n"
        "    valid_until: 2026-03-15\n    afterwards: Cuộc bầu cử đã diễn ra ngày 15/3/2026.\n",
        encoding="utf-8")
    programme = load_knowledge_base(tmp_path).get("bau_cu")
    assert programme.answer("thoi_gian", dt.date(2026, 3, 15)).startswith("Bầu cử sắp")
    assert programme.answer("thoi_gian", dt.date(2026, 3, 16)).startswith("Cuộc bầu cử đã")
    assert programme.expiring_within(60, dt.date(2026, 1, 20)) == [
        ("thoi_gian", dt.date(2026, 3, 15))]
    assert programme.expiring_within(60, dt.date(2025, 12, 1)) == []
    # The shipped content: the election answer expires in 2030, listed 60 days ahead.
    assert any("bau_cu.yml: thoi_gian" in n for n in expiring_facts(60, dt.date(2030, 5, 15)))
    assert expiring_facts(60, dt.date(2026, 12, 4)) == []


def test_an_unsure_question_naming_one_programme_is_answered() -> None:
    named = [{"entity": "programme", "value": "bau_cu", "start": 0, "end": 6}]
    component = ProgrammeClassifier({}, None, None, _Model([("cuu_tro", 0.5)]))  # type: ignore[arg-type]
    message = Message({"text": "bầu cử thì sao", "entities": named,
                       "intent": {"name": "ask_programme", "confidence": 0.4},
                       "intent_ranking": [{"name": "ask_programme", "confidence": 0.4},
                                          {"name": "check_status", "confidence": 0.38}]})
    component.process([message])
    assert message.get("intent") == {"name": "ask_programme", "confidence": 0.55}
    ranking = message.get("intent_ranking")
    assert ranking[0] == {"name": "ask_programme", "confidence": 0.55}
    assert ranking[0]["confidence"] - ranking[1]["confidence"] > 0.03


def test_an_unsure_question_naming_two_programmes_or_none_stays_unsure() -> None:
    two = [{"entity": "programme", "value": "bau_cu", "start": 0, "end": 6},
           {"entity": "programme", "value": "cuu_tro", "start": 10, "end": 17}]
    message = _run("bầu cử và cứu trợ", "ask_programme", 0.4, [("cuu_tro", 0.5)], two)
    assert message.get("intent")["confidence"] == 0.4
    unnamed = _run("cái đó thì sao", "ask_programme", 0.4, [("cuu_tro", 0.3), ("bau_cu", 0.3)])
    assert unnamed.get("intent")["confidence"] == 0.4
    petition = _run("bầu cử sai tên tui", "submit_petition", 0.4, [("bau_cu", 0.3)],
                    [{"entity": "programme", "value": "bau_cu", "start": 0, "end": 6}])
    assert petition.get("intent") == {"name": "submit_petition", "confidence": 0.4}


def test_whom_to_contact_about_a_named_programme_is_that_programme_s_answer() -> None:
    """"liên hệ ban thanh tra nhân dân ở đâu" read as ask_contact (the committee's own contacts),
    with ask_programme second: it is the programme's lien_he answer."""
    named = [{"entity": "programme", "value": "thanh_tra_nhan_dan", "start": 8, "end": 31}]
    message = _run("liên hệ ban thanh tra nhân dân ở đâu", "ask_contact", 0.7,
                   [("thanh_tra_nhan_dan", 0.9)], named, asked=0.25)
    assert message.get("intent") == {"name": "ask_programme", "confidence": 0.7}
    assert [r["name"] for r in message.get("intent_ranking")][:2] == ["ask_programme", "ask_contact"]
    assert message.get(OVERRIDDEN) == "ask_contact"
    aspects = [e["value"] for e in message.get("entities") if e["entity"] == "aspect"]
    assert aspects == ["lien_he"]
    # An aspect the citizen gave is kept, not replaced.
    timed = _run("ban thanh tra nhân dân họp khi nào, liên hệ ai", "ask_contact", 0.7,
                 [("thanh_tra_nhan_dan", 0.9)],
                 [*named, {"entity": "aspect", "value": "thoi_gian", "start": 31, "end": 39}])
    assert [e["value"] for e in timed.get("entities") if e["entity"] == "aspect"] == ["thoi_gian"]


def test_the_committee_s_own_contact_stays_ask_contact() -> None:
    """No programme named, or another intent second: the committee's address and hours."""
    unnamed = _run("số điện thoại mặt trận phường", "ask_contact", 0.7,
                   [("thanh_tra_nhan_dan", 0.9)])
    assert unnamed.get("intent")["name"] == "ask_contact"
    named = [{"entity": "programme", "value": "cuu_tro", "start": 0, "end": 7}]
    component = ProgrammeClassifier({}, None, None, _Model([("cuu_tro", 0.9)]))  # type: ignore[arg-type]
    message = Message({"text": "cứu trợ: trụ sở mặt trận ở đâu",
                       "intent": {"name": "ask_contact", "confidence": 0.7},
                       "intent_ranking": [{"name": "ask_contact", "confidence": 0.7},
                                          {"name": "request_human", "confidence": 0.2},
                                          {"name": "ask_programme", "confidence": 0.1}],
                       "entities": named})
    component.process([message])
    assert message.get("intent")["name"] == "ask_contact"


@pytest.mark.parametrize("text", [
    "hỏi về chương trình",             # the greeting's button, typed out
    "mat tran lam nhung gi",
    "chức năng của mặt trận",
])
def test_a_question_about_the_front_in_general_gets_the_menu_not_a_guess(text: str) -> None:
    """Stop 48: the classifier always ranks a programme, and was sure of one for questions that
    name none and describe no need; the assistant then answered one programme at random."""
    message = _run(text, "ask_programme", 0.95,
                   [("giam_sat_dau_tu_cong_dong", 0.8), ("giam_sat_phan_bien", 0.1)])
    assert message.get("entities") == []
    assert message.get(CANDIDATES) is None


def test_a_need_or_a_named_programme_is_no_general_question() -> None:
    from bot.nlu.general import is_general_question

    assert not is_general_question("nhà dột có được giúp không")
    assert not is_general_question("quỹ vì người nghèo là gì")
    assert not is_general_question("mặt trận có hỗ trợ hộ nghèo không")
