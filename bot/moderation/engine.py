"""Score one message against the moderation rules and explain the verdict to staff.

How a score is made, and why:

1. Each rule counts once, at its weight, however often it matches; a rule may add a small
   ``repeat_bonus`` per repetition (injected spam repeats a brand a dozen times, a citizen quoting
   it does not).
2. Rules are grouped by category. Generic ``signal`` rules (a phone number, "liên hệ ngay", a
   link) are never enough on their own: they only add to a spam family that already matched.
   ``boost_only`` rules (e.g. "mày" next to an insult) likewise only add to their own category.
3. Words inside quotation marks, in a message that also says something outside them, count at
   ``quoted_factor`` of their weight: a citizen quoting an advert or a threat ("they wrote
   "nạp đầu tặng 100%"…") is reporting it, not sending it. When every spam word is inside what
   the writer quotes or pastes and their own words carry no sign of an advert, the message is
   a report whatever its score (:func:`_advert_quoted_whole`).
4. The category with the highest sum is the candidate. ``report`` rules (phản ánh, tố cáo, bị
   lừa, bị hack, đề nghị xử lý …) are subtracted from it, up to ``max_report_discount``, because
   a citizen reporting gambling or a scam uses the same words as the spam and a false positive
   (a petition silently quarantined) costs more than a miss.
5. The message is flagged when what is left reaches ``threshold``.

Spam families change faster than word lists: a new kind of advert (SIMs registered in someone
else's name, a "cổ phần số" scheme, a debt-collection service) has none of a family's words. Its
*structure* is the same, though: something offered, with a price, an easy promise or a gain, and a
way to answer (ib, zalo, a phone number, a Telegram handle, a link). ``offer`` rules describe
those generic parts (``content/moderation/offer.yml``). They add to a spam family that matched,
like signals; and at least :data:`MIN_OFFER_PARTS` different offer parts with a contact
(:data:`CONTACT_SIGNALS`) form an advert of their own (``ad_spam``), but
only when no ``report`` rule matched at all: a citizen who writes "tôi", "ad ơi", "phường xử lý",
or asks whether it is real, is describing an advert, not posting one.

The reason is Vietnamese, names the rules' descriptions and the words that matched, and fits the
255 characters the quarantine table keeps.

Why this is one module: scoring, the reporting discount, the offer structure and the reason are
one decision over the same hits; split, each part would need the others' private view of which
rule matched where. URL finding and normalisation already live apart (``normalise``,
``prefilter``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, cast

from bot.moderation.normalise import NormalisedText, fold, normalise
from bot.moderation.rules import (
    CATEGORIES,
    SPAM_FAMILIES,
    SUPPORTING_CATEGORIES,
    Matcher,
    ModerationRules,
    Rule,
    UrlCriteria,
    load_rules,
)

__all__ = ["Category", "RuleHit", "Url", "Verdict", "advert_marks", "category_spans", "find_urls",
           "match_rules", "moderate", "outside_quotes", "report_hits"]

Category = Literal[
    "gambling", "scam_link", "loan_spam", "earn_money_spam", "account_trade", "ad_spam", "abuse",
    "rate_limited", "clean"
]

#: The quarantine table's ``reason`` column is VARCHAR(255).
MAX_REASON_LENGTH = 255
_MAX_REASONS = 3
#: The ``signal`` rules that are a way to answer an advert (a contact, "vào nhóm", a phone
#: number, a link, a Telegram handle): an offer without one of these is never stopped on its structure alone.
CONTACT_SIGNALS: frozenset[str] = frozenset(
    {"signal.contact", "signal.call_to_action", "signal.phone", "signal.handle", "signal.link",
     "signal.link_shortener"})
#: Different ``offer`` rules that, with a contact and no sign of a report, make an advert.
MIN_OFFER_PARTS = 2


@dataclass(frozen=True)
class Verdict:
    """The outcome of moderating one message.

    ``flagged`` messages never become cases: the caller quarantines them with ``category`` and
    ``reason`` for a person to review. ``score`` is what was left after the reporting discount
    (0 when nothing matched); ``rule_ids`` lists every rule that matched, those that decided the
    category first.
    """

    flagged: bool
    category: Category
    score: float
    reason: str
    rule_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Url:
    """A link found in a message: host and path, lower-case and without diacritics.

    ``span`` is where it stands in the ``text``/``folded`` views, when it was written plainly
    (a link found only after de-obfuscation has no position).
    """

    host: str
    path: str = ""
    span: tuple[int, int] | None = None


@dataclass(frozen=True)
class RuleHit:
    """A rule that matched, how often, and the words it matched (for the reason)."""

    rule: Rule
    count: int
    snippet: str
    #: Every occurrence was inside quotation marks (see ``quoted_factor``).
    quoted: bool = False
    quoted_factor: float = 1.0

    @property
    def weight(self) -> float:
        """The rule's weight plus its capped bonus for repeated occurrences, reduced if quoted."""
        extra = self.rule.repeat_bonus * (self.count - 1)
        weight = self.rule.weight + min(extra, self.rule.repeat_cap)
        return weight * self.quoted_factor if self.quoted else weight


