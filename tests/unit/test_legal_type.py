"""The legal-type classifier (issue 17): by meaning, offline, with the citizen's texts as content.

Only the dev set (tests/data/legal_type_dev) is read here; the blind set is measured once, by hand,
with `./mttq legal-type --eval`.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import yaml

from bot.cases import legal_type as lt
from bot.cases import legal_type_eval as lt_eval
from bot.cases.legal_type import (
    LEGAL_TYPES,
    LegalTypeError,
    choices,
    classify,
    explain,
    extra_question,
    features_text,
    protects_identity,
    to_cao_probability,
    unsure_question,
)
from bot.cases.legal_type_eval import evaluate, read_labelled

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content" / "legal_types"
DEV = ROOT / "tests" / "data" / "legal_type_dev" / "cases.tsv"


def test_training_is_quick_and_cached(tmp_path: Path) -> None:
    examples = tmp_path / "examples.yml"
    examples.write_text((CONTENT / "examples.yml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "cues.yml").write_text((CONTENT / "cues.yml").read_text(encoding="utf-8"),
                                       encoding="utf-8")
    # CPU time of this process: the two shared cores may be busy with other work.
    start = time.process_time()
    classify("Đường làng bị ngập", examples=examples)
    assert time.process_time() - start < 3.0
    start = time.process_time()
    classify("Đường làng bị ngập", examples=examples)
    assert time.process_time() - start < 0.5


def test_the_training_file_has_enough_varied_examples() -> None:
    data = yaml.safe_load((CONTENT / "examples.yml").read_text(encoding="utf-8"))
    for legal_type in LEGAL_TYPES:
        examples = data[legal_type]
        assert len(examples) >= 60
        assert any(e.isascii() for e in examples), f"{legal_type}: none without diacritics"
        assert len({len(e) < 60 for e in examples}) == 2, f"{legal_type}: all short or all long"


def test_the_dev_set_is_not_in_the_training_file() -> None:
    data = yaml.safe_load((CONTENT / "examples.yml").read_text(encoding="utf-8"))
    trained = {features_text(e) for items in data.values() for e in items}
    dev = [features_text(text) for _, text in read_labelled(DEV)]
    assert len(dev) >= 200
    assert not trained & set(dev)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The citizen's word is not the type.
        ("Tôi muốn khiếu nại quán karaoke đầu ngõ hát to đến nửa đêm", "phan_anh"),
        ("Ông cán bộ địa chính đòi 10 triệu mới chịu làm sổ cho nhà tôi", "to_cao"),
        ("toi to cao xa da thu hoi dat nha toi ma khong boi thuong", "khieu_nai"),
        ("Đề nghị phường làm thêm bãi giữ xe cho khu chợ", "kien_nghi"),
        ("ông trưởng thôn ăn chặn tiền hỗ trợ lũ của mấy hộ nghèo", "to_cao"),
    ],
)
def test_clear_messages(text: str, expected: str) -> None:
    guess = classify(text)
    assert guess.type == expected, guess
    assert {guess.type, *(t for t, _ in guess.alternatives)} == set(LEGAL_TYPES)
    assert abs(guess.confidence + sum(p for _, p in guess.alternatives) - 1) < 0.01


def test_an_empty_message_is_unsure() -> None:
    guess = classify("   ")
    assert guess.unsure


def test_to_cao_wins_from_its_floor_and_close_calls_are_unsure() -> None:
    guess = lt._decide({"phan_anh": 0.5, "to_cao": lt.TO_CAO_FLOOR, "kien_nghi": 0.1,
                        "khieu_nai": 0.4 - lt.TO_CAO_FLOOR})
    assert guess.type == "to_cao" and guess.unsure
    assert guess.alternatives[0][0] == "phan_anh"
    sure = lt._decide({"phan_anh": 0.9, "to_cao": 0.04, "kien_nghi": 0.03, "khieu_nai": 0.03})
    assert sure.type == "phan_anh" and not sure.unsure


def test_identity_is_protected_from_a_lower_floor_without_changing_the_type() -> None:
    below = lt.TO_CAO_FLOOR - 0.01
    assert lt.PROTECT_FLOOR < below
    # Between the two floors: another type wins, but the sender is protected.
    guess = lt._decide({"phan_anh": 0.6, "to_cao": below, "kien_nghi": 0.1,
                        "khieu_nai": 0.3 - below})
    assert guess.type == "phan_anh"
    assert to_cao_probability(guess) == pytest.approx(below)
    assert protects_identity(guess)
    # Below the lower floor: an ordinary sender.
    low = lt.PROTECT_FLOOR - 0.01
    ordinary = lt._decide({"phan_anh": 0.8, "to_cao": low, "kien_nghi": 0.1,
                           "khieu_nai": 0.1 - low})
    assert ordinary.type == "phan_anh" and not protects_identity(ordinary)
    # A tố cáo guess always protects.
    won = lt._decide({"phan_anh": 0.05, "to_cao": 0.9, "kien_nghi": 0.03, "khieu_nai": 0.02})
    assert protects_identity(won) and to_cao_probability(won) == pytest.approx(0.9)


def test_protected_recall_counts_tố_cáo_senders_and_the_others_it_costs(tmp_path: Path) -> None:
    rows = [
        ("to_cao", "Cán bộ địa chính xã đòi phải chung 10 triệu mới làm sổ đỏ cho dân."),
        ("phan_anh", "Đèn đường trong hẻm 12 hỏng cả tháng nay, tối đi rất tối."),
    ]
    report, guesses = evaluate(rows)
    expected = [protects_identity(g) for g in guesses]
    assert report.protected_recall == (1.0 if expected[0] else 0.0)
    assert report.protected_others == int(expected[1])
    assert "protected recall" in report.summary("x")


def test_dev_set_meets_the_targets() -> None:
    report, _ = evaluate(read_labelled(DEV))
    assert report.accuracy >= 0.90
    assert report.recall["to_cao"] >= 0.95
    assert report.protected_recall >= report.recall["to_cao"]


def test_texts_for_the_citizen_come_from_the_content_file() -> None:
    texts = yaml.safe_load((CONTENT / "texts.yml").read_text(encoding="utf-8"))["types"]
    for legal_type in LEGAL_TYPES:
        assert explain(legal_type) == " ".join(texts[legal_type]["explain"].split())
    assert "chuyển" in explain("khieu_nai") and "chuyển" in explain("to_cao")
    assert "trả lời" in explain("phan_anh") and "trả lời" in explain("kien_nghi")
    assert extra_question("phan_anh") is None and extra_question("kien_nghi") is None
    assert "quyết định" in (extra_question("khieu_nai") or "")
    assert "ngày nào" in (extra_question("khieu_nai") or "")
    assert "bí mật" in (extra_question("to_cao") or "")
    assert unsure_question().endswith("?")
    guess = classify("Đề nghị lắp thêm đèn đường ở hẻm 5")
    assert [t for t, _ in choices(guess)][0] == guess.type
    with pytest.raises(ValueError, match="unknown legal type"):
        explain("gop_y")


def test_a_short_examples_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "examples.yml"
    path.write_text("phan_anh: [a]\n", encoding="utf-8")
    (tmp_path / "cues.yml").write_text("{}\n", encoding="utf-8")
    with pytest.raises(LegalTypeError, match=r"examples.yml: phan_anh: needs a list of at least"):
        classify("x", examples=path)


def test_a_bad_labelled_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "cases.tsv"
    path.write_text("label\ttext\nphan_anh\tđường hỏng\ngop_y\tabc\n", encoding="utf-8")
    with pytest.raises(LegalTypeError, match=r"cases.tsv:3"):
        read_labelled(path)


def test_the_command_prints_the_figures_on_a_file() -> None:
    out = io.StringIO()
    assert lt_eval.main(["--eval", str(DEV)], out=out) == 0
    printed = out.getvalue()
    assert "accuracy" in printed and "tố cáo recall" in printed
    assert "protected recall" in printed
    for legal_type in LEGAL_TYPES:
        assert legal_type in printed


def test_the_command_refuses_to_print_blind_lines() -> None:
    with pytest.raises(SystemExit):
        lt_eval.main(["--eval", "--mistakes"], out=io.StringIO())
