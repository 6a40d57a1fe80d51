"""The contempt model: a bare insult without an insult word gets the calm reply; a complaint as
rude and sarcastic as it never does (issue 12). Phrases here are this test's own, none of them
in ``content/moderation/contempt.tsv`` (checked), so they test what the model generalises to."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.conversation.insult_policy import calm_reply_due
from bot.moderation.contempt import (
    CONTEMPT_FILE,
    THRESHOLD,
    contempt_model,
    contempt_probability,
    read_contempt,
)
from bot.moderation.learned import LearnedModel

ROOT = Path(__file__).resolve().parents[2]

BARE_CONTEMPT = [
    ("mat tran gi ma ngoi choi xoi nuoc ca ngay", "nlu_fallback"),
]
GENUINE = [
    ("cống đầu hẻm 12 nghẹt cả tuần rồi, phường giỏi quá ha, xuống coi giùm đi", "submit_petition"),
    ("giỏi ghê, đèn đường tổ 3 tắt hai tuần mà không ai sửa", "submit_petition"),
    ("cho hỏi quỹ vì người nghèo nhận tiền ở đâu", "ask_programme"),
    # Short greetings and thanks score like short jibes: their intents are never overridden.
    ("hi bot", "greet"),
    ("tks ad", "thank"),
]


@pytest.fixture(scope="module")
def model() -> LearnedModel:
    return contempt_model()


def test_the_phrases_here_are_not_training_lines() -> None:
    known = {line.text.casefold() for line in read_contempt()}
    for text, _ in BARE_CONTEMPT + GENUINE:
        assert text.casefold() not in known, text


@pytest.mark.parametrize(("text", "intent"), BARE_CONTEMPT)
def test_contempt_without_an_insult_word_gets_the_calm_reply(
        model: LearnedModel, text: str, intent: str) -> None:
    assert calm_reply_due(text, intent, [], 0.9, model)


@pytest.mark.parametrize(("text", "intent"), GENUINE)
def test_a_genuine_message_never_gets_it(model: LearnedModel, text: str, intent: str) -> None:
    assert not calm_reply_due(text, intent, [], 0.9, model)


def test_sarcasm_around_a_problem_scores_low(model: LearnedModel) -> None:
    for text, intent in GENUINE:
        if intent == "submit_petition":
            probability = contempt_probability(text, model)
            assert probability is not None and probability < THRESHOLD, text


def test_an_insult_the_rules_take_as_a_case_is_calmed_when_the_model_is_all_but_sure(
        model: LearnedModel) -> None:
    """"ăn tiền dân" is a word of money to the gate's cue list, so the rules would take the
    insult as a case; the model reads it as the insult it is. The same words around a concrete
    problem stay a case."""
    assert calm_reply_due("bon can bo an tien dan, ngu nhu bo", "submit_petition", [], 0.9,
                          model)
    assert not calm_reply_due(
        "bon can bo an tien dan, cong ngo 7 tac ca tuan khong ai xuong thong, ngu nhu bo",
        "submit_petition", [], 0.9, model)


def test_feedback_is_calmed_only_when_the_model_is_all_but_sure(model: LearnedModel) -> None:
    assert calm_reply_due("con bot này nói chuyện như cái đài rè", "give_feedback", [], 0.9,
                          model)
    assert not calm_reply_due("góp ý: bot trả lời chậm quá, nên thêm nút gọi điện cho cán bộ",
                              "give_feedback", [], 0.9, model)


def test_an_erasure_request_worded_with_contempt_is_still_answered(model: LearnedModel) -> None:
    assert not calm_reply_due("xóa dữ liệu của tôi đi, trang vô tích sự", "delete_my_data", [],
                              0.9, model)


def test_the_training_file_holds_no_line_of_a_blind_set() -> None:
    blind: set[str] = set()
    for path in (ROOT / "tests" / "data" / "moderation_blind").glob("*.tsv"):
        with path.open(encoding="utf-8", newline="") as handle:
            blind |= {str(row.get("text") or "").strip().casefold()
                      for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)}
    lines = read_contempt()
    assert len(lines) >= 900
    assert {line.label for line in lines} == {"insult", "genuine"}
    # Compared folded: "lu bu nhin" is the same line as "lũ bú nhìn".
    folded_blind = {_folded(text) for text in blind}
    assert not [line.text for line in lines if _folded(line.text) in folded_blind]


def _folded(text: str) -> str:
    """Lower case, no diacritics, words only."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
    return " ".join(re.findall(r"\w+", "".join(
        c for c in text if unicodedata.category(c) != "Mn")))


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "contempt.tsv"
    bad.write_text("label\tkind\ttext\ninsult\tsarcasm\tok\nspam\tx\tno\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":3:"):
        read_contempt(bad)
    assert CONTEMPT_FILE.exists()