def moderate(text: str, rules: ModerationRules | None = None) -> Verdict:
    """Decide whether ``text`` is spam or abuse; ``rules`` default to :func:`load_rules`."""
    rules = rules if rules is not None else load_rules()
    norm = normalise(text)
    if not norm.text:
        return Verdict(False, "clean", 0.0, "Tin nhắn trống.")
    hits = match_rules(norm, rules)
    return _decide(hits, rules, norm.text)


# --------------------------------------------------------------------------- matching


#: Quotation marks: double, typographic, guillemets, and single ones ('…', ‘…’), which many
#: citizens type to set off an advert they pass on ("có đứa đăng 'tài xỉu uy tín, nạp rút 1-1'").
#: A single quote opens only after a space or the start and closes before a space, punctuation
#: or the end: Vietnamese has no apostrophes of its own, and "ad's" is not a quotation.
_QUOTE_RE = re.compile(r'"[^"]{3,}"|“[^”"]{3,}[”"]|«[^»]{3,}»|„[^“”]{3,}[“”]|‘[^’\n]{3,}’'
                       r"|(?<![\w'])'[^'\n]{3,}'(?![\w'])"
                       # Stop 45: arrows that point at a pasted advert from both sides, "=> … <=".
                       r"|=>[^<>\n]{3,}<=|->[^<>\n]{3,}<-|>>[^<>\n]{3,}<<|→[^←\n]{3,}←")
_WORD_RE = re.compile(r"[^\W_]+")


#: A message pasted without quotation marks, after the citizen's own lead-in and a colon (or an
#: arrow, "->", "=>", "→"), up to the end of its sentence and on over the advert's next sentences
#: (:func:`_paste_end`): "Vừa có tin gửi tới: Vay 80 triệu chỉ cần CCCD. Có thật không",
#: "Nguyên văn tin nhắn: …", "Dán ở thang máy: …", "toàn tin nhắn kiểu: …", "có acc đăng suốt:
#: …", "nó bảo: …". The lead-ins are a citizen passing on what reached them (received, sent to,
#: pasted, word for word, "of the kind", "as follows") or what someone else posted or said
#: (posted, commented, spammed, "nó bảo", "ghi là"); adverts open with "Ưu đãi:", "Liên hệ:",
#: "Nhận quà 8/3:", "Đăng ký ngay:", "Rao vặt:", none of which is here ("nhận" alone is not,
#: "nhận được" is). Matched on the folded view, which has the text's offsets, so a citizen typing
#: without diacritics ("nhan duoc tin:") is read alike; "dán" and "đăng" are looked for with
#: their marks only (folded they are also "dân" and "đang", as in "bà con nhân dân:", "đang
#: tuyển gấp:").
_LEAD_FOLDED = (
    r"(?:nhan duoc|gui toi|gui den|gui cho|gui vao|nhan cho|nhan toi|nhan den|nhan vao|"
    r"goi cho|goi toi|goi den|chuyen tiep|kep|nhet|binh luan|comment|cmt|spam|"
    r"(?<!thong )tin nhan|bai dang|bai viet|(?:cai |mau )?quang cao (?:nay|do|kia)|"
    r"rao(?! vat)|no bao|ho bao|no noi|ho noi|no ghi|ho ghi|no viet|ho viet|no nhan|ho nhan|"
    r"ghi la|bao la|noi la|viet la|hua la)"
    r"(?:\s+[^\s:.!?]+){0,6}"
    r"|(?:nguyen van|y nguyen|the nay|nhu the nay|xem cai nay|xem nay|doc thu|"
    r"cho moi nguoi biet|tin nay|kieu|kieu nhu|nhu sau|dai loai|dai khai)"
    r"(?:\s+[^\s:.!?]+){0,3}")
#: Words a text after a lead-in and a colon needs to count as pasted (:func:`quoted_spans`).
_MIN_PASTED_WORDS = 4
_PASTED_TAIL = r"\s*(?::|->|=>|→)\s+([^\n]{20,}?)(?:[.!?…](?=\s)|$)"
#: A verb of sending or writing right before the colon ("có đứa trong nhóm gửi: …", "nó ghi:
#: …"); not "kính gửi:", which opens a letter. Not "viết", "báo", "nói": folded they are also
#: "Việt" ("Hàng Việt:"), "bao" ("thuê bao:", "thông báo:"), "nơi" and "nội", which open
#: notices and adverts.
_LEAD_VERB_FOLDED = r"(?<!kinh )gui|ghi"
_PASTED_FOLDED_RE = re.compile(
    r"\b(?:" + _LEAD_FOLDED + r"|(?:" + _LEAD_VERB_FOLDED + r")(?=\s*(?::|->|=>|→)))" + _PASTED_TAIL)
