"""The literal strings a hand-written pattern cannot match without: a cheap test before the regex.

A rule's phrases are skipped when the message has none of their first words (see
:func:`bot.moderation.phrases.first_words`), but a hand-written regular expression used to run on
every message, and the thirty or so of them were half of the time of moderating a message
(issue 12: under 1 ms a message at p95). Most of them cannot match without some plain word:
``\\bnap\\s+\\d+...`` needs "nap"; ``\\b(?:cung cap|nhap|gui)\\s+...`` needs one of "cung cap",
"nhap", "gui". :func:`required_literals` finds such a set by walking the parsed pattern (the idea
of RE2's prefilter, much simplified): strings of which every match contains at least one.
The strings of every pattern are found in a message at once, by one Aho-Corasick automaton per
view (:func:`_literal_automata`); a regex runs only when one of its strings is there.

It must never say a pattern cannot match when it can (a missed scam is silent), so whatever it
does not understand (a back-reference, a large character class, a repeat that may be zero)
counts as "could be anything"; ``tests/unit/test_moderation_prefilter.py`` checks, on every
labelled message and the ordinary-text corpus, that the shortcut changes no rule's matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import product
from typing import Any, Protocol

import ahocorasick  # type: ignore[import-not-found]

try:  # Python 3.11+ keeps the parser here; 3.10 has the public modules.
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the Python version
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

__all__ = ["Prefilter", "pattern_first_words", "required_literals"]

_LITERAL = sre_constants.LITERAL
_ZERO_WIDTH = (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT)
_IN, _RANGE = sre_constants.IN, sre_constants.RANGE
_SUBPATTERN, _BRANCH = sre_constants.SUBPATTERN, sre_constants.BRANCH
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)

#: Above this many alternatives a set of exact strings is no longer worth tracking.
_MAX_EXACT = 64
#: A character class of more characters than this counts as "any character".
_MAX_CLASS = 8


class _Info:
    """What a piece of a pattern matches: exactly one of ``exact``, or (``exact`` None) text
    containing one of ``required`` (None: could be anything)."""

    __slots__ = ("exact", "required")

    def __init__(
        self, exact: frozenset[str] | None = None, required: frozenset[str] | None = None
    ) -> None:
        self.exact = exact
        self.required = required

    def requirement(self) -> frozenset[str] | None:
        found = self.exact if self.exact is not None else self.required
        return found if found and all(found) else None


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The more selective of two requirements that both hold (longest shortest string, then
    fewest strings): testing one of them is enough."""

    def score(s: frozenset[str] | None) -> tuple[int, int]:
        return (min(len(x) for x in s), -len(s)) if s and all(s) else (0, 0)

    return a if score(a) >= score(b) else b


