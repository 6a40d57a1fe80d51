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
    """The folded first word of every phrase, or None when a phrase does not start with a
    letter or digit (its regex may match where no word begins)."""
    words = set()
    for term, _strict in entries:
        first = _FIRST_WORD_RE.match(fold(term))
        if first is None or first.start() != 0:
            return None
        words.add(first.group())
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