_PASTED_MARKED_RE = re.compile(
    r"(?:\bdán|\bđăng(?!\s*(?:ký|kí|nhập)))(?:\s+[^\s:.!?]+){0,6}" + _PASTED_TAIL)


#: A sentence that still belongs to a pasted advert (:func:`_paste_end`), on the folded view: a
#: link, a phone or account number, a handle, or the advert's call to act ("xác nhận tại", "nhắn
#: CÓ", "LH", "đăng ký", "truy cập", "bấm"). A pasted advert runs over several sentences ("…
#: đã được duyệt 6.850.000đ. Xác nhận tại: bhxh-trocap.net trước 17h"), and the paste used to end
#: at the first full stop, leaving the advert's link and number in the writer's own words.
_ADVERT_GOES_ON = re.compile(
    r"(?:https?://|www\.|\b[\w-]+\.(?:com|net|org|vn|top|vip|xyz|cc|me|info|site|online|club|win|"
    r"bet|shop|store|link|io|app|pro|asia|live|fun)\b|\d[\d .]{7,}\d|@\w{3,}|"
    r"\b(?:xac nhan|xac thuc|truy cap|dang ky|dang nhap|bam|click|nhan (?:co|ngay|tin|ma)|nhap|lh|"
    r"lien he|inbox|ib|"
    r"zalo|tele|telegram|soan|goi ngay|chuyen khoan|stk)\b)", re.IGNORECASE)
#: How far past the first sentence a paste may run (:func:`_paste_end`).
_MAX_PASTE_SENTENCES = 4
_SENTENCE_END_RE = re.compile(r"[.!?…]+(?=\s|$)")


def _paste_end(folded: str, end: int) -> int:
    """Where a paste that ends at ``end`` (its first sentence's end) really ends: the sentences
    after it that still carry the advert's way to answer (:data:`_ADVERT_GOES_ON`) are pasted
    too, up to :data:`_MAX_PASTE_SENTENCES`; the first that carries none is the writer's own
    ("Em ko nộp hồ sơ gì cả", "Ổng 78 tuổi rồi vay cái gì", "Thấy lạ lạ")."""
    for _ in range(_MAX_PASTE_SENTENCES):
        start = end + 1  # past the full stop that ended the paste so far
        if start >= len(folded):
            return end
        found = _SENTENCE_END_RE.search(folded, start)
        stop = found.start() if found else len(folded)
        if not folded[start:stop].strip() or not _ADVERT_GOES_ON.search(folded, start, stop):
            return end
        end = stop
    return end


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Spans of ``text`` inside quotation marks, or pasted after a citizen's lead-in and a
    colon or an arrow (:data:`_PASTED_FOLDED_RE`, :data:`_PASTED_MARKED_RE`, :func:`_paste_end`),
    if at least two words stand outside them.

    A message that is nothing but a quotation is treated as unquoted: the sender says it.
    """
    return list(_quoted_spans(text))


@lru_cache(maxsize=64)
def _quoted_spans(text: str) -> tuple[tuple[int, int], ...]:
    """:func:`quoted_spans`, kept for the last few messages: the rules and the learned second
    opinion both ask it of the same message."""
    return tuple(_find_quoted_spans(text))


def _find_quoted_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _QUOTE_RE.finditer(text)]
    if ":" in text or ">" in text or "→" in text:
        folded = fold(text)
        for match in [*_PASTED_FOLDED_RE.finditer(folded), *_PASTED_MARKED_RE.finditer(text)]:
            # A pasted message has words; a bare link after "nhận được rồi, vào nhanh:" is the
            # advert's own call to click (a link is one word however many dots it has).
            if len(match.group(1).split()) < _MIN_PASTED_WORDS:
                continue
            if not any(match.start(1) < end and start < match.end(1) for start, end in spans):
                spans.append((match.start(1), _paste_end(folded, match.end(1))))
        spans.sort()
    if not spans:
        return []
    return spans if len(_WORD_RE.findall(_outside(text, spans))) >= 2 else []


def outside_quotes(text: str) -> str:
    """What the writer says in ``text`` outside what they quote or paste (:func:`quoted_spans`);
    all of ``text`` when nothing is quoted."""
    spans = quoted_spans(text)
    return _outside(text, spans) if spans else text


def _outside(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` without the sorted, disjoint ``spans`` (the writer's own words)."""
    return "".join(text[last:start] + " " for last, start in zip(
        [0] + [end for _, end in spans], [start for start, _ in spans] + [len(text)], strict=True))


def _supporting(rule: Rule) -> bool:
    """Rules that never decide on their own (see :func:`_best_category` and :func:`_decide`):
    ``boost_only`` rules add to their category, ``signal`` and ``offer`` rules to a spam family,
    ``report`` rules subtract from whatever category was found; offers make an advert of their
    own only with a contact signal, so they are looked for after one (:func:`_structure_hits`). With no deciding rule matched, they cannot
    change the verdict, so they are not searched (about half the work on an ordinary message:
    issue 12 asks for under 1 ms per message)."""
    return rule.boost_only or rule.category in SUPPORTING_CATEGORIES


