"""Vietnamese word segmentation with offsets into the citizen's original text.

underthesea's ``word_tokenize`` joins the syllables of a word (``kiến nghị``) but rewrites
characters as it goes (NFC, its own tone placement, quotes), so its words are not always
substrings of the input and Rasa's default offset search raises. Here each syllable underthesea
returns is located in the normalised text by a *fold key* (lower-case, no diacritics; the same
length as the text it came from), then mapped back to the original through the normaliser's span
map. Nothing is ever dropped silently: text underthesea did not account for becomes tokens of its
own.

No Rasa import: :mod:`bot.nlu.components` wraps this for the Rasa graph.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from bot.vietnamese.normalize import Normalized, normalize, strip_diacritics

#: Messages longer than this are segmented in chunks: underthesea's CRF is linear, but one
#: 10,000-character line without punctuation still costs more than splitting at spaces.
_CHUNK = 2000
#: Whitespace-delimited chunks that hold a digit, a link or an e-mail address: reference codes,
#: phone numbers, dates, house numbers. They are one token each, without trailing punctuation.
_PROTECTED = re.compile(
    r"(?<!\S)[^\s]*(?:\d|://|www\.|@)[^\s]*?(?=[.,;:!?)\]\"'”’]*(?:\s|$))",
    re.UNICODE,
)
#: How far ahead the first syllable of a word may be found (see :func:`_locate`).
_MAX_GAP = 64
_SKIPPED_CATEGORIES = ("P", "Z", "C")  # punctuation, separators, controls; emoji (So) stay
_FALLBACK_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Segment:
    """One token: its text for features, its lemma (folded) and its span in the original."""

    text: str
    lemma: str
    start: int
    end: int


def _key(text: str) -> str:
    """Length-preserving comparison key: lower-case, no diacritics (for NFC text)."""
    return strip_diacritics(text).lower()


@lru_cache(maxsize=1)
def _word_tokenize() -> Callable[[str], list[str]]:
    """Import underthesea lazily: it loads a CRF model, which no process should pay at import."""
    from underthesea import word_tokenize

    return word_tokenize  # type: ignore[no-any-return]


def _segment_words(text: str) -> list[str]:
    """underthesea's words, except that protected chunks (codes, numbers, links) stay whole and
    are never glued to a neighbouring word ("mã KN-2611-0042" is two tokens, not one)."""
    words: list[str] = []
    tokenize = _word_tokenize()
    pos = 0
    for match in _PROTECTED.finditer(text):
        words.extend(_underthesea(tokenize, text[pos : match.start()]))
        words.append(match.group(0))
        pos = match.end()
    words.extend(_underthesea(tokenize, text[pos:]))
    return words


def _underthesea(tokenize: Callable[[str], list[str]], text: str) -> list[str]:
    if not text.strip():
        return []
    words: list[str] = []
    for chunk in _chunks(text):
        try:
            words.extend(tokenize(chunk))
        except Exception:  # noqa: BLE001 - a segmenter failure must not lose the message
            words.extend(chunk.split())
    return words


def _chunks(text: str) -> list[str]:
    if len(text) <= _CHUNK:
        return [text]
    chunks = []
    rest = text
    while len(rest) > _CHUNK:
        cut = rest.rfind(" ", 0, _CHUNK)
        cut = _CHUNK if cut <= 0 else cut
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    return chunks


def _locate(
    norm_key: str, syllables: list[str], cursor: int
) -> list[tuple[int, int]] | None:
    """Find the syllables of one underthesea word in order, starting at ``cursor``.

    The first syllable may lie a little ahead (underthesea dropped something, e.g. an emoji;
    the caller keeps the gap as plain tokens); the next ones may only be separated from it by
    whitespace, or the "word" would span text underthesea did not see as one word.
    """
    found: list[tuple[int, int]] = []
    pos = cursor
    for syllable in syllables:
        key = _key(unicodedata.normalize("NFC", syllable))
        if not key:
            continue
        start = norm_key.find(key, pos)
        if start < 0:
            return None
        gap = norm_key[pos:start]
        if found and gap.strip() != "":
            return None
        if not found and len(gap) > _MAX_GAP:
            return None
        found.append((start, start + len(key)))
        pos = start + len(key)
    return found or None


def _fallback(norm: Normalized, start: int, end: int) -> list[tuple[int, int]]:
    return [
        (start + m.start(), start + m.end())
        for m in _FALLBACK_TOKEN.finditer(norm.text[start:end])
    ]


def segment_normalized(
    norm: Normalized, boundaries: frozenset[int] | None = None
) -> list[Segment]:
    """Segment normalised text; spans in the result refer to the *original* text.

    ``boundaries`` (original offsets where annotated entities start or end) split words that
    would straddle an entity edge; see :func:`_split_at`.
    """
    if not norm.text.strip():
        return []
    norm_key = _key(norm.text)
    pieces: list[tuple[int, int]] = []  # word spans in normalised text (start, end)
    cursor = 0
    for word in _segment_words(norm.text):
        syllables = word.split()
        located = _locate(norm_key, syllables, cursor)
        if located is None:
            continue
        if located[0][0] > cursor:
            # Text underthesea skipped or rewrote beyond recognition: keep it as plain tokens.
            pieces.extend(_fallback(norm, cursor, located[0][0]))
        pieces.append((located[0][0], located[-1][1]))
        cursor = located[-1][1]
    if cursor < len(norm.text):
        pieces.extend(_fallback(norm, cursor, len(norm.text)))

    segments = []
    for start, end in pieces:
        for sub_start, sub_end in _split_at(norm, start, end, boundaries):
            surface = norm.text[sub_start:sub_end]
            if all(unicodedata.category(ch)[0] in _SKIPPED_CATEGORIES for ch in surface):
                continue
            syllables = surface.split()
            orig_start, orig_end = norm.original_span(sub_start, sub_end)
            # text keeps the word whole ("kiến_nghị") so word features see words; the lemma is
            # the folded syllables ("kien nghi"), which look the same whether or not the
            # citizen typed diacritics and whatever underthesea made of text without them.
            segments.append(
                Segment("_".join(syllables), _key(" ".join(syllables)), orig_start, orig_end)
            )
    return segments


def _split_at(
    norm: Normalized, start: int, end: int, boundaries: frozenset[int] | None
) -> list[tuple[int, int]]:
    """Split a multi-syllable word where an annotated entity starts or ends inside it.

    Only training examples carry boundaries: underthesea sometimes glues a place name to the
    word before it ("đống rác ở ngõ"), and an entity must begin and end on token edges.
    """
    if not boundaries:
        return [(start, end)]
    parts = []
    part_start = start
    for match in re.finditer(r"\s+", norm.text[start:end]):
        gap_start, gap_end = start + match.start(), start + match.end()
        left_end = norm.original_span(part_start, gap_start)[1]
        right_start = norm.original_span(gap_end, gap_end + 1)[0]
        if left_end in boundaries or right_start in boundaries:
            parts.append((part_start, gap_start))
            part_start = gap_end
    parts.append((part_start, end))
    return parts


def segment(text: str) -> list[Segment]:
    """Normalise and segment ``text``; the convenience entry point for tools and tests."""
    return segment_normalized(normalize(text))
