"""Vietnamese text normalisation that remembers where every character came from.

Citizens type the same word many ways: decomposed (NFD) or composed (NFC) Unicode, ``hoà`` or
``hòa``, ``ko`` for ``không``, with or without diacritics. The NLU must see one form, but entity
values and token offsets must still point into the text the citizen actually typed (Rasa takes
entity values from the original message by offset). So every function here builds the normalised
string together with a span map: ``spans[i]`` is the ``(start, end)`` range of the *original*
text that produced normalised character ``i``.

This module has no Rasa import; the graph components in :mod:`bot.nlu.components` wrap it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

#: Common teencode and chat abbreviations -> full Vietnamese words. Keys are lower-case.
#: Only unambiguous ones: "bn" (bạn / bao nhiêu), "dk" (được / đăng ký), "v" (vậy / v.v.),
#: "ty" (công ty) and "kg" (kilogram) are left alone.
TEENCODE: dict[str, str] = {
    "ko": "không",
    "k": "không",
    "kh": "không",
    "khg": "không",
    "hok": "không",
    "hông": "không",
    "dc": "được",
    "đc": "được",
    "mn": "mọi người",
    "mng": "mọi người",
    "ad": "admin",
    "e": "em",
    "a": "anh",
    "j": "gì",
    "ji": "gì",
    "vs": "với",
    "r": "rồi",
    "z": "vậy",
    "ntn": "như thế nào",
    "sdt": "số điện thoại",
    "sđt": "số điện thoại",
    "đt": "điện thoại",
    "cx": "cũng",
    "cg": "cũng",
    "bt": "biết",
    "mk": "mình",
    "mik": "mình",
    "ng": "người",
    "nc": "nói chuyện",
    "trc": "trước",
    "tks": "cảm ơn",
    "thks": "cảm ơn",
    "thanks": "cảm ơn",
    "thank": "cảm ơn",
    "ok": "được",
    "oke": "được",
    "okie": "được",
    "oki": "được",
    "ib": "nhắn tin",
    "inbox": "nhắn tin",
    "nhìu": "nhiều",
    "lm": "làm",
    "mttq": "mặt trận tổ quốc",
    "ubnd": "ủy ban nhân dân",
    "hđnd": "hội đồng nhân dân",
    "hdnd": "hội đồng nhân dân",
}

_TONE_MARKS = {
    "\u0301": "acute",
    "\u0300": "grave",
    "\u0309": "hook",
    "\u0303": "tilde",
    "\u0323": "dot",
}
_WORD_RE = re.compile(r"\w+", re.UNICODE)
#: Chunks inside which nothing is expanded: links, e-mail addresses, codes and numbers.
_VERBATIM_CHUNK = re.compile(r"\S*(?:\d|://|www\.|@)\S*", re.UNICODE)


@dataclass(frozen=True)
class Normalized:
    """A normalised text and, per character, the original span it came from."""

    text: str
    spans: tuple[tuple[int, int], ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` range of :attr:`text` back to the original text."""
        if start >= end or not self.spans:
            anchor = self.spans[start][0] if start < len(self.spans) else (
                self.spans[-1][1] if self.spans else 0
            )
            return anchor, anchor
        return self.spans[start][0], self.spans[end - 1][1]


class _Builder:
    """Accumulates output characters with their original spans."""

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.spans: list[tuple[int, int]] = []

    def add(self, text: str, span: tuple[int, int]) -> None:
        for ch in text:
            self.chars.append(ch)
            self.spans.append(span)

    def build(self) -> Normalized:
        return Normalized("".join(self.chars), tuple(self.spans))


def _clusters(text: str) -> Iterable[tuple[str, int, int]]:
    """Yield (cluster, start, end): a base character followed by its combining marks."""
    i = 0
    n = len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        yield text[i:j], i, j
        i = j


def compose(text: str) -> Normalized:
    """Unicode NFC, cluster by cluster, so NFD input maps back to its original offsets."""
    out = _Builder()
    for cluster, start, end in _clusters(text):
        out.add(unicodedata.normalize("NFC", cluster), (start, end))
    return out.build()


def _split_tone(ch: str) -> tuple[str, str]:
    """Split a composed vowel into (vowel without tone mark, tone combining mark or '')."""
    decomposed = unicodedata.normalize("NFD", ch)
    tone = ""
    rest = []
    for c in decomposed:
        if c in _TONE_MARKS:
            tone = c
        else:
            rest.append(c)
    return unicodedata.normalize("NFC", "".join(rest)), tone


def _with_tone(vowel: str, tone: str) -> str:
    return unicodedata.normalize("NFC", vowel + tone) if tone else vowel