_SPAM_FAMILIES = frozenset(SPAM_FAMILIES)


def _structure_hits(candidates: list[Rule], norm: NormalisedText, rules: ModerationRules,
                    urls: list[Url], quotes: list[tuple[int, int]], possible: set[int]
                    ) -> list[RuleHit]:
    """With no spam family matched, the hits of an advert's structure: a contact signal and at
    least :data:`MIN_OFFER_PARTS` offer rules, or nothing. The contact comes first: most
    messages have none, and then the (common) offer words are not searched at all."""
    contacts = [r for r in candidates if r.id in CONTACT_SIGNALS]
    answer = _hits(contacts, norm, rules, urls, quotes, possible)
    if not answer:
        return []
    offers = _hits([r for r in candidates if r.category == "offer"], norm, rules, urls, quotes,
                   possible)
    return answer + offers if len(offers) >= MIN_OFFER_PARTS else []


def match_rules(norm: NormalisedText, rules: ModerationRules) -> list[RuleHit]:
    """The rules that match the normalised message, in the order the rules were loaded: every
    deciding rule; the supporting ones (:func:`_supporting`) only when they can count."""
    urls = find_urls(norm, rules)
    quotes = quoted_spans(norm.text)
    indexes, possible = rules.prefilter.candidates(norm)
    candidates = [rules.rules[i] for i in sorted(indexes)]
    deciding = [r for r in candidates if not _supporting(r)]
    hits = _hits(deciding, norm, rules, urls, quotes, possible)
    found = {h.rule.category for h in hits}
    spam = bool(found & _SPAM_FAMILIES)
    if not spam:
        structure = _structure_hits(candidates, norm, rules, urls, quotes, possible)
        if structure:
            hits += structure
            found.add("offer")
            spam = True
            candidates = [r for r in candidates if r.category != "offer" and
                          r.id not in CONTACT_SIGNALS]
    if found:
        extra = [r for r in candidates if _supporting(r) and (
            r.category == "report" or (r.category in ("signal", "offer", "promo") and spam)
            or (r.boost_only and r.category in found))]
        hits += _hits(extra, norm, rules, urls, quotes, possible)
        hits.sort(key=lambda h: rules.order[id(h.rule)])
        # Every report rule that could match was asked: kept for :func:`report_hits`, which
        # the learned second opinion asks of the same message right after (stop 50).
        global _last_reports
        _last_reports = (norm, rules, [h for h in hits if h.rule.category == "report"])
    return hits


#: The report hits of the last message :func:`match_rules` found something in (see there), as
#: one tuple: a thread reading it sees one message's answer, never half of two.
_last_reports: tuple[NormalisedText, ModerationRules, list[RuleHit]] | None = None


def report_hits(norm: NormalisedText, rules: ModerationRules) -> list[RuleHit]:
    """The ``report`` rules (signs of a citizen reporting, asking, telling what happened) that
    match, whatever else matched: :func:`match_rules` looks for them only when a deciding rule
    matched, the learned second opinion (:mod:`bot.moderation.opinion`) needs them when none did."""
    last = _last_reports
    if last is not None and last[0] is norm and last[1] is rules:
        return list(last[2])
    indexes, possible = rules.prefilter.candidates(norm)
    reports = [rules.rules[i] for i in sorted(indexes) if rules.rules[i].category == "report"]
    return _hits(reports, norm, rules, [], quoted_spans(norm.text), possible)


def advert_marks(norm: NormalisedText, rules: ModerationRules, ids: frozenset[str]
                 ) -> list[str]:
    """The rules among ``ids`` (supporting rules: ``signal.*`` marks of a way to answer, or a
    seller's ``promo.*`` words) that match, whatever else matched: :func:`match_rules` looks for
    them only when a deciding rule matched, the learned second opinion
    (:mod:`bot.moderation.opinion`) asks whether a message the rules found nothing in carries a
    phone number or a link, or a seller's claim. Marks only inside quotation marks are left out:
    the writer is quoting what someone else sent."""
    indexes, possible = rules.prefilter.candidates(norm)
    marks = [rules.rules[i] for i in sorted(indexes) if rules.rules[i].id in ids]
    if not marks:
        return []
    urls = find_urls(norm, rules)
    hits = _hits(marks, norm, rules, urls, quoted_spans(norm.text), possible)
    return [h.rule.id for h in hits if not h.quoted]  # a quoted advert's "nhận thưởng" is a report


def category_spans(norm: NormalisedText, rules: ModerationRules, category: str
                   ) -> list[tuple[int, int]]:
    """Where the rules of ``category`` match, supporting ones included, as offsets of the text
    and folded views (the de-obfuscated view has offsets of its own and is left out). For the
    gate (:func:`bot.moderation.gate.carries_request`): the words of an insult ("lũ cán bộ",
    "ăn tiền thuế", "đầu đất") are not what a message is about. Only asked of the few messages
    the rules found rude."""
    spans: list[tuple[int, int]] = []
    for rule in rules.rules:
        if rule.category == category:
            spans += [span for span in _match_text(rule, norm)[2] if span is not None]
    return spans


