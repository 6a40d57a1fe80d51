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
    assert len(lines) >= 500
    assert {line.label for line in lines} == {"insult", "genuine"}
    assert not [line.text for line in lines if line.text.casefold() in blind]


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "contempt.tsv"
    bad.write_text("label\tkind\ttext\ninsult\tsarcasm\tok\nspam\tx\tno\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":3:"):
        read_contempt(bad)
    assert CONTEMPT_FILE.exists()
