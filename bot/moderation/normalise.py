"""Text views for moderation matching: exact Vietnamese, folded, and de-obfuscated.

Spammers and angry writers defeat naive keyword lists in three ways: they type without diacritics
("vay tien nhanh"), they dress letters up (NFD input, full-width or "math bold" letters, Cyrillic look-alikes, zero-width
spaces, ``hoà``/``hòa``), and they break words apart on purpose ("f.v.8.8", "c a s i n o",
"n0 hu", "đ.m"). Matching therefore runs on three views of one message, built once here:

``text``
    NFKC (which includes NFC and maps full-width/bold letters to plain ones), lower-case, stray
    combining marks and zero-width characters removed, letters typed three or more times in a row
    reduced to one ("chóóóó" → "chó"), one tone-mark placement for open ``oa``/``oe``/``uy``
    syllables (``hoà`` → ``hòa``), whitespace collapsed. Phrases with diacritics are matched here.
``folded``
    ``text`` with every diacritic stripped (``đ`` → ``d``), character for character, so an offset
    in one view is the same offset in the other. Teencode and regex patterns are matched here.
``compact``
    ``folded`` with leetspeak undone where a digit or symbol sits inside a word ("n0 hu",
    "v4y", "c@sino") and runs of single characters joined ("f.v.8.8" → "fv88", "c a s i n o" →
    "casino"). Only rules that ask for de-obfuscation look at it, because joining letters can
    also create words nobody wrote.

The NLU has its own normaliser (:mod:`bot.vietnamese.normalize`) that keeps offsets into the original
text for entities; moderation needs different things (NFKC, leetspeak, joined letters) and no
offsets into the original, so it keeps this small helper of its own.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache

__all__ = [
    "NormalisedText",
    "canonical",
    "fold",
    "lenient_pattern",
    "normalise",
]

_ZERO_WIDTH_RE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Letters never squeezed: "www.", "cccd" (the citizen ID card), "09xxx".
_KEEP_REPEATED = frozenset("wcx")
#: Cyrillic and Greek letters that look like Latin ones once lower-cased ("vаy" with a Cyrillic
#: "а", "nhà cáі"): NFKC leaves them alone, and Vietnamese is never written with them, so they
#: are read as the Latin letter they imitate. Mapped before NFC, so a tone mark typed after a
#: Cyrillic "а" composes with the Latin "a".
_HOMOGLYPHS = str.maketrans(
    "аеорсхуіјѕԁһӏԛԝкмтнвѐ" "αοικνρτυχ",
    "aeopcxyijsdhlqwkmthbè" "aoikvptux",
)

_TONE_MARKS = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")


def _tone_placements() -> dict[str, str]:
    """Map new-style placements ("hoà", "khoẻ", "thuỷ") to old-style ones ("hòa", "khỏe", "thủy").

    Both spellings are correct Vietnamese; which one wins does not matter as long as the text and
    the word lists are brought to the same one. Old style is what :mod:`bot.vietnamese.normalize` (and
    underthesea) use, so the project has one placement.
    """
    table: dict[str, str] = {}
    for tone in _TONE_MARKS:
        for first, second in (("o", "a"), ("o", "e"), ("u", "y")):
            new = first + unicodedata.normalize("NFC", second + tone)
            old = unicodedata.normalize("NFC", first + tone) + second
            table[new] = old
    return table


_TONE_PLACEMENT = _tone_placements()
# The pair must close the word ("hoàng" is the same in both styles), and in "quý"/"giúy" the
# "u" belongs to the consonant, so its tone stays on "y".
_TONE_PLACEMENT_RE = re.compile(
    "("
    + "|".join(re.escape(k) for k in _TONE_PLACEMENT if k[0] == "o")
    + "|(?<![qg])(?:"
    + "|".join(re.escape(k) for k in _TONE_PLACEMENT if k[0] == "u")
    + r"))(?![^\W\d_])"
)

# Leetspeak: digits only when a letter touches them and no digit does (so "0912..." and "500k"
# stay numbers), symbols only between two letters (so "ngay!" keeps its "!").
_LEET_DIGITS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
_LEET_SYMBOLS = {"@": "a", "$": "s", "!": "i", "|": "l", "€": "e"}
# Runs of one-character tokens: "f.v.8.8", "đ.m", "k.i.ế.m t.i.ề.n" (joined word by word) and
# "c a s i n o" (three or more letters apart, joined whole).
_PUNCT_RUN_RE = re.compile(r"(?<![^\W_])[^\W_](?:[.\-_*|/\\'\"`~+•·,:]{1,3}[^\W_](?![^\W_]))+")
_SPACE_RUN_RE = re.compile(r"(?<![^\W_])[^\W_](?: [^\W_](?![^\W_])){2,}")


_WORDS_RE = re.compile(r"[^\W_]+")


def _word_starts(view: str) -> dict[str, list[int]]:
    """Each word of ``view`` and where it starts, and each pair of neighbouring words ("tai
    khoan", one space between) and where its first word starts: a phrase of two words or more
    can only begin where its first two words stand side by side, which common first words
    ("không", "nhận", "tài") alone do not say (issue 12: under 1 ms a message)."""
    starts: dict[str, list[int]] = {}
    previous = ""
    previous_start = 0
    end = 0
    for word in _WORDS_RE.findall(view):
        # Only non-word characters stand between one word and the next, so the next word
        # starts where its letters are first found: the regex's own offsets, without building
        # a match object per word.
        start = view.find(word, end)
        end = start + len(word)
        starts.setdefault(word, []).append(start)
        if previous:
            starts.setdefault(previous + " " + word, []).append(previous_start)
        previous, previous_start = word, start
    return starts


@dataclass(frozen=True)
class NormalisedText:
    """The three matching views of one message (see the module docstring)."""

    text: str
    folded: str
    compact: str
    #: The letter-spaced runs that ``compact`` joined whole ("b á n s i m" → "bansim"), one
    #: space between runs; "" for almost every message. Joined whole, their words have no
    #: edges left, so de-obfuscating rules look for their phrases inside them, squashed.
    runs: str = ""

    @cached_property
    def folded_starts(self) -> dict[str, list[int]]:
        """Each word of the folded view (letters and digits; ``_`` separates, as in a gap) and
        each pair of neighbouring words, and where they start (:func:`_word_starts`). The text
        view has the same offsets."""
        return _word_starts(self.folded)

    @cached_property
    def compact_starts(self) -> dict[str, list[int]]:
        # Most messages hide nothing: then the two views are one string, indexed once.
        return self.folded_starts if self.compact == self.folded else _word_starts(self.compact)

    @cached_property
    def folded_words(self) -> frozenset[str]:
        return frozenset(self.folded_starts)

    @cached_property
    def compact_words(self) -> frozenset[str]:
        return self.folded_words if self.compact == self.folded else frozenset(self.compact_starts)

    def starts(self, name: str) -> dict[str, list[int]]:
        """The words and word pairs of view ``name`` and their starts: a phrase can only begin
        at one of them
        (see :func:`bot.moderation.engine._match_text`)."""
        return self.compact_starts if name == "compact" else self.folded_starts

    def words(self, name: str) -> frozenset[str]:
        """The words and word pairs of view ``name``: a phrase matched there begins with one of
        them (the text view folds to the folded view, letter for letter)."""
        return self.compact_words if name == "compact" else self.folded_words

    def view(self, name: str) -> str:
        """Return the view called ``name`` ("text", "folded" or "compact")."""
        if name == "text":
            return self.text
        if name == "folded":
            return self.folded
        if name == "compact":
            return self.compact
        if name == "runs":
            return self.runs
        raise ValueError(f"unknown view {name!r}")


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch == "đ" or ch == "Đ":
        return "d" if ch == "đ" else "D"
    decomposed = unicodedata.normalize("NFD", ch)
    return decomposed[0] if decomposed else ch


class _FoldTable(dict[int, str]):
    """``str.translate`` table that folds each character the first time it is met, then keeps
    it: folding in C, not a Python loop over the characters (run three times per message)."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = _fold_char(chr(code))
        return folded


_FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Strip diacritics character by character; the result has the same length as ``text``."""
    return text.translate(_FOLD_TABLE)


_RUN_OF_THREE_RE = re.compile(r"(.)\1{2,}", re.S)


def _squeeze_repeats(s: str) -> str:
    """Reduce a letter typed three or more times ("chóóóó", "quáaaa", "vayyyy") to one.

    Runs are found on the folded string (same length, so "óóo" is a run of "o"), by one regex
    scan: most messages have none, and a character-by-character loop cost a fifth of the time
    of moderating a message."""
    folded = fold(s)
    out: list[str] = []
    last = 0
    for run in _RUN_OF_THREE_RE.finditer(folded):
        start, end = run.span()
        if s[start].isalpha() and folded[start] not in _KEEP_REPEATED:
            out += [s[last:start], s[start]]
            last = end
    if not out:
        return s
    out.append(s[last:])
    return "".join(out)


def canonical(text: str) -> str:
    """The ``text`` view: what both messages and word-list phrases are compared in."""
    s = unicodedata.normalize("NFKC", text or "")
    s = _ZERO_WIDTH_RE.sub("", s)
    s = unicodedata.normalize("NFC", s.lower().translate(_HOMOGLYPHS))
    # Whatever combining mark is still loose after NFC has no letter to sit on: drop it.
    if any(map(unicodedata.combining, s)):  # seldom: the check runs in C, the join does not
        s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = _squeeze_repeats(s)
    s = _TONE_PLACEMENT_RE.sub(lambda m: _TONE_PLACEMENT[m.group(1)], s)
    # Runs of white space to one space, trimmed: str.split's white space is the regex's \s.
    return " ".join(s.split())


_LEET_CANDIDATE_RE = re.compile(
    "[" + re.escape("".join(_LEET_DIGITS) + "".join(_LEET_SYMBOLS)) + "]"
)


def _unleet(s: str) -> str:
    out = list(s)
    last = len(s) - 1
    # Only where a digit or symbol stands (most messages have few or none).
    for candidate in _LEET_CANDIDATE_RE.finditer(s):
        i = candidate.start()
        ch = s[i]
        before = s[i - 1] if i > 0 else ""
        after = s[i + 1] if i < last else ""
        if ch in _LEET_DIGITS:
            if (before.isalpha() or after.isalpha()) and not (before.isdigit() or after.isdigit()):
                out[i] = _LEET_DIGITS[ch]
        elif ch in _LEET_SYMBOLS and before.isalpha() and after.isalpha():
            out[i] = _LEET_SYMBOLS[ch]
    return "".join(out)


def _join_run(match: re.Match[str]) -> str:
    run = match.group(0)
    chars = [c for c in run if c.isalnum()]
    # "5-7", "1.000" or "0.5" are numbers, not hidden words.
    return "".join(chars) if any(c.isalpha() for c in chars) else run


def _compact(folded: str) -> tuple[str, str]:
    """The de-obfuscated view, and the letter-spaced runs it joined whole."""
    s = _unleet(folded)
    s = _PUNCT_RUN_RE.sub(_join_run, s)
    runs: list[str] = []

    def join(match: re.Match[str]) -> str:
        joined = _join_run(match)
        if joined != match.group(0):
            runs.append(joined)
        return joined

    s = _SPACE_RUN_RE.sub(join, s)
    return " ".join(s.split()), " ".join(runs)


@lru_cache(maxsize=64)
def normalise(text: str) -> NormalisedText:
    """Build all three views of ``text`` once; :func:`bot.moderation.moderate` calls this, and
    the learned second opinion (:mod:`bot.moderation.opinion`) right after it on the same
    message: the views are kept for the last few messages so they are built once."""
    canon = canonical(text)
    folded = fold(canon)
    compact, runs = _compact(folded)
    return NormalisedText(text=canon, folded=folded, compact=compact, runs=runs)


@lru_cache(maxsize=512)
def _sub_forms(ch: str) -> str:
    """Every way of typing ``ch`` with some of its diacritics left out ("ộ" → "oôọộ")."""
    if ch == "đ":
        return "dđ"
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    forms = {base}
    for mask in range(1, 1 << len(marks)):
        kept = "".join(m for i, m in enumerate(marks) if mask & (1 << i))
        forms.add(unicodedata.normalize("NFC", base + kept))
    return "".join(sorted(forms))


#: What may stand between a phrase's words: spaces, and the dots, dashes and stars that spam
#: puts between them ("vay.nhanh", "s . i . m", "tài-khoản"). Not a full stop that ends a word
#: and is followed by a space: that ends a sentence, and "… có người tới thử. Gọi 0399…" is not
#: "thử gọi" (stop 48).
_PHRASE_GAP = r"(?:[\s\-_*·•/|]|(?<![^\W_])\.|\.(?!\s))+"
#: Zero-width tests for the start and end of a word (letters and digits, any script).
WORD_START = r"(?<![^\W_])"
WORD_END = r"(?![^\W_])"


def lenient_atoms(phrase: str, *, strict: bool = False) -> list[str]:
    """The regex of :func:`lenient_pattern` one character of ``phrase`` at a time (a gap for a
    space), so that many phrases can share their common beginnings (:func:`trie_pattern`)."""
    parts: list[str] = []
    for ch in canonical(phrase):
        if ch == " ":
            parts.append(_PHRASE_GAP)
        elif strict or _fold_char(ch) == ch:
            parts.append(re.escape(ch))
        else:
            parts.append("[" + _sub_forms(ch) + "]")
    return parts


def trie_pattern(phrases: list[list[str]]) -> str:
    """One regex for many phrases given as atom lists, factored by common beginnings.

    ``a|ab|abc`` makes the regex engine re-read the same letters once per phrase at every word
    of a message; ``a(?:b(?:c)?)?`` reads them once. With 150 phrases per rule this is most of the
    cost of moderation (issue 12: under 1 ms per message). Longer continuations are tried first,
    so the longest phrase at a position is the one matched, as in a longest-first alternation.
    """
    trie: dict[str, dict] = {}
    end = ""  # an atom is never empty, so "" marks the end of a phrase
    for atoms in phrases:
        node = trie
        for atom in atoms:
            node = node.setdefault(atom, {})
        node[end] = {}

    depths: dict[int, int] = {}  # id(node) -> depth: computed once per node, not per ancestor

    def depth(node: dict[str, dict]) -> int:
        known = depths.get(id(node))
        if known is None:
            known = depths[id(node)] = max(
                (1 + depth(child) for atom, child in node.items() if atom), default=0)
        return known

    def emit(node: dict[str, dict]) -> str:
        children = sorted(((atom, child) for atom, child in node.items() if atom),
                          key=lambda item: depth(item[1]), reverse=True)
        branches = [atom + emit(child) for atom, child in children]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return "(?:" + body + ")?" if end in node else body

    return emit(trie)


def lenient_pattern(phrase: str, *, strict: bool = False, edges: bool = True) -> str:
    """A regex for ``phrase`` in the ``text`` view, bounded by word edges.

    Each letter with diacritics also accepts the same letter typed with fewer of them, so "cá độ"
    matches "ca do", "cá đô" and "ca độ" but not "ca đó" (a different word with other marks), and
    "lồn" does not match "lớn". With ``strict`` the phrase must be typed exactly, for words whose
    unaccented spelling is an everyday word ("buồi"/"buổi", "cặc"/"các"). Spaces in the phrase
    accept any run of spaces, dots, dashes and similar separators. With ``edges=False`` the
    word-edge tests are left for the caller to add.
    """
    parts = lenient_atoms(phrase, strict=strict)
    canon = canonical(phrase)
    body = "".join(parts)
    if not edges:
        return body
    left = WORD_START if canon[:1].isalnum() else ""
    right = WORD_END if canon[-1:].isalnum() else ""
    return left + body + right