@lru_cache(maxsize=1 << 16)
def _place_tone(word: str) -> str:
    """Move the tone of an open ``oa``/``oe``/``uy`` syllable to the first vowel.

    ``hoà``→``hòa``, ``khoẻ``→``khỏe``, ``thuỷ``→``thủy`` (the placement underthesea uses). A
    syllable with a final consonant (``hoàng``, ``thuyền``) is already unambiguous and is left
    as it is. The result always has the same length as the input, so spans stay valid.
    """
    if len(word) < 2:
        return word
    lower = word.lower()
    for pair in ("oa", "oe", "uy"):
        # Only the last two letters: the pair must close the syllable.
        base_last, tone_last = _split_tone(lower[-1])
        base_prev, tone_prev = _split_tone(lower[-2])
        if base_prev + base_last != pair or not tone_last or tone_prev:
            continue
        if len(lower) >= 3 and lower[-3] == "q" and pair == "uy":
            # "quý": 'u' belongs to the consonant "qu", the tone already sits on the nucleus.
            return word
        if len(lower) >= 3 and lower[-3] == "g" and pair == "uy":
            return word
        prev_char, last_char = word[-2], word[-1]
        moved_prev = _with_tone(prev_char, tone_last)
        moved_last = _split_tone(last_char)[0]
        return word[:-2] + moved_prev + moved_last
    return word


def place_tones(norm: Normalized) -> Normalized:
    """Apply :func:`_place_tone` to every word; lengths never change."""
    text = _WORD_RE.sub(lambda m: _place_tone(m.group(0)), norm.text)
    return Normalized(text, norm.spans)


def collapse_whitespace(norm: Normalized) -> Normalized:
    """Turn every run of whitespace into one space and trim both ends."""
    out = _Builder()
    pending: tuple[int, int] | None = None
    for ch, span in zip(norm.text, norm.spans, strict=True):
        if ch.isspace():
            if pending is None:
                pending = span
            continue
        if pending is not None and out.chars:
            out.add(" ", pending)
        pending = None
        out.add(ch, span)
    return out.build()


def expand_teencode(norm: Normalized, table: dict[str, str] | None = None) -> Normalized:
    """Replace whole-word chat abbreviations; each expanded character maps to the short form."""
    table = TEENCODE if table is None else table
    verbatim = [m.span() for m in _VERBATIM_CHUNK.finditer(norm.text)]
    out = _Builder()
    pos = 0
    for match in _WORD_RE.finditer(norm.text):
        start, end = match.span()
        for i in range(pos, start):
            out.add(norm.text[i], norm.spans[i])
        word = match.group(0)
        inside_verbatim = any(a <= start and end <= b for a, b in verbatim)
        replacement = None if inside_verbatim else table.get(word.lower())
        if replacement is None:
            for i in range(start, end):
                out.add(norm.text[i], norm.spans[i])
        else:
            span = (norm.spans[start][0], norm.spans[end - 1][1])
            out.add(replacement, span)
        pos = end
    for i in range(pos, len(norm.text)):
        out.add(norm.text[i], norm.spans[i])
    return out.build()


def normalize(text: str, *, teencode: bool = True) -> Normalized:
    """The one normalisation every incoming text goes through before tokenising.

    NFC → tone-mark placement → whitespace → teencode. Case is kept (featurisers lower-case, and
    the entity extractor uses capitalisation as a hint for names).
    """
    norm = compose(text or "")
    norm = place_tones(norm)
    norm = collapse_whitespace(norm)
    if teencode:
        norm = expand_teencode(norm)
    return norm


_STRIP_TABLE = {ord("đ"): "d", ord("Đ"): "D"}


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics character by character (length-preserving for NFC text)."""
    return "".join(map(_strip_char, text))


@lru_cache(maxsize=4096)
def _strip_char(ch: str) -> str:
    """One character without its diacritics (its own decomposition, cached: a few hundred
    distinct characters carry every Vietnamese text)."""
    if ord(ch) in _STRIP_TABLE:
        return _STRIP_TABLE[ord(ch)]
    decomposed = unicodedata.normalize("NFD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return base if len(base) == 1 else ch


@lru_cache(maxsize=1 << 15)
def fold(text: str) -> str:
    """Matching key for lookups that must ignore case, diacritics and spacing."""
    norm = normalize(text, teencode=False).text
    return " ".join(strip_diacritics(norm).lower().split())


@lru_cache(maxsize=1 << 15)
def fold_expanded(text: str) -> str:
    """What the NLU's own classifiers read (programme, clause edges): :func:`fold` after the
    full normalisation, teencode included, so "ko dc" and "không được" give the same key.

    One function for both, because two copies of the recipe would drift apart and the two
    components would then disagree about the same message. Cached, like :func:`fold`: the
    featurisers and classifiers of one training each fold the same few thousand messages, and a
    parse folds the same text several times.
    """
    return fold(normalize(text).text)