def _class_chars(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    chars: set[str] = set()
    for op, arg in items:
        if op is _LITERAL:
            chars.add(chr(arg))
        elif op is _RANGE and arg[1] - arg[0] < _MAX_CLASS:
            chars.update(chr(c) for c in range(arg[0], arg[1] + 1))
        else:  # NEGATE, CATEGORY (\d, \w, \s), a wide range: too many characters
            return None
        if len(chars) > _MAX_CLASS:
            return None
    return frozenset(chars)


def _analyse(items: Any) -> _Info:
    exact: frozenset[str] = frozenset({""})
    best: frozenset[str] | None = None
    is_exact = True

    def close() -> None:
        """The run of exact strings so far ends here (something open-ended follows)."""
        nonlocal exact, best, is_exact
        is_exact = False
        best = _better(best, exact if all(exact) else None)
        exact = frozenset({""})

    def append(strings: frozenset[str]) -> None:
        nonlocal exact
        if len(exact) * len(strings) > _MAX_EXACT:
            close()
            if len(strings) > _MAX_EXACT:
                return
        exact = frozenset(a + b for a, b in product(exact, strings))

    def absorb(child: _Info, take: Callable[[], None] = close) -> None:
        nonlocal best
        if child.exact is not None:
            append(child.exact)
        else:
            take()
            best = _better(best, child.required)

    for op, arg in items:
        if op is _LITERAL:
            append(frozenset({chr(arg)}))
        elif op in _ZERO_WIDTH:
            continue  # consumes nothing: the strings on either side still join
        elif op is _IN:
            chars = _class_chars(arg)
            if chars is None:
                close()
            else:
                append(chars)
        elif op is _SUBPATTERN:
            absorb(_analyse(arg[-1]))
        elif op is _BRANCH:
            alternatives = [_analyse(alt) for alt in arg[1]]
            exacts = [a.exact for a in alternatives]
            if all(e is not None for e in exacts):
                union = frozenset().union(*exacts)  # type: ignore[arg-type]
                if len(union) <= _MAX_EXACT:
                    append(union)
                    continue
            close()
            needs = [a.requirement() for a in alternatives]
            if all(n is not None for n in needs):
                best = _better(best, frozenset().union(*needs))  # type: ignore[arg-type]
        elif op in _REPEATS:
            low, high, sub = arg
            child = _analyse(sub)
            if low == high == 1:
                absorb(child)
            else:
                close()
                if low >= 1:
                    best = _better(best, child.requirement())
        else:  # ANY, NOT_LITERAL, CATEGORY, GROUPREF, …: could be anything
            close()
    if is_exact:
        return _Info(exact=exact)
    close()
    return _Info(required=best)


def required_literals(pattern: str) -> frozenset[str] | None:
    """Strings of which every match of ``pattern`` contains at least one, or None when none can be
    said (then the pattern must always be run). Case-sensitive, as the moderation views are
    lower-case already."""
    parsed = _parse(pattern)
    found = _analyse(parsed).requirement() if parsed is not None else None
    if found is not None and not all(literal.strip() for literal in found):
        # Stop 50: a gap alone (" " between two words) is in every message of two words: the
        # automaton found it some thirty times a message, half its hits, to spare no regex.
        return None
    return found


def _parse(pattern: str) -> Any:
    """The parsed pattern, or None when its flags (ignore case, verbose) make what it matches
    other than what its parts spell: then nothing is claimed about it."""
    parsed = sre_parse.parse(pattern)
    if parsed.state.flags & (sre_constants.SRE_FLAG_IGNORECASE | sre_constants.SRE_FLAG_VERBOSE):
        return None
    return parsed


_WORD_CHAR = re.compile(r"[^\W_]")
_LEADING_WORD = re.compile(r"[^\W_]+")


def _ends_word(op: Any, arg: Any) -> bool:
    """Whether this piece of a pattern only matches where a word has ended: a word edge, or
    at least one character that is not a letter or digit (a gap, ``\\s+``)."""
    if op is sre_constants.AT:
        return arg is sre_constants.AT_BOUNDARY
    if op is _LITERAL:
        return not _WORD_CHAR.match(chr(arg))
    if op is _IN:
        return all(
            (kind is sre_constants.CATEGORY and value is sre_constants.CATEGORY_SPACE)
            or (kind is _LITERAL and not _WORD_CHAR.match(chr(value)))
            for kind, value in arg)
    if op in _REPEATS:
        low, _, sub = arg
        return low >= 1 and len(sub) == 1 and _ends_word(*sub[0])
    return False


def _first_words(items: Any) -> frozenset[str] | None:
    """:func:`pattern_first_words` of a parsed pattern."""
    items = list(items)
    if len(items) == 1 and items[0][0] is _SUBPATTERN:
        return _first_words(items[0][1][-1])
    if len(items) == 1 and items[0][0] is _BRANCH:
        return _all_or_none([_first_words(alternative) for alternative in items[0][1][1]])
    if items and items[0][0] in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        # Stop 50: look-behinds before the word edge ("(?<!khong )(?<!ko )\bnhan\s+…")
        # consume nothing; the match still begins where a first word does, and the engine's
        # ``regex.match(view, offset)`` tests them there (a look-behind sees the text before
        # the offset). Such patterns ran over the whole message, ten of them a tenth of the
        # time of the longest messages.
        return _first_words(items[1:])
    if not items or items[0] != (sre_constants.AT, sre_constants.AT_BOUNDARY):
        return None
    prefixes: frozenset[str] = frozenset({""})
    for position, (op, arg) in enumerate(items[1:], start=2):
        if op is sre_constants.AT and arg is sre_constants.AT_BOUNDARY and "" not in prefixes:
            break  # a word edge after letters: the word ends here
        if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT, sre_constants.AT):
            continue  # consumes nothing
        exact = _analyse([(op, arg)]).exact
        if exact is None and op in _REPEATS and arg[0] == 0 and arg[1] == 1 \
                and prefixes == frozenset({""}):
            # An optional lead, "\\b(?:con |cai )?(?:bot|admin)\\s+ngu": the first words with it
            # and without it.
            rest = items[position:]
            return _all_or_none([_first_words([items[0], *arg[2], *rest]),
                                 _first_words([items[0], *rest])])
        if exact is None and op is _BRANCH and prefixes == frozenset({""}):
            # "\\bacc\\s+…|\\bcam dan\\b" is parsed as a word edge, then a choice: each
            # alternative, with what follows the choice, says its own first words.
            rest = items[position:]
            return _all_or_none([_first_words([items[0], *alternative, *rest])
                                 for alternative in arg[1]])
        if exact is None:
            # The word must end here, where something open-ended begins.
            if not _begins_past_word(items[position - 1:]):
                return None
            break
        prefixes = frozenset(a + b for a, b in product(prefixes, exact))
        if len(prefixes) > _MAX_EXACT:
            return None
        if all(_ended(prefix) for prefix in prefixes):
            break
    else:
        return None  # the pattern ends with its first word: "nap" would match in "napas"
    words = set()
    for prefix in prefixes:
        word = _LEADING_WORD.match(prefix)
        if word is None:
            return None
        words.add(word.group())
    return frozenset(words)