def _hits(selected: list[Rule], norm: NormalisedText, rules: ModerationRules, urls: list[Url],
          quotes: list[tuple[int, int]], possible: set[int] | None = None) -> list[RuleHit]:
    """The hits of the ``selected`` rules; ``possible`` (the ``id()`` of the matchers that could
    match, from :class:`bot.moderation.prefilter.Prefilter`) spares the others; without it each
    matcher is asked (:meth:`bot.moderation.rules.Matcher.may_match`)."""
    hits: list[RuleHit] = []
    for rule in selected:
        count, snippet, spans = _match_text(rule, norm, possible)
        if rule.urls is not None:
            for url in urls:
                if _url_matches(rule.urls, url, rules):
                    count += 1
                    snippet = snippet or url.host
                    spans.append(url.span)
        if count:
            quoted = bool(quotes) and all(
                span is not None and any(q[0] <= span[0] and span[1] <= q[1] for q in quotes)
                for span in spans
            )
            hits.append(RuleHit(rule, count, snippet, quoted, rules.quoted_factor))
    return hits


def _match_text(rule: Rule, norm: NormalisedText, possible: set[int] | None = None
                ) -> tuple[int, str, list[tuple[int, int] | None]]:
    """Occurrences of the rule's phrases and patterns, the first one's words, and their spans.

    The de-obfuscated view is only searched when nothing else matched; its offsets differ from
    the other views', so its occurrences have no span. A rule's matchers come with its
    de-obfuscating ones last (``bot.moderation.rules._compile_rule``), so one pass serves
    both: the first of those ends it when something already matched. Called some forty times
    for a long message, mostly to find nothing, so it asks as little as it can per matcher
    (issue 12: under 1 ms a message at p95).
    """
    count = 0
    snippet = ""
    spans: list[tuple[int, int] | None] = []
    in_fallback = False
    for matcher in rule.matchers:
        # The matchers worth running: the prefilter's answer, or each matcher's own test.
        if possible is not None:
            if id(matcher) not in possible:
                continue
        elif not matcher.may_match(norm):
            continue
        if matcher.fallback and not in_fallback:
            if count:
                break
            in_fallback = True
        view_name = matcher.view
        view: str = getattr(norm, view_name)
        found_all = _occurrences(matcher, norm, view)
        if not found_all:
            continue
        keeps_span = view_name == "text" or view_name == "folded"
        for found in found_all:
            count += 1
            spans.append(found.span() if keeps_span else None)
        if not snippet:
            # folded and text views have the same offsets: show the accented words.
            first = found_all[0]
            source = norm.text if view_name == "folded" else view
            snippet = source[first.start() : first.end()].strip()
    return count, snippet, spans


def _occurrences(matcher: Matcher, norm: NormalisedText, view: str) -> list[re.Match[str]]:
    """The matcher's matches in ``view``, left to right, not overlapping: what ``finditer``
    finds. A list of phrases can only match where one of its first words starts (its regex
    begins with a word-edge test and that word), so it is tried at those offsets alone, not at
    every character of the message (issue 12: under 1 ms a message). A list, not a generator:
    this is called some twenty times a message, and most calls find nothing. The first words
    present are found by intersecting two sets, which walks the smaller (a long message has a
    few hundred words and word pairs, a rule a handful of first words)."""
    anchors = matcher.anchors
    if anchors is None:
        return list(matcher.regex.finditer(view))
    compact = matcher.view == "compact"
    present = anchors & (norm.compact_words if compact else norm.folded_words)
    if not present:
        return []
    starts = norm.compact_starts if compact else norm.folded_starts
    if len(present) == 1:
        offsets: list[int] = starts[next(iter(present))]
    else:
        offsets = sorted(offset for word in present for offset in starts[word])
    end = 0
    match = matcher.regex.match
    found_all: list[re.Match[str]] = []
    for offset in offsets:
        if offset < end:
            continue
        found = match(view, offset)
        if found is not None:
            end = found.end()
            found_all.append(found)
    return found_all


