"""The consent step reads what citizens type (issue 11/12): a refusal anywhere wins, agreement
needs agreeing words, an unclear answer is asked again; never consent by default."""

from __future__ import annotations

import pytest

from bot.cases.intake import read_consent
from bot.knowledge.replies import reply_text


@pytest.mark.parametrize(("text", "intent", "expected"), [
    ("Gửi ẩn danh", "affirm", False),  # the button's own title, typed: NLU may read "gửi" as yes
    ("gui an danh", "submit_petition", False),
    ("không đồng ý", "affirm", False),
    ("thôi khỏi", None, False),
    ("ko", "deny", False),
    ("/deny", "deny", False),
    ("/affirm", "affirm", True),
    ("Đồng ý", "affirm", True),
    ("dong y", None, True),
    ("ừ tôi đồng ý nhé", "affirm", True),
    ("có", "affirm", True),
    ("vâng ạ", "affirm", True),
    ("để tôi hỏi chồng đã", "affirm", None),  # not clear: ask again
    ("số 0912345678", "inform", None),
    ("", None, None),
])
def test_consent_is_read_from_the_words(text: str, intent: str | None,
                                        expected: bool | None) -> None:
    assert read_consent(text, intent) is expected


def test_the_notice_cites_the_law_in_force() -> None:
    notice = reply_text("case_consent_notice")
    assert "91/2025/QH15" in notice and "356/2025/NĐ-CP" in notice
    assert "13/2023" not in notice
    assert "Đồng ý" in notice and "Gửi ẩn danh" in notice
