"""Categories typed in words (issue 11, item 3): what citizens report most (roads, drainage,
street lighting) has a home, and typing it is as good as tapping the button."""

from __future__ import annotations

import pytest

from bot.cases.intake import load_categories, match_category


@pytest.mark.parametrize(("typed", "code"), [
    ("ha tang", "ha_tang"),
    ("Hạ tầng", "ha_tang"),
    ("đường sá", "ha_tang"),
    ("cống", "ha_tang"),
    ("duong ngo bi ngap", "ha_tang"),
    ("đèn đường hỏng", "ha_tang"),
    ("tiếng ồn", "moi_truong"),
    ("rác thải", "moi_truong"),
    ("vỉa hè", "trat_tu_do_thi"),
])
def test_typed_categories_map_by_meaning(typed: str, code: str) -> None:
    assert match_category(typed) == code


def test_numbers_follow_the_button_order_and_buttons_fit_facebook() -> None:
    categories = load_categories()
    assert [match_category(str(n)) for n in range(1, len(categories) + 1)] == [
        c.code for c in categories]
    assert all(len(c.button_title) <= 20 for c in categories)
    assert len(categories) <= 13  # Messenger shows at most 13 quick replies