def _begins_past_word(items: list[Any]) -> bool:
    """Whether every match of ``items`` begins where a word has ended (:func:`_ends_word`),
    also when it begins with something optional: ``(?:\\s+\\w+){0,5}?\\s+lua`` begins with a gap
    whether or not the words are there. Nothing left (the pattern ends here) is no word end:
    "\\bnap" matches in "napas"."""
    if not items:
        return False
    op, arg = items[0]
    if op in _REPEATS and arg[0] == 0:
        return _begins_past_word(list(arg[2])) and _begins_past_word(items[1:])
    if op is _SUBPATTERN:
        return _begins_past_word([*arg[-1], *items[1:]])
    if op is _BRANCH:
        return all(_begins_past_word([*alternative, *items[1:]]) for alternative in arg[1])
    return _ends_word(op, arg)


def _all_or_none(found: list[frozenset[str] | None]) -> frozenset[str] | None:
    """The first words of a choice: those of every alternative, or None if one does not say."""
    if any(words is None for words in found):
        return None
    return frozenset().union(*found)  # type: ignore[arg-type]


def _ended(prefix: str) -> bool:
    word = _LEADING_WORD.match(prefix)
    return word is not None and word.end() < len(prefix)


def pattern_first_words(pattern: str) -> frozenset[str] | None:
    """The words every match of ``pattern`` begins with, when it says so: a word edge, then
    one of a few exact strings, then a gap or another word edge (``\\b(?:nhan|tang)\\s+\\d+``:
    "nhan" or "tang"). None when it does not.

    A hand-written pattern that passes the prefilter was searched from every character of the
    message (some ten a message, most finding nothing, the longest messages the slowest); with
    its first words known it is tried only where one of them begins, as a list of phrases is
    (:func:`bot.moderation.engine._occurrences`), and the prefilter asks for the whole word, which
    "nhan" inside "nhanh" does not give."""
    parsed = _parse(pattern)
    return _first_words(parsed) if parsed is not None else None


class _MatcherLike(Protocol):
    view: str
    anchors: frozenset[str] | None
    literals: frozenset[str] | None


class _RuleLike(Protocol):
    @property
    def matchers(self) -> tuple[Any, ...]: ...
    @property
    def urls(self) -> object | None: ...


class _NormLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def folded(self) -> str: ...
    @property
    def compact(self) -> str: ...
    @property
    def runs(self) -> str: ...
    @property
    def folded_words(self) -> frozenset[str]: ...
    @property
    def compact_words(self) -> frozenset[str]: ...


