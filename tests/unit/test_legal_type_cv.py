"""The cross-validation behind the legal-type thresholds (``./mttq legal-type --cv``): it reads
only the training examples, and its sweep moves the figures the way the thresholds say."""

from __future__ import annotations

import io

import pytest

from bot.cases import legal_type as lt
from bot.cases.legal_type_cv import out_of_fold, report, score


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, dict[str, float]]]:
    return out_of_fold(folds=2, repeats=1)


def test_every_example_gets_one_out_of_fold_prediction(rows) -> None:
    assert len(rows) == len(lt.load_examples())
    assert {gold for gold, _ in rows} == set(lt.LEGAL_TYPES)
    assert all(abs(sum(p.values()) - 1.0) < 1e-6 for _, p in rows)


def test_a_zero_floor_makes_everything_a_to_cao_and_protects_everyone(rows) -> None:
    f = score(rows, floor=0.0, protect=0.0, unsure_below=0.55)
    assert f.to_cao_recall == 1.0 and f.phan_anh_as_to_cao == 1.0
    assert f.protected_recall == 1.0 and f.others_protected == 1.0


def test_raising_the_floor_trades_to_cao_recall_for_accuracy(rows) -> None:
    low = score(rows, floor=0.2, protect=0.15, unsure_below=0.55)
    high = score(rows, floor=0.5, protect=0.15, unsure_below=0.55)
    assert low.to_cao_recall >= high.to_cao_recall
    assert low.phan_anh_as_to_cao >= high.phan_anh_as_to_cao
    # The classifier learns something: far better than the 1-in-4 of a guess.
    assert high.accuracy > 0.6


def test_the_report_names_each_threshold_and_the_values_in_use() -> None:
    out = io.StringIO()
    report(out, folds=2, repeats=1)
    text = out.getvalue()
    assert f"TO_CAO_FLOOR {lt.TO_CAO_FLOOR}" in text
    for name in ("TO_CAO_FLOOR 0.30:", "PROTECT_FLOOR 0.15:", "UNSURE_BELOW 0.55:"):
        assert name in text
