"""Table-driven tests of the Vietnamese normaliser and tokenizer: text in, tokens and offsets out.

Every case asserts the tokens *and* that each token's offsets point at the right piece of the
original text (Rasa takes entity values from the original by offset).
"""

from __future__ import annotations

import unicodedata

import pytest
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.components import (
    NORMALIZED_TEXT,
    VietnameseNormalizer,
    VietnameseTokenizer,
)
from bot.nlu.segment import segment
from bot.vietnamese.normalize import fold, normalize, strip_diacritics


def _tokens(text: str) -> list[tuple[str, str]]:
    """(token text, original text at the token's offsets) for every token."""
    return [(s.text, text[s.start : s.end]) for s in segment(text)]


NFD_TEXT = unicodedata.normalize("NFD", "Hòa giải ở cơ sở")

CASES = [
    # (id, text, expected [(token text, original substring)])
    (
        "words stay whole",
        "Tôi muốn gửi kiến nghị về rác thải",
        [("Tôi", "Tôi"), ("muốn", "muốn"), ("gửi", "gửi"), ("kiến_nghị", "kiến nghị"),
         ("về", "về"), ("rác_thải", "rác thải")],
    ),
    (
        "NFD input maps back to decomposed offsets",
        NFD_TEXT,
        [("Hòa", unicodedata.normalize("NFD", "Hòa")), ("giải", unicodedata.normalize("NFD", "giải")),
         ("ở", unicodedata.normalize("NFD", "ở")), ("cơ_sở", unicodedata.normalize("NFD", "cơ sở"))],
    ),
    (
        "old tone placement hoà becomes hòa",
        "hoà giải",
        [("hòa", "hoà"), ("giải", "giải")],
    ),
    (
        "uỷ ban becomes ủy ban",
        "Uỷ ban Mặt trận",
        [("Ủy", "Uỷ"), ("ban", "ban"), ("Mặt_trận", "Mặt trận")],
    ),
    (
        "without diacritics",
        "toi muon gui kien nghi",
        [("toi", "toi"), ("muon", "muon"), ("gui", "gui"), ("kien", "kien"), ("nghi", "nghi")],
    ),
    (
        "teencode expands, offsets keep the short form",
        "ko bt quỹ là j",
        [("không", "ko"), ("biết", "bt"), ("quỹ", "quỹ"), ("là", "là"), ("gì", "j")],
    ),
    (
        "multi-word teencode",
        "mn ơi",
        [("mọi", "mn"), ("người", "mn"), ("ơi", "ơi")],
    ),
    (
        "emoji stay tokens, punctuation goes",
        "cảm ơn 👍!!",
        [("cảm_ơn", "cảm ơn"), ("👍", "👍")],
    ),
    (
        "URL is one token",
        "xem https://mattran.org.vn/tin?id=1 nhé",
        [("xem", "xem"), ("https://mattran.org.vn/tin?id=1", "https://mattran.org.vn/tin?id=1"),
         ("nhé", "nhé")],
    ),
    (
        "reference code and digits",
        "mã KN-2611-0042 ngày 18/11",
        [("mã", "mã"), ("KN-2611-0042", "KN-2611-0042"), ("ngày", "ngày"), ("18/11", "18/11")],
    ),
    (
        "phone number",
        "sđt 0912345678",
        [("số", "sđt"), ("điện_thoại", "sđt"), ("0912345678", "0912345678")],
    ),
    (
        "extra whitespace",
        "  xin   chào \n bạn ",
        [("xin", "xin"), ("chào", "chào"), ("bạn", "bạn")],
    ),
    ("empty string", "", []),
    ("only spaces", "   ", []),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tokens_and_offsets(text: str, expected: list[tuple[str, str]]) -> None:
    assert _tokens(text) == expected


def test_ten_thousand_characters_keep_every_offset_valid() -> None:
    sentence = "Đề nghị phường xử lý rác thải ở ngõ 5, tổ 12 ạ. "
    text = (sentence * (10_000 // len(sentence) + 1))[:10_000]
    segments = segment(text)
    assert len(segments) > 1500
    previous_end = 0
    for seg in segments:
        assert 0 <= seg.start < seg.end <= len(text)
        assert seg.start >= previous_end
        previous_end = seg.end
        assert strip_diacritics(text[seg.start : seg.end]).lower().split() == seg.lemma.split()


def test_mixed_scripts_never_crash_and_offsets_stay_inside() -> None:
    text = "Xin chào 你好 привет مرحبا 😀 kiến nghị"
    segments = segment(text)
    assert [s.text for s in segments][-1] == "kiến_nghị"
    for seg in segments:
        assert text[seg.start : seg.end].strip() != ""


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("hoà", "hòa"),
        ("khoẻ", "khỏe"),
        ("thuỷ", "thủy"),
        ("quý", "quý"),  # "qu" + y: the tone already sits on the nucleus
        ("hoàng", "hoàng"),  # closed syllable: unchanged
        ("HOÀ", "HÒA"),
    ],
)
def test_tone_mark_placement(raw: str, expected: str) -> None:
    assert normalize(raw, teencode=False).text == expected


def test_normalised_spans_cover_the_original() -> None:
    text = "ko  đc   ạ"
    norm = normalize(text)
    assert norm.text == "không được ạ"
    assert len(norm.spans) == len(norm.text)
    assert text[slice(*norm.original_span(0, 5))] == "ko"


@pytest.mark.parametrize(
    "a,b", [("Quỹ Vì Người Nghèo", "quy vi nguoi ngheo"), ("Hoà giải", "hoa giai"), ("Đà Nẵng", "da nang")]
)
def test_fold_ignores_case_and_diacritics(a: str, b: str) -> None:
    assert fold(a) == fold(b)


def test_components_in_rasa_pipeline_shape() -> None:
    """The normaliser stores its result; the tokenizer uses it and sets offsets on the message."""
    normalizer = VietnameseNormalizer(VietnameseNormalizer.get_default_config())
    tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
    message = Message(data={TEXT: "e muốn gửi kiến nghị"})
    normalizer.process([message])
    assert message.get(NORMALIZED_TEXT) == "em muốn gửi kiến nghị"
    tokenizer.process([message])
    tokens = message.get(TOKENS_NAMES[TEXT])
    assert [(t.text, t.start, t.end) for t in tokens] == [
        ("em", 0, 1), ("muốn", 2, 6), ("gửi", 7, 10), ("kiến_nghị", 11, 20)
    ]
    assert tokens[-1].lemma == "kien nghi"


def test_tokenizer_keeps_one_token_for_punctuation_only() -> None:
    tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
    message = Message(data={TEXT: " ??? "})
    tokenizer.process([message])
    tokens = message.get(TOKENS_NAMES[TEXT])
    assert [(t.text, t.start, t.end) for t in tokens] == [("???", 1, 4)]


def test_training_data_is_tokenized_with_entities_aligned() -> None:
    normalizer = VietnameseNormalizer(VietnameseNormalizer.get_default_config())
    tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
    text = "quỹ vì người nghèo là gì"
    message = Message(
        data={
            TEXT: text,
            "intent": "ask_programme",
            "entities": [{"start": 0, "end": 18, "entity": "programme", "value": "quy_vi_nguoi_ngheo"}],
        }
    )
    data = TrainingData([message])
    tokenizer.process_training_data(normalizer.process_training_data(data))
    tokens = message.get(TOKENS_NAMES[TEXT])
    starts = {t.start for t in tokens}
    ends = {t.end for t in tokens}
    assert 0 in starts and 18 in ends


def test_training_examples_split_words_at_entity_edges() -> None:
    """underthesea may glue a word to an entity; training tokens must still meet its edges."""
    from bot.nlu.segment import segment_normalized

    text = "đường Nguyễn Trãi ngập sâu"
    start, end = 0, text.index(" ngập")
    plain = segment_normalized(normalize(text))
    assert end not in {s.end for s in plain}  # "Nguyễn_Trãi_ngập" straddles the edge
    split = segment_normalized(normalize(text), frozenset({start, end}))
    assert start in {s.start for s in split} and end in {s.end for s in split}
    assert [text[s.start : s.end] for s in split] == ["đường", "Nguyễn Trãi", "ngập", "sâu"]


def test_fold_expanded_is_one_key_for_teencode_and_diacritics() -> None:
    """The programme classifier and the clause edges read the same key: typed without
    diacritics, in teencode or in full, a message folds to one string."""
    from bot.vietnamese.normalize import fold_expanded

    assert fold_expanded("Ko đc hả AD?") == fold_expanded("không được hả admin?")
    assert fold_expanded("Hòa  giải") == fold_expanded("hoa giai") == "hoa giai"
    assert fold_expanded("Hoà giải") != fold_expanded("hỏa giải x")
