"""One rendering of buttons for every channel: quick replies where they fit, numbers otherwise."""

from __future__ import annotations

import pytest

from bot.channels.render import (
    FACEBOOK,
    WEB,
    ZALO,
    Choice,
    Part,
    cut_title,
    numbered_text,
    render,
    resolve_number,
    split_text,
)
from bot.knowledge.replies import reply_text

GREET = {
    "text": "Xin chào! Bạn cần hỗ trợ gì ạ?",
    "buttons": [
        {"title": "Hỏi về chương trình", "payload": "/ask_programme"},
        {"title": "Gửi phản ánh, kiến nghị", "payload": "/submit_petition"},
        {"title": "Gặp cán bộ", "payload": "/request_human"},
    ],
}


def test_facebook_quick_replies_with_titles_cut_to_20() -> None:
    rendered = render(GREET, FACEBOOK)
    (part,) = rendered.parts
    assert part.text == GREET["text"]
    assert [c.title for c in part.quick_replies] == [
        "Hỏi về chương trình", "Gửi phản ánh, kiến…", "Gặp cán bộ"]
    assert all(len(c.title) <= 20 for c in part.quick_replies)
    assert [c.payload for c in part.quick_replies] == [
        "/ask_programme", "/submit_petition", "/request_human"]
    assert rendered.options == ()


def test_zalo_numbered_text() -> None:
    rendered = render(GREET, ZALO)
    (part,) = rendered.parts
    assert part.text == (
        "Xin chào! Bạn cần hỗ trợ gì ạ?\n\n"
        "1. Hỏi về chương trình\n2. Gửi phản ánh, kiến nghị\n3. Gặp cán bộ\n"
        "Nhắn số để chọn."
    )
    assert part.quick_replies == ()
    assert [o.payload for o in rendered.options] == [
        "/ask_programme", "/submit_petition", "/request_human"]


def test_more_than_13_choices_become_numbered_text_on_facebook() -> None:
    buttons = [{"title": f"Phường số {n}", "payload": f"/inform{{\"n\":{n}}}"} for n in range(14)]
    rendered = render({"text": "Chọn phường:", "buttons": buttons}, FACEBOOK)
    assert all(not p.quick_replies for p in rendered.parts)
    assert rendered.parts[0].text.startswith("Chọn phường:\n\n1. Phường số 0\n")
    assert rendered.parts[-1].text.endswith("14. Phường số 13\n" + reply_text("choice_number_hint"))
    assert len(rendered.options) == 14
    thirteen = render({"text": "Chọn phường:", "buttons": buttons[:13]}, FACEBOOK)
    assert len(thirteen.parts[0].quick_replies) == 13 and thirteen.options == ()


def test_quick_replies_ride_on_the_last_piece_of_a_long_text() -> None:
    text = ("Đoạn văn dài về chương trình. " * 100).strip()  # ~3,000 characters
    rendered = render({"text": text, "buttons": GREET["buttons"]}, FACEBOOK)
    assert len(rendered.parts) == 2
    assert all(len(p.text) <= 2000 for p in rendered.parts)
    assert rendered.parts[0].quick_replies == ()
    assert len(rendered.parts[1].quick_replies) == 3
    assert " ".join(p.text for p in rendered.parts) == text


def test_choices_without_text_get_a_prompt() -> None:
    rendered = render({"buttons": GREET["buttons"]}, FACEBOOK)
    assert rendered.parts[0].text == "Mời bạn chọn:"


def test_image_is_its_own_part_not_a_link_in_text() -> None:
    rendered = render({"text": "Sơ đồ điểm tiếp dân", "image": "https://example.org/map.png"},
                      ZALO)
    assert rendered.parts == (Part("Sơ đồ điểm tiếp dân"), Part(image="https://example.org/map.png"))


def test_quick_replies_as_rasa_sends_them() -> None:
    rendered = render({"text": "Có hay không?", "quick_replies": [
        {"title": "Có", "payload": "/affirm"}, {"title": "Không", "payload": "/deny"}]}, FACEBOOK)
    assert [c.payload for c in rendered.parts[0].quick_replies] == ["/affirm", "/deny"]


def test_web_keeps_every_button_whole() -> None:
    buttons = [{"title": "Một tiêu đề rất dài hơn hai mươi ký tự", "payload": f"/x{n}"}
               for n in range(20)]
    (part,) = render({"text": "Chọn", "buttons": buttons}, WEB).parts
    assert [c.title for c in part.quick_replies] == [b["title"] for b in buttons]


def test_empty_message_has_no_parts() -> None:
    assert render({}, FACEBOOK).parts == ()
    assert render({"text": "   "}, ZALO).parts == ()


@pytest.mark.parametrize(
    ("title", "limit", "expected"),
    [
        ("Gặp cán bộ", 20, "Gặp cán bộ"),
        ("Gửi phản ánh, kiến nghị", 20, "Gửi phản ánh, kiến…"),
        ("Một  hai\nba", 20, "Một hai ba"),
        ("12345678901234567890", 20, "12345678901234567890"),
        ("123456789012345678901", 20, "1234567890123456789…"),
    ],
)
def test_cut_title(title: str, limit: int, expected: str) -> None:
    assert cut_title(title, limit) == expected
    assert len(cut_title(title, limit)) <= limit


def test_split_text_prefers_paragraphs_then_lines_then_words() -> None:
    assert split_text("aaa\n\nbbb ccc", 8) == ["aaa", "bbb ccc"]
    assert split_text("aaa bbb\nccc ddd", 10) == ["aaa bbb", "ccc ddd"]
    assert split_text("aaa bbb ccc", 7) == ["aaa bbb", "ccc"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("  ", 10) == []
    long = "Phản ánh " * 500
    pieces = split_text(long, 2000)
    assert all(len(p) <= 2000 for p in pieces) and " ".join(pieces) == long.strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2", "/submit_petition"), (" 3 ", "/request_human"), ("1.", "/ask_programme"),
     ("số 2", "/submit_petition"), ("Số 1", "/ask_programme"), ("4", None), ("0", None),
     ("2 ạ", None), ("12", None), ("", None), ("hai", None)],
)
def test_resolve_number(text: str, expected: str | None) -> None:
    options = [Choice(b["title"], b["payload"]) for b in GREET["buttons"]]
    choice = resolve_number(text, options)
    assert (choice.payload if choice else None) == expected


def test_resolve_number_without_options() -> None:
    assert resolve_number("1", []) is None


def test_numbered_text_without_text() -> None:
    assert numbered_text("", [Choice("A", "/a")]) == "1. A\n" + reply_text("choice_number_hint")