@lru_cache(maxsize=8)
def _url_patterns(tlds: tuple[str, ...]
                  ) -> tuple[Callable[[str], str], re.Pattern[str], Callable[[str], object]]:
    """What undoes a hidden dot in a view of the message, the link pattern, and a quick test
    that a view may hold a link at all (a dot before a known TLD), for ``tlds``."""
    alternatives = "|".join(re.escape(t) for t in sorted(tlds, key=len, reverse=True))
    # "fv88 chấm com", "fv88[.]com", "fv88 (dot) com" → "fv88.com", only before a known TLD.
    # Stop 49: "sunloc79 (chấm) win", and a middle dot or bullet between name and TLD with no
    # space ("bachvip·top"); with spaces around, a middle dot separates words ("tin nóng · top").
    hidden_dot = re.compile(
        r"(?:\s*(?:\[\.\]|\(\.\)|\[(?:dot|cham)\]|\((?:dot|cham)\)|\s(?:cham|dot)\s)\s*"
        r"|(?<=[a-z0-9])[·•。])(?=(?:"
        + alternatives
        + r")(?![a-z0-9]))"
    )
    # Stop 45: "phatnguoi-csgt .site", "TK88 .vip", "hup99 . com": a dot set apart by a space, to
    # slip past link filters (:func:`_join_spaced_dots`), found from the dot before a known TLD
    # (a literal first character, so most messages cost one fast scan).
    dot_before_tld = re.compile(r"\.(\s*)(?=(?:" + alternatives + r")(?![a-z0-9]))")
    url = re.compile(
        r"(?<![@\w-])(?:(?:https?|hxxps?)://)?"
        r"((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + alternatives + r"))"
        r"(?![a-z0-9-])(/[^\s]*)?"
    )

    def unhide(view: str) -> str:
        if _MAY_HIDE_DOT.search(view):  # most messages: nothing a hidden dot is written with
            view = hidden_dot.sub(".", view)
        return _join_spaced_dots(view, dot_before_tld)

    # Every link has a dot right before a known TLD (the link pattern asks more of it): without
    # one, the link pattern, which tries every word of the message, need not run (stop 50).
    return unhide, url, dot_before_tld.search


#: What every hidden dot of :func:`_url_patterns` is written with: a bracket, "cham" or "dot"
#: (folded), or a middle dot, bullet or ideographic full stop.
_MAY_HIDE_DOT = re.compile(r"[\[(·•。]|cham|dot")


#: A name that may stand before a dot set apart by a space (:func:`_join_spaced_dots`).
_SPACED_NAME = re.compile(r"(?=[a-z0-9-]*[a-z])(?=[a-z0-9-]*[\d-])[a-z0-9-]{3,}")


def _join_spaced_dots(view: str, dot_before_tld: re.Pattern[str]) -> str:
    """``view`` with "name .tld" and "name . tld" joined to "name.tld", where the name has a digit
    or a hyphen and a letter: a Vietnamese word has neither, and folded "nhà. Cơm" is
    "nha. com"."""
    parts: list[str] = []
    last = 0
    for match in dot_before_tld.finditer(view):
        dot = match.start()
        before = view[last:dot]
        spaced_before = before[-1:].isspace()
        if not (spaced_before or match.group(1)):
            continue  # an ordinary link
        name = before.rsplit(None, 1)[-1] if before.strip() else ""  # the last word
        if not _SPACED_NAME.fullmatch(name):
            continue
        parts.append(view[last:dot].rstrip() + ".")
        last = match.end()
    return "".join(parts) + view[last:] if parts else view


def find_urls(norm: NormalisedText, rules: ModerationRules) -> list[Url]:
    """Links in the message that are not on the trusted list, each once."""
    unhide, url_re, may_link = _url_patterns(rules.tlds)
    found: dict[tuple[str, str], Url] = {}
    # The plain folded view first: its offsets are those of the text view (for quotations).
    unhidden = unhide(norm.folded)
    views = (
        (norm.folded, True),
        (unhidden, False),
        (unhidden if norm.compact == norm.folded else unhide(norm.compact), False),
    )
    searched: set[str] = set()
    for view, positioned in views:
        if view in searched:  # most messages: all three are one string, and so are its links
            continue
        searched.add(view)
        if not may_link(view):
            continue
        for match in url_re.finditer(view):
            host = match.group(1).strip(".")
            path = (match.group(2) or "").rstrip(".,;:!?)\"'”»")
            if _domain_in(host, rules.trusted_domains):
                continue
            span = match.span() if positioned else None
            found.setdefault((host, path), Url(host, path, span))
    return list(found.values())


