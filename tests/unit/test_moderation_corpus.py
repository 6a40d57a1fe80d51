"""Ordinary Vietnamese text is not refused: at most 0.3% of a corpus nobody here wrote."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.moderation.corpus import corpus_path, corpus_report, read_sentences


def test_sentences_are_joined_back_from_the_tagged_columns(tmp_path: Path) -> None:
    tagged = tmp_path / "t.txt"
    rows = ["Quyền\tN", "tiếp cận\tV", "thông tin\tN", "(\tCH", "pháp luật\tN", ")\tCH",
            ",\tCH", "nay\tN", "", "1\tM", ".\tCH", ""]  # the second sentence is too short
    tagged.write_text("\n".join(rows), encoding="utf-8")
    assert read_sentences(tagged) == ["Quyền tiếp cận thông tin (pháp luật), nay"]


def test_at_most_three_in_a_thousand_ordinary_sentences_are_refused() -> None:
    path = corpus_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("underthesea ships no tagged test sentences: the corpus check cannot run")
        pytest.skip("no corpus in this underthesea")
    report = corpus_report(path)
    assert report is not None and report.total > 2000
    assert report.rate <= 0.003, report.summary()
