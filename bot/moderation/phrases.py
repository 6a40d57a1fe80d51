"""A list of phrases compiled into one regex, and the words its phrases begin with.

Kept apart from :mod:`bot.moderation.rules` (which reads and checks the rule files) because this
is the matching engine's shape of a phrase list: one alternation, factored as a trie so common
beginnings are read once, bounded by word edges, longest phrase first; and its first words, which
let a rule be skipped for a message that has none of them (issue 12: under 1 ms a message).
"""

from __future__ import annotations

import re

from bot.moderation.normalise import (
    WORD_END,
    WORD_START,
    fold,
    lenient_atoms,
    lenient_pattern,
    trie_pattern,
)

__all__ = ["alternation", "first_words", "squashed_alternation"]

#: A phrase squashed to fewer letters than this ("ib", "vay") is found inside too many joined
#: runs by chance to be looked for there.
_MIN_SQUASHED = 6


_FIRST_WORD_RE = re.compile(r"[^\W_]+")


def first_words(entries: list[tuple[str, bool]]) -> frozenset[str] | None:
    """What every phrase begins with, folded: its first two words ("tai khoan", one space
    between), or its only word; None when a phrase does not start with a letter or digit (its
    regex may match where no word begins).

    Two words, because the first alone is often an everyday word ("không", "nhận": a third of
    all messages) and the phrase is then looked for in vain. A phrase's words are separated by
    what is not a letter or digit (a gap, "-", "/"), and a match of its regex covers the same
    words of the message, so its first two words are neighbours there too
    (:attr:`bot.moderation.normalise.NormalisedText.folded_starts` keeps the pairs)."""
    words = set()
    for term, _strict in entries:
        folded = fold(term)
        first = _FIRST_WORD_RE.match(folded)
        if first is None or first.start() != 0:
            return None
        words.add(" ".join(_FIRST_WORD_RE.findall(folded)[:2]))
    return frozenset(words)


def alternation(entries: list[tuple[str, bool]]) -> str:
    """One regex for many phrases: those that start and end with a letter share one pair of
    word-edge tests (most positions of a message fail the first test, so the phrases are not
    tried there), the longest phrase comes first so it is the one reported, and overlapping
    phrases ("nhà cái", "nhà cái uy tín") count as one occurrence."""
    ordered = sorted(dict.fromkeys(entries), key=lambda entry: len(entry[0]), reverse=True)
    bounded = [
        lenient_atoms(term, strict=strict)
        for term, strict in ordered
        if term[:1].isalnum() and term[-1:].isalnum()
    ]
    other = [
        lenient_pattern(term, strict=strict)
        for term, strict in ordered
        if not (term[:1].isalnum() and term[-1:].isalnum())
    ]
    branches = [f"{WORD_START}(?:{trie_pattern(bounded)}){WORD_END}"] if bounded else []
    return "|".join(branches + [f"(?:{p})" for p in other])


def squashed_alternation(terms: list[str]) -> str | None:
    """One regex for the phrases with everything but letters and digits removed ("sim rác" →
    "simrac"), longest first, to find inside the letter-spaced runs that the de-obfuscated view
    joined whole ("b á n s i m r á c" → "bansimrac"), where no word edge is left to test. None
    when no phrase is long enough (see ``_MIN_SQUASHED``)."""
    squashed = {re.sub(r"[^a-z0-9]", "", fold(term)) for term in terms}
    kept = sorted((s for s in squashed if len(s) >= _MIN_SQUASHED), key=len, reverse=True)
    return "|".join(re.escape(s) for s in kept) or None