class Prefilter:
    """Which rules (and which of their matchers) could match a message, found once per message.

    Asking every rule in turn whether the message has one of its first words or required strings
    cost as much as running the regexes it saved (sixty rules, a hundred-odd matchers, each a
    Python call). Built once per rule set, this keeps the other way round: for every word and
    every required string, the matchers that need it. A message's words are looked up in a dict,
    the required strings (a hundred or so, shared between rules) are searched in its views, and
    what comes out is the set of matchers worth running and the rules they belong to.
    """

    def __init__(self, rules: tuple[_RuleLike, ...]) -> None:
        by_word: dict[tuple[bool, str], list[tuple[int, int]]] = {}
        by_literal: dict[tuple[str, str], list[tuple[int, int]]] = {}
        always_rules: set[int] = set()
        always_matchers: set[int] = set()
        runs_matchers: set[int] = set()
        both: set[int] = set()
        for index, rule in enumerate(rules):
            if rule.urls is not None:
                always_rules.add(index)
            for matcher in rule.matchers:
                key = (index, id(matcher))
                if matcher.view == "runs":  # only a message with letter-spaced runs
                    runs_matchers.add(id(matcher))
                elif matcher.anchors is not None or matcher.literals is not None:
                    # A pattern may say both its first words and its required strings: it can
                    # match only where it finds both ("nhan" as a word and "88k").
                    for word in matcher.anchors or ():
                        by_word.setdefault((matcher.view == "compact", word), []).append(key)
                    for literal in matcher.literals or ():
                        by_literal.setdefault((matcher.view, literal), []).append(key)
                    if matcher.anchors is not None and matcher.literals is not None:
                        both.add(id(matcher))
                else:
                    always_rules.add(index)
                    always_matchers.add(id(matcher))

        def split(keys: list[tuple[int, int]]) -> frozenset[int]:
            """The matchers of these (rule, matcher) keys: a message's rules are those of the
            matchers it leaves (:meth:`candidates`)."""
            return frozenset(k[1] for k in keys)

        # Kept as ready sets, so a message's look-ups are set unions done in C.
        #: Word → its matchers, for the folded view's words and for the compact view's.
        self._by_folded_word = {w: split(keys) for (compact, w), keys in by_word.items()
                                if not compact}
        self._by_compact_word = {w: split(keys) for (compact, w), keys in by_word.items()
                                 if compact}
        self._automata = _literal_automata([
            (view, literal, split(keys)) for (view, literal), keys in by_literal.items()
        ])
        # Most messages hide nothing, and then their compact view is their folded view: one
        # look-up per word and one search per string serve the matchers of both views.
        same_word: dict[str, list[tuple[int, int]]] = {}
        for (_, word), keys in by_word.items():
            same_word.setdefault(word, []).extend(keys)
        same_literal: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for (view, literal), keys in by_literal.items():
            merged = "folded" if view == "compact" else view
            same_literal.setdefault((merged, literal), []).extend(keys)
        self._by_word_same = {word: split(keys) for word, keys in same_word.items()}
        self._automata_same = _literal_automata([
            (view, literal, split(keys)) for (view, literal), keys in same_literal.items()
        ])
        self._always_rules = frozenset(always_rules)
        self._always_matchers = frozenset(always_matchers)
        #: The matchers of the letter-spaced runs, asked only of a message that has some.
        self._runs = frozenset(runs_matchers)
        #: The matchers that need a first word and a required string, and every matcher's rule.
        self._both = frozenset(both)
        self._rule_of = {id(m): index for index, rule in enumerate(rules) for m in rule.matchers}
        #: The last message asked and its answer: the learned second opinion asks again for
        #: the ``report`` rules of a message the rules let through (:func:`engine.report_hits`).
        self._last: tuple[_NormLike, set[int], set[int]] | None = None

    def candidates(self, norm: _NormLike) -> tuple[set[int], set[int]]:
        """The indexes of the rules that could match ``norm``, and the ``id()`` of their matchers
        that could (the others cannot, and need not be run). The sets are not to be changed:
        the last answer is kept for the same message."""
        last = self._last
        if last is not None and last[0] is norm:
            return last[1], last[2]
        if norm.compact == norm.folded:
            by_words = self._matchers_of_words(self._by_word_same, norm.folded_words)
            automata = self._automata_same
        else:
            by_words = (self._matchers_of_words(self._by_folded_word, norm.folded_words)
                        | self._matchers_of_words(self._by_compact_word, norm.compact_words))
            automata = self._automata
        views = {"text": norm.text, "folded": norm.folded, "compact": norm.compact}
        by_strings: set[int] = set()
        for view_name, automaton in automata:
            # Every required string present in the view, in one pass over it (overlapping
            # occurrences included, their sets added again: cheaper than telling them apart).
            by_strings.update(*[found for _, found in automaton.iter(views[view_name])])
        # A matcher that needs both and was found by one only cannot match, nor can a rule
        # left with no other.
        matchers = (by_words | by_strings) - ((by_words ^ by_strings) & self._both)
        matchers |= self._always_matchers
        if norm.runs:
            matchers |= self._runs
        # The rules are those of the matchers left (and the link rules, which have none to
        # ask): found once here, not added word by word and then found again (stop 50).
        rules = set(map(self._rule_of.__getitem__, matchers))
        rules |= self._always_rules
        self._last = (norm, rules, matchers)
        return rules, matchers

    @staticmethod
    def _matchers_of_words(table: dict[str, frozenset[int]], words: frozenset[str]) -> set[int]:
        """The matchers that need one of ``words`` (the message's words and word pairs): the
        words the table knows, found by one set intersection in C, not a look-up per word."""
        return set().union(*[table[word] for word in table.keys() & words])


def _literal_automata(
    by_literal: list[tuple[str, str, frozenset[int]]]
) -> list[tuple[str, Any]]:
    """One Aho-Corasick automaton per view over the required strings of that view, each string
    carrying the matchers that need it.

    A message's required strings were found by testing each (``literal in view``), some 230 of
    them: a quarter of a message's moderation time, and growing with its length, so most of
    the time of the long messages at p95 (issue 12: under 1 ms). The automaton finds every one
    present in a single pass over the view, in C (pyahocorasick, the standard implementation):
    41 -> 6 microseconds a message on the bench messages, with the same strings found."""
    automata: dict[str, Any] = {}
    for view, literal, matcher_set in by_literal:
        if view not in automata:
            automata[view] = ahocorasick.Automaton()
        automata[view].add_word(literal, matcher_set)
    for automaton in automata.values():
        automaton.make_automaton()
    return sorted(automata.items())
