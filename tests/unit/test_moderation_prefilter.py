"""The prefilter that spares most regexes (issue 12: under 1 ms a message) changes no match.

:func:`bot.moderation.prefilter.required_literals` says which strings a hand-written pattern
cannot match without; :class:`bot.moderation.prefilter.Prefilter` turns those and the phrases'
first words into the set of matchers worth running. A wrong answer would silently let a scam
through, so these tests check the answers against running every regex on every message we have:
the labelled sets, the blind sets (timed and matched here, never printed: a failure names the
message by its number only) and the ordinary-text corpus.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.moderation import ModerationRules, NormalisedText, load_rules, normalise
from bot.moderation.corpus import corpus_path, read_sentences
from bot.moderation.engine import _hits, find_urls, match_rules, quoted_spans
from bot.moderation.prefilter import pattern_first_words, required_literals
from bot.moderation.rules import SUPPORTING_CATEGORIES, Rule

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "content" / "moderation"


@pytest.fixture(scope="module")
def rules() -> ModerationRules:
    return load_rules(RULES_DIR)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    found: list[str] = []
    for path in sorted((ROOT / "tests" / "data" / "moderation").glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "\t" in line and not line.startswith(("#", "label\t")):
                found.append(line.split("\t")[-1])  # label<TAB>text, or label<TAB>kind<TAB>text
    for path in sorted((ROOT / "tests" / "data" / "moderation_blind").glob("*.tsv")):
        with open(path, encoding="utf-8", newline="") as handle:
            found += [row["text"] for row in csv.DictReader(handle, delimiter="\t")]
    corpus = corpus_path()
    if corpus is not None:
        found += read_sentences(corpus)
    assert len(found) > 1000
    return found


@dataclass
class Scan:
    """One message, normalised, and where each matcher's regex matches its view when run
    plainly (``finditer`` over the whole view, no prefilter): computed once for the three tests
    below, which each ran every regex over every message again (about 250 s of CI's first half
    on a busy 2-core machine, stop 46)."""

    norm: NormalisedText
    #: id(matcher) -> start offsets of its matches; matchers that found nothing are left out.
    starts: dict[int, list[int]]


@pytest.fixture(scope="module")
def scans(rules: ModerationRules, texts: list[str]) -> list[Scan]:
    found: list[Scan] = []
    for text in texts:
        norm = normalise(text)
        starts: dict[int, list[int]] = {}
        for rule in rules.rules:
            for matcher in rule.matchers:
                hits = [m.start() for m in matcher.regex.finditer(norm.view(matcher.view))]
                if hits:
                    starts[id(matcher)] = hits
        found.append(Scan(norm, starts))
    return found


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bnap\s+\d+", {"nap"}),
        (r"\b(?:cung cap|nhap|gui)\s+(?:ma )?otp\b", {"otp"}),  # the longer of two needs
        (r"\b(?:lai|loi nhuan)\s+\d+%", {"lai", "loi nhuan"}),
        (r"(?<!khong )\bxac (?:minh|thuc)\b", {"xac minh", "xac thuc"}),
        (r"giai ngan (?:sau|trong) \d+", {"giai ngan sau ", "giai ngan trong "}),
        (r"(?:xy)+abc", {"abc"}),  # a repeat's own needs count, the longest is kept
        (r"\d+\s*%", {"%"}),
        (r"[a-z]{3}88", {"88"}),
        (r"(a)\1", {"a"}),
        # What could be anything: nothing is claimed, and the regex always runs.
        (r"\w+", None),
        (r"(?:vay)?\s*\d+", None),
        (r"(?i)vay", None),
        (r"x*y?", None),
        (r"[^a]\d", None),
    ],
)
def test_required_literals_of_a_pattern(pattern: str, expected: set[str] | None) -> None:
    assert required_literals(pattern) == expected


def test_every_pattern_match_holds_a_required_literal_and_begins_with_a_first_word(
    rules: ModerationRules, scans: list[Scan]
) -> None:
    """Run every hand-written pattern on every message: where it matches, the prefilter must
    have let it run (one of its required strings is in the view), and, for a pattern with first
    words, one of them is the word that starts there: the engine tries it nowhere else."""
    literal_checked = word_checked = 0
    for number, scan in enumerate(scans):
        norm = scan.norm
        for rule in rules.rules:
            for matcher in rule.matchers:
                if matcher.literals is None:
                    continue  # phrase lists: test_match_rules_finds_what_every_regex_finds
                view = norm.view(matcher.view)
                starts = norm.starts(matcher.view)
                for found_start in scan.starts.get(id(matcher), ()):
                    literal_checked += 1
                    assert any(lit in view for lit in matcher.literals), (
                        f"{rule.id}: pattern {matcher.regex.pattern!r} matched message "
                        f"#{number} without any of {sorted(matcher.literals)}"
                    )
                    if matcher.anchors is not None:
                        word_checked += 1
                        assert any(found_start in starts.get(word, ())
                                   for word in matcher.anchors), (
                            f"{rule.id}: pattern {matcher.regex.pattern!r} matched message "
                            f"#{number} where none of {sorted(matcher.anchors)} begins"
                        )
    # The patterns do match things, so the checks mean something.
    assert literal_checked > 100
    assert word_checked > 100


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\b(?:nhan|tang|thuong)\s+(?:ngay\s+)?\d{0,2}88k\b", {"nhan", "tang", "thuong"}),
        (r"\b(?:cai dat|cai|tai)\s+(?:ung dung|app)\b", {"cai", "tai"}),  # a gap inside
        (r"\b(?<!thong )(?:xoa|go)\s+bai", {"xoa", "go"}),  # a look-behind consumes nothing
        (r"\b(?:acc|nick)\s+(?:clone|ao)\b|\bcam dan\b", {"acc", "nick", "cam"}),
        (r"\bt[aà]i kho[aả]n\b", {"tai", "tài"}),  # folded by the rules, for the text view
        (r"\bvay\b", {"vay"}),
        # Stop 50: look-behinds before the word edge, an optional lead, optional words after.
        (r"(?<!khong )(?<!ko )\bnhan\s+(?:tin|sms)", {"nhan"}),
        (r"\b(?:con |cai )?bot\s+ngu", {"con", "cai", "bot"}),
        (r"\b(?:re)?vay\s", {"vay", "revay"}),
        (r"\bbi(?:\s+\w+){0,5}?\s+lua", {"bi"}),
        # The word may go on, or the start is not a word edge: nothing is claimed.
        (r"\bnap", None),
        (r"\bngu\s*ngoc", None),  # "ngungoc" is one word
        (r"\bnap(?:\s+tien)?", None),  # the pattern may end with the word: "napas"
        (r"\bbi(?:\w+)?\s", None),  # the optional part goes on with letters: "bien"
        (r"(?<!x)nap\s", None),  # no word edge after the look-behind
        (r"\b\d+k", None),
        (r"nap\s+\d+", None),
        (r"(?i)\bvay\s", None),
    ],
)
def test_first_words_of_a_pattern(pattern: str, expected: set[str] | None) -> None:
    assert pattern_first_words(pattern) == expected


def test_prefilter_candidates_are_the_matchers_that_may_match(
    rules: ModerationRules, scans: list[Scan]
) -> None:
    for number, scan in enumerate(scans):
        norm = scan.norm
        indexes, possible = rules.prefilter.candidates(norm)
        expected = {id(m) for r in rules.rules for m in r.matchers if m.may_match(norm)}
        assert possible >= expected, f"message #{number}"
        for index, rule in enumerate(rules.rules):
            if rule.urls is None and not any(id(m) in possible for m in rule.matchers):
                assert index not in indexes, f"message #{number}: {rule.id}"


def _plain_count(rule: Rule, scan: Scan) -> int:
    """What the rule's matchers find with ``finditer`` over the whole view: no first-word
    offsets, no required strings (the de-obfuscated view only when the others find nothing)."""
    count = 0
    for fallback in (False, True):
        if fallback and count:
            break
        for matcher in rule.matchers:
            if matcher.fallback == fallback:
                count += len(scan.starts.get(id(matcher), ()))
    return count


def test_match_rules_finds_what_every_regex_finds(rules: ModerationRules, scans: list[Scan]
                                                  ) -> None:
    """The engine counts, for every rule it reports, what plain ``finditer`` over the whole view
    counts; and it reports every deciding rule that plain matching finds (supporting rules are
    looked for only once a deciding rule matched, by design)."""
    for number, scan in enumerate(scans):
        norm = scan.norm
        urls, quotes = find_urls(norm, rules), quoted_spans(norm.text)
        engine = {h.rule.id: h.count for h in match_rules(norm, rules)}
        # The same engine without the prefilter, asking every rule.
        every = {h.rule.id for h in _hits(list(rules.rules), norm, rules, urls, quotes)}
        for rule in rules.rules:
            if rule.urls is not None:
                continue  # links are found by find_urls, not by these regexes
            plain = _plain_count(rule, scan)
            assert (rule.id in every) == bool(plain), f"message #{number}: {rule.id}"
            if rule.id in engine:
                assert engine[rule.id] == plain, f"message #{number}: {rule.id}"
            elif plain:
                assert rule.category in SUPPORTING_CATEGORIES or rule.boost_only, (
                    f"message #{number}: deciding rule {rule.id} missed"
                )


@pytest.mark.parametrize(("text", "hosts"), [
    # Stop 45: a dot set apart by a space, to slip past link filters.
    ("tra cứu và nộp phạt tại phatnguoi-hn .site trước 17h", {"phatnguoi-hn.site"}),
    ("vào BK79 .vip nhận code", {"bk79.vip"}),
    ("link: nohu-68 . com", {"nohu-68.com"}),
    # Not after a plain word: folded "nhà. Cơm" is "nha. com", "mẹ" is "me".
    ("Về nhà. Cơm chưa nấu, con chưa tắm", set()),
    ("ve nha. com chua nau", set()),
    ("ngày 12-3. Com chưa ăn", set()),
    # Stop 49: "(chấm)" in brackets, and a middle dot or bullet with no space around it.
    ("vào sunloc79 (chấm) win mà chơi", {"sunloc79.win"}),
    ("Link chính thức: bachvip·top", {"bachvip.top"}),
    ("Link chính thức: luc88•club", {"luc88.club"}),
    # With spaces around, a middle dot separates words.
    ("Tin nóng · top 10 việc phường làm trong năm", set()),
])
def test_a_dot_set_apart_by_a_space_still_makes_a_link(
        rules: ModerationRules, text: str, hosts: set[str]) -> None:
    assert {url.host for url in find_urls(normalise(text), rules)} == hosts


@pytest.mark.parametrize(("text", "found"), [
    ("Bà con cứ gọi thử, có người nghe máy", True),
    ("Có người tới thu. Gọi 0399 105 268", False),         # a full stop ends the sentence
    ("Nhà tôi gọi thử - gọi mãi không ai nghe", True),
])
def test_a_phrase_does_not_run_over_a_full_stop(rules: ModerationRules, text: str,
                                                found: bool) -> None:
    """Stop 48: a phrase's words may be joined by spaces and by the dots spam puts between them
    ("vay.nhanh"), not by a full stop that ends a sentence ("… tới thu. Gọi" is not "thử gọi")."""
    encountered = [r for r in rules.rules if r.id == "report.encountered"]
    norm = normalise(text)
    assert bool(_hits(encountered, norm, rules, [], quoted_spans(norm.text))) is found


def test_report_hits_kept_from_match_rules_are_those_found_afresh(rules: ModerationRules) -> None:
    """Stop 50: ``match_rules`` keeps the report hits of the message it found something in, for
    the learned opinion's ``report_hits`` on the same message; they must be what a fresh search
    finds."""
    from bot.moderation import engine

    text = ("Ad ơi xóa giúp bài vay tiền nhanh không thế chấp, giải ngân 10 phút, lh 0912345678"
            " này đi, lừa đảo đấy")
    norm = normalise(text)
    assert match_rules(norm, rules)
    kept = [(h.rule.id, h.count, h.quoted) for h in engine.report_hits(norm, rules)]
    engine._last_reports = None
    assert kept and kept == [(h.rule.id, h.count, h.quoted)
                             for h in engine.report_hits(norm, rules)]
