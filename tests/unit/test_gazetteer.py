"""The gazetteer finds closed-list entities whatever the tokenizer did with the words around them."""

from __future__ import annotations

import pytest

from bot.nlu.gazetteer import find_matches, syllables, variant_key
from bot.nlu.segment import segment

TABLE = {
    "programme": {
        variant_key("quỹ vì người nghèo"): "quy_vi_nguoi_ngheo",
        variant_key("nhà đại đoàn kết"): "nha_dai_doan_ket",
    },
    "aspect": {variant_key("hỗ trợ ai"): "doi_tuong"},
}


def _found(text: str) -> list[tuple[str, str, str]]:
    units = syllables(text, segment(text))
    return [
        (etype, value, text[units[i][1] : units[j - 1][2]])
        for i, j, etype, value in find_matches([u[0] for u in units], TABLE)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "quỹ vì người nghèo là gì",
        "quy vi nguoi ngheo la gi",  # underthesea glues "ngheo la" without diacritics
        "cho hoi ve quy vi nguoi ngheo la gi",  # ... and "ve quy vi"
        "Quy Vi Nguoi Ngheo ho tro ai",
    ],
)
def test_programme_found_with_or_without_diacritics(text: str) -> None:
    programmes = [f for f in _found(text) if f[0] == "programme"]
    assert len(programmes) == 1
    etype, value, surface = programmes[0]
    assert value == "quy_vi_nguoi_ngheo"
    assert variant_key(surface) == variant_key("quy vi nguoi ngheo")  # exact span, no neighbour


def test_longest_match_wins_and_matches_do_not_overlap() -> None:
    found = _found("nha dai doan ket ho tro ai vay")
    assert ("programme", "nha_dai_doan_ket", "nha dai doan ket") in found
    assert ("aspect", "doi_tuong", "ho tro ai") in found


def test_nothing_is_guessed() -> None:
    assert _found("quy nguoi ngheo") == []  # not a known variant: no entity
