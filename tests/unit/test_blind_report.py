"""`./mttq evaluate` on a blind set written in parts: a set with no programme questions (or none
typed without diacritics) says "none in this set" instead of a programme accuracy of 0.000 that
read like a failed target."""
import pytest

from tools.evaluate import FALLBACK, Example, Prediction, _print_blind, blind_report


def _pred(text: str, gold: str, got: str, *, programme: str | None = None,
          found: str | None = None, split: str = "blind") -> Prediction:
    entities = [("programme", found)] if found else []
    return Prediction(Example(text, gold, [], split, programme), got, got, 0.9, entities)


def test_a_set_without_programme_questions_has_no_programme_accuracy(
        capsys: pytest.CaptureFixture[str]) -> None:
    report = blind_report([
        _pred("đường ngõ 5 ngập cả tuần", "submit_petition", "submit_petition"),
        _pred("hồ sơ KN-2611-0042 tới đâu rồi", "check_status", "request_human"),
    ])
    assert report["programme_accuracy"] is None and report["programme_named_right"] is None
    assert report["intent_accuracy_without_diacritics"] is None
    assert report["intent_accuracy"] == 0.5 and report["confidently_wrong_rate"] == 0.5
    _print_blind("set16.yml", {"tuned_on": False, **report})
    out = capsys.readouterr().out
    assert "programme_accuracy                   none in this set" in out
    assert "intent_accuracy_without_diacritics   none in this set" in out
    assert "intent_accuracy                      0.500  (target >= 0.95: NOT met)" in out
    assert "programme_named_right" not in out


def test_programme_accuracy_counts_named_and_offered(capsys: pytest.CaptureFixture[str]) -> None:
    offered = _pred("nha toi dot nat", "ask_programme", FALLBACK, programme="mai_am_dai_doan_ket",
                    split="blind_without_diacritics")
    offered.candidates = ["mai_am_dai_doan_ket", "quy_vi_nguoi_ngheo"]
    report = blind_report([
        _pred("quỹ vì người nghèo là gì", "ask_programme", "ask_programme",
              programme="quy_vi_nguoi_ngheo", found="quy_vi_nguoi_ngheo"),
        _pred("khi nào bầu cử", "ask_programme", "ask_programme", programme="bau_cu",
              found="hoa_giai_co_so"),
        offered,
    ])
    assert report["programme_accuracy"] == round(2 / 3, 4)
    assert report["programme_named_right"] == round(1 / 3, 4)
    assert report["intent_accuracy_without_diacritics"] == 0.0
    _print_blind("set13.yml", {"tuned_on": True, **report})
    out = capsys.readouterr().out
    assert "programme_accuracy                   0.667  (target >= 0.95: NOT met)" in out
    assert "used to tune: a biased measure" in out


def test_questions_read_as_petitions_count_the_right_programme_button(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Still confidently wrong (the form opens), but the report says how many of them the form
    offers the right programme on its first question."""
    right = _pred("nhà em nghèo, có được hỗ trợ sửa nhà không", "ask_programme", "submit_petition",
                  programme="mai_am_dai_doan_ket")
    right.hint = "mai_am_dai_doan_ket"
    other = _pred("18/11 năm nay tổ chức ở đâu vậy", "ask_programme", "submit_petition",
                  programme="ngay_hoi_dai_doan_ket")
    other.hint = "cuu_tro"
    report = blind_report([right, other])
    assert report["confidently_wrong_rate"] == 1.0
    assert report["questions_read_as_petitions"] == 2
    assert report["of_which_the_form_offers_the_programme"] == 1
    _print_blind("set20a.yml", {"tuned_on": False, **report})
    assert "questions_read_as_petitions          2  (of which the form's first question offers " \
           "the right programme: 1)" in capsys.readouterr().out