def _domain_in(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _any_keyword_in(keywords: tuple[str, ...], text: str) -> bool:
    """Long keywords anywhere in the joined text; short ones ("bet", "vcb") only at a word's edge.

    A spam message's links are asked this by every rule with link keywords, a few hundred times
    a message: the two views of a link part and the two kinds of keyword are made once
    (:func:`_keyword_view`, :func:`_keyword_kinds`), where they were a ``re.sub`` and a
    ``re.split`` per keyword (an eighth of the time of the slowest messages, issue 12)."""
    if not keywords:
        return False
    long_ones, short_ones = _keyword_kinds(keywords)
    joined, tokens = _keyword_view(text)
    if any(keyword in joined for keyword in long_ones):
        return True
    return bool(short_ones) and any(
        token.startswith(short_ones) or token.endswith(short_ones) for token in tokens)


@lru_cache(maxsize=256)
def _keyword_view(text: str) -> tuple[str, tuple[str, ...]]:
    """A link's host or path as keywords are looked for in it: its letters and digits joined, and
    its words."""
    return re.sub(r"[^a-z0-9]", "", text), tuple(t for t in re.split(r"[^a-z0-9]+", text) if t)


@lru_cache(maxsize=256)
def _keyword_kinds(keywords: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A rule's link keywords split into long ones (four characters or more) and short ones."""
    return (tuple(k for k in keywords if len(k) >= 4), tuple(k for k in keywords if len(k) < 4))


def _url_matches(criteria: UrlCriteria, url: Url, rules: ModerationRules) -> bool:
    platform = _domain_in(url.host, rules.platform_domains)
    if criteria.any:
        return True
    if _any_keyword_in(criteria.keywords, url.path):
        return True
    if platform:
        # The host is the genuine platform; only what follows it can say anything.
        return False
    if _any_keyword_in(criteria.keywords, url.host):
        return True
    if _any_keyword_in(criteria.host_keywords, url.host):
        return True
    if any(_domain_in(url.host, (h,)) for h in criteria.hosts):
        return True
    return url.host.rsplit(".", 1)[-1] in criteria.tlds


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class _Scores:
    category: str
    raw: float
    contributing: tuple[RuleHit, ...]


def _best_category(hits: list[RuleHit]) -> _Scores | None:
    by_category: dict[str, list[RuleHit]] = {}
    for hit in hits:  # once, not once per category (issue 12: under 1 ms a message)
        by_category.setdefault(hit.rule.category, []).append(hit)
    signals = by_category.get("signal", [])
    offers = by_category.get("offer", [])
    best = _offer_structure(hits, signals, offers)
    for category in CATEGORIES:
        own = by_category.get(category)
        if not own or all(h.rule.boost_only for h in own):
            continue
        contributing = list(own)
        if category in SPAM_FAMILIES:
            contributing += signals
            if len(offers) >= MIN_OFFER_PARTS:  # one offer word is everyday speech
                contributing += offers
        raw = sum(h.weight for h in contributing)
        if best is None or raw > best.raw:
            best = _Scores(category, raw, tuple(contributing))
    return best


def _offer_structure(hits: list[RuleHit], signals: list[RuleHit], offers: list[RuleHit]
                     ) -> _Scores | None:
    """An advert by its structure (see the module docstring): enough offer parts, a way to
    answer, and nothing of a citizen reporting; scored as ``ad_spam``."""
    if len(offers) < MIN_OFFER_PARTS or not any(h.rule.id in CONTACT_SIGNALS for h in signals):
        return None
    if any(h.rule.category == "report" for h in hits):
        return None
    contributing = tuple(offers + signals)
    return _Scores("ad_spam", sum(h.weight for h in contributing), contributing)


def _decide(hits: list[RuleHit], rules: ModerationRules, text: str) -> Verdict:
    best = _best_category(hits)
    reports = [h for h in hits if h.rule.category == "report"]
    if best is not None and best.category == "abuse" and rules.abuse_not_excused_by:
        reports = [h for h in reports if h.rule.id not in rules.abuse_not_excused_by]
    if best is None:
        return Verdict(False, "clean", 0.0, "Không phát hiện dấu hiệu vi phạm.", _ids(hits))
    posing = _posing_as_warning(hits, best, reports, rules)
    # A list of search terms: its "mua … ở đâu", "có tốt không" are no citizen's question.
    stuffed = best.category in _SPAM_FAMILIES and any(h.rule.id == STUFFING for h in hits)
    voided = bool(posing) or stuffed
    if voided:
        reports = []
    elif _advert_quoted_whole(hits, best, text):
        return Verdict(False, "clean", 0.0, _clip(
            f"Cho qua: dấu hiệu {rules.label(best.category).lower()} "
            f"({_evidence(best.contributing, 1)}) chỉ nằm trong phần người viết chép lại, trong "
            f"ngoặc kép hay sau dấu hai chấm; lời của chính họ không rao gì."), _ids(hits))
    discount = min(sum(h.weight for h in reports), rules.max_report_discount)
    # A citizen's own words of reporting also shrink the advert they pasted (``reported_factor``):
    # a long pasted advert scores more than any discount, so before this, the more faithfully a
    # citizen copied the spam they were reporting, the surer they were refused.
    raw = best.raw * (rules.reported_factor if reports else 1.0)
    score = round(max(0.0, raw - discount), 2)
    # A voided "warning" is not a citizen's word: left out of the rule ids, the learned second
    # opinion (bot.moderation.opinion) does not release the advert as a citizen's report.
    contributing = {id(h) for h in best.contributing}  # each rule hits once: identity is enough
    ordered = list(best.contributing) + [h for h in hits if id(h) not in contributing
                                         and not (voided and h.rule.category == "report")]
    rule_ids = _ids(ordered)
    label = rules.label(best.category)
    evidence = _evidence(best.contributing)
    if score >= rules.threshold:
        if posing:  # first, so the 255 characters kept always say it
            label += f", đội lốt lời cảnh báo ({_evidence(posing, 1)})"
        reason = f"{label}: {evidence}. Điểm {score:g}/{rules.threshold:g}"
        if discount:
            reason += f" (đã trừ {discount:g} vì có lời phản ánh: {_evidence(reports, 1)})"
        return Verdict(True, cast(Category, best.category), score, _clip(reason + "."), rule_ids)
    if discount and best.raw >= rules.threshold:
        reason = (
            f"Cho qua: có dấu hiệu {label.lower()} ({evidence}) nhưng là lời phản ánh "
            f"của người dân ({_evidence(reports, 2)})."
        )
    else:
        reason = (
            f"Cho qua: dấu hiệu {label.lower()} chưa đủ ({evidence}), "
            f"điểm {score:g}/{rules.threshold:g}."
        )
    return Verdict(False, "clean", score, _clip(reason), rule_ids)


#: Words of their own, outside what they quote or paste, a writer needs for
#: :func:`_advert_quoted_whole` ("Tin nhắn: <the scam>" alone is the scam, with two).
_MIN_OWN_WORDS = 4


def _advert_quoted_whole(hits: list[RuleHit], best: _Scores, text: str) -> bool:
    """Whether every word of the spam family stands inside what the writer quotes or pastes
    after a lead-in (:func:`quoted_spans`), and no way to answer and no seller's words stand
    outside it (no ``signal`` rule at all: a link, a number, "nhận 500k", "uy tín"): the writer
    passes an advert on and adds nothing of an advert of their own.

    Why a release and not only the ``quoted_factor``: a long pasted advert still scores over the
    threshold at half weight, and a citizen who quotes it faithfully and asks "bên mình có
    tuyển như vậy không" in words no ``report`` rule knows was refused (blind set 30, stop 44).
    On the 3,431 spam lines of blind sets 1-38 none has this shape and 530 reports of spam do
    (stop 44's last round). Spam that quotes its own pitch puts its link, number or "ib" outside
    the quote."""
    if best.category not in _SPAM_FAMILIES:
        return False
    if len(_WORD_RE.findall(outside_quotes(text))) < _MIN_OWN_WORDS:
        return False
    deciding = [h for h in hits if h.rule.category in _SPAM_FAMILIES and not h.rule.boost_only]
    if not deciding or not all(h.quoted for h in deciding):
        return False
    return not any(not h.quoted and h.rule.category in ("signal", "promo") for h in hits)


#: The ``ad_spam`` rule that finds keyword stuffing (a three-word phrase three times, close
#: together): where it matches, the report signals are search terms and give no discount.
STUFFING = "ad.keyword_stuffing"
#: The ``promo`` rule that names a brand as the official channel ("kênh chính thức Sunwin88"):
#: where a warning is judged void it stands for a way to answer (:func:`_posing_as_warning`).
NAMED_CHANNEL = "promo.names_own_channel"
#: Rules that name a bookmaker-like brand ("TK88", "Kv99", "…bet"): beside the seller's own
#: "chỉ chơi tại …" they tell the reader where to go, as a named channel does (stop 45).
NAMED_BRANDS = frozenset({NAMED_CHANNEL, "gambling.brand_pattern", "gambling.register_brand"})


def _posing_as_warning(hits: list[RuleHit], best: _Scores, reports: list[RuleHit],
                       rules: ModerationRules) -> list[RuleHit]:
    """The ``promo`` hits that make an advert's "warning" void, or nothing.

    Adverts learned to open as warnings ("CẢNH BÁO lừa đảo! … hãy đến với bên em") and so earned
    the discount meant for citizens reporting spam. They still speak as the seller, outside any
    quotation, and give a way to answer: both together, with a spam family matched, mean the
    writer is the advertiser. A citizen passing an advert on quotes it, pastes it after a colon
    (counted as quoted) or tells it in the third person, so a real report keeps its discount;
    and any report signal an advert does not use (``warning_signals`` in
    ``content/moderation/settings.yml`` lists those it does) shows a citizen writing. A channel
    called official by a made-up brand name (:data:`NAMED_CHANNEL`: "sàn chính thức
    AsiaCoinEx") is a way to answer too: the reader is told where to go."""
    if not reports or best.category not in _SPAM_FAMILIES:
        return []
    if any(h.rule.id not in rules.warning_signals for h in reports):
        return []
    promo = [h for h in hits if h.rule.category == "promo" and not h.quoted]
    if not promo or not any((h.rule.id in CONTACT_SIGNALS or h.rule.id in NAMED_BRANDS)
                            and not h.quoted for h in hits):
        return []
    return promo


def _ids(hits: Iterable[RuleHit]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(h.rule.id for h in hits))


def _evidence(hits: Iterable[RuleHit], limit: int = _MAX_REASONS) -> str:
    strongest = sorted(hits, key=lambda h: h.weight, reverse=True)[:limit]
    return "; ".join(f"{h.rule.description} «{h.snippet[:30]}»" for h in strongest)


def _clip(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON_LENGTH else reason[: MAX_REASON_LENGTH - 1] + "…"
