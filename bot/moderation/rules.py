"""Moderation word lists and rules, read from YAML files that staff edit.

Everything that decides what is spam lives in ``content/moderation/*.yml``; this module only reads,
checks and compiles those files, so a word list can change without a code change or a retrain.
Nothing is read at import time: :func:`load_rules` reads a directory on first use and keeps the
result for the life of the process (a staff edit takes effect after a restart or
:func:`clear_rules_cache`).

Files in the directory:

``settings.yml`` (optional)
    ``threshold``, ``max_report_discount``, ``quoted_factor``, ``reported_factor``,
    ``abuse_not_excused_by`` (ids of ``report`` rules whose discount an insult does not get),
    ``warning_signals`` (ids of ``report`` rules an advert dressed as a warning also uses),
    ``rate_limit`` and the Vietnamese ``labels`` of the categories; defaults are used for
    anything missing.
``allowlist_domains.yml`` (optional)
    ``trusted`` domains whose links are ignored (gov.vn, mattran.org.vn, …), ``platforms`` whose
    host is genuine but whose paths are still checked (facebook.com, zalo.me, …) and the ``tlds``
    that make a bare word with a dot look like a link.
every other ``*.yml``
    A rule file: ``category`` (one of :data:`RULE_CATEGORIES`) and ``rules``, a list of rules. A
    rule has an ``id``, a ``weight``, a Vietnamese ``description`` that staff read in the
    quarantine reason, and at least one of ``terms`` (phrases), ``strict_terms`` (phrases that must
    be typed with exactly these diacritics), ``patterns`` (regular expressions) or ``urls``
    (criteria for the links in a message). Optional: ``view`` for patterns (``folded`` by
    default, or ``text``, ``compact``), ``deobfuscate`` (also look for the terms, and the
    folded-view patterns, in the de-obfuscated view), ``boost_only`` (counts only when another rule of the same category
    matched), ``repeat_bonus`` and ``repeat_cap`` (extra weight per repeated occurrence).

A malformed file raises :class:`ModerationRulesError` naming the file (and the rule), so a typo
made by staff is found at start-up with a message that says where it is, not as a silent miss.

Why this is one module: every file of the directory is read, checked against the others
(rule ids, categories, settings naming rules) and compiled into one ``ModerationRules``; the
checks of one file need the rules of the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from bot.moderation.normalise import NormalisedText, canonical, fold
from bot.moderation.phrases import alternation, first_words, squashed_alternation
from bot.moderation.prefilter import Prefilter, pattern_first_words, required_literals

__all__ = [
    "CATEGORIES",
    "RULE_CATEGORIES",
    "SPAM_FAMILIES",
    "SUPPORTING_CATEGORIES",
    "Matcher",
    "ModerationRules",
    "ModerationRulesError",
    "Rule",
    "UrlCriteria",
    "clear_rules_cache",
    "default_directory",
    "load_rules",
]

#: Spam families: supporting ``signal`` rules add to whichever of these already matched.
SPAM_FAMILIES: tuple[str, ...] = (
    "gambling", "scam_link", "loan_spam", "earn_money_spam", "account_trade", "ad_spam")
#: Every category a verdict can carry.
CATEGORIES: tuple[str, ...] = (*SPAM_FAMILIES, "abuse", "rate_limited", "clean")
#: Categories a rule file may declare: the flaggable ones, generic spam ``signal``s,
#: ``report`` rules (signs of a citizen reporting a problem, which lower the score) and ``offer``
#: rules (the generic parts of an advert: a price, an easy promise, a gain, a service), which
#: strengthen a spam family and, with a way to answer (``engine.CONTACT_SIGNALS``), make an
#: advert of their own (see :mod:`bot.moderation.engine`), and ``promo`` rules (a seller's own
#: voice: "chỉ có link này mới uy tín", "bên em là công ty"), which cancel the reporting discount
#: of an advert dressed as a warning.
RULE_CATEGORIES: tuple[str, ...] = (*SPAM_FAMILIES, "abuse", "signal", "report", "offer", "promo")
#: The categories whose rules never decide on their own: they add to, subtract from or void a
#: deciding category's score (:func:`bot.moderation.engine._supporting`).
SUPPORTING_CATEGORIES: tuple[str, ...] = ("signal", "report", "offer", "promo")
VIEWS: tuple[str, ...] = ("text", "folded", "compact")

SETTINGS_FILE = "settings.yml"
ALLOWLIST_FILE = "allowlist_domains.yml"

DEFAULT_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "gambling": "Quảng cáo cờ bạc, cá cược trực tuyến",
        "scam_link": "Lừa đảo, đường link giả mạo",
        "loan_spam": "Quảng cáo cho vay tiền",
        "earn_money_spam": "Quảng cáo việc nhẹ lương cao, kiếm tiền online",
        "account_trade": "Mua bán sim, tài khoản ngân hàng, thẻ ATM, giấy tờ",
        "ad_spam": "Quảng cáo bán hàng, dịch vụ đăng tràn lan",
        "abuse": "Ngôn từ xúc phạm, đe dọa, tục tĩu",
        "rate_limited": "Gửi tin vi phạm liên tục",
        "clean": "Không vi phạm",
    }
)
#: Used when ``allowlist_domains.yml`` lists no ``tlds``.
DEFAULT_TLDS: tuple[str, ...] = tuple(
    """com net org vn info biz xyz top club vip bet win cc me io co tk ml ga cf gq ly gl gd id to
    link site online live fun app shop store icu click asia pro tv casino games run cfd sbs lol
    today life work buzz apk""".split()
)

_RULE_KEYS = frozenset(
    """id weight description terms strict_terms patterns view urls deobfuscate boost_only
    repeat_bonus repeat_cap""".split()
)
_URL_KEYS = frozenset({"any", "hosts", "tlds", "keywords", "host_keywords"})
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


class ModerationRulesError(ValueError):
    """A moderation data file is missing, malformed or inconsistent; the message names it."""


@dataclass(frozen=True)
class Matcher:
    """One compiled phrase or pattern and the view it is searched in."""

    view: str
    regex: re.Pattern[str]
    #: Searched only when the rule's other matchers found nothing (the de-obfuscated view).
    fallback: bool = False
    #: For a list of phrases, and a hand-written pattern that says so
    #: (:func:`bot.moderation.prefilter.pattern_first_words`): the (folded) first words every
    #: match begins with. A message that has none of these words cannot match, so the regex is
    #: not run, and otherwise it is tried only where they begin (most rules, on most messages;
    #: issue 12 asks for under 1 ms a message). None when nothing can be said.
    anchors: frozenset[str] | None = None
    #: For a hand-written pattern: strings of which every match contains one
    #: (:func:`bot.moderation.prefilter.required_literals`). A view with none of them cannot
    #: match, so the regex is not run. None when nothing can be said: always run.
    literals: frozenset[str] | None = None

    def may_match(self, norm: NormalisedText) -> bool:
        """False when the message cannot hold a match (its first words or required strings
        are missing from the view); True means "run the regex"."""
        if self.anchors is not None and self.anchors.isdisjoint(norm.words(self.view)):
            return False
        if self.literals is not None:
            view = norm.view(self.view)
            return any(literal in view for literal in self.literals)
        return self.anchors is not None or self.view != "runs" or bool(norm.runs)


@dataclass(frozen=True)
class UrlCriteria:
    """What makes a link (one not on the trusted list) match a rule."""

    any: bool = False
    hosts: tuple[str, ...] = ()
    tlds: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    host_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One rule of a data file, compiled."""

    id: str
    category: str
    weight: float
    description: str
    source: Path
    matchers: tuple[Matcher, ...] = ()
    urls: UrlCriteria | None = None
    boost_only: bool = False
    repeat_bonus: float = 0.0
    repeat_cap: float = 0.0

    @cached_property
    def anchors(self) -> frozenset[str] | None:
        """Every word the rule's matches begin with; None when a matcher does not say (a
        pattern without known first words) or the rule has link criteria (then
        :meth:`may_match` asks each matcher)."""
        if self.urls is not None:
            return None
        words: set[str] = set()
        for matcher in self.matchers:
            if matcher.anchors is None:
                return None
            words |= matcher.anchors
        return frozenset(words)

    def may_match(self, norm: NormalisedText) -> bool:
        """False when no matcher of the rule can match (none of its phrases' first words, none
        of its patterns' required strings): the rule is not searched at all (issue 12: under
        1 ms a message)."""
        anchors = self.anchors
        if anchors is not None:
            return not (anchors.isdisjoint(norm.folded_words)
                        and anchors.isdisjoint(norm.compact_words))
        return self.urls is not None or any(m.may_match(norm) for m in self.matchers)


@dataclass(frozen=True, eq=False)
class ModerationRules:
    """Every rule and setting of one directory, ready for :func:`bot.moderation.moderate`."""

    rules: tuple[Rule, ...]
    directory: Path
    threshold: float = 1.0
    max_report_discount: float = 3.0
    quoted_factor: float = 0.5
    reported_factor: float = 1.0
    #: ``report`` rules that lower the score of spam but not of an insult: asking ("óc chó à?"),
    #: speaking of oneself, calling the page ("ad ơi, đồ óc chó") say nothing of a citizen
    #: quoting the abuse they received, as being a victim or naming who said it do.
    abuse_not_excused_by: frozenset[str] = frozenset()
    #: ``report`` rules an advert dressed as a warning also uses ("cảnh báo", "lừa đảo", "mọi
    #: người cẩn thận"): with a seller's own voice (``promo`` rules) they lose their discount.
    #: Any other report signal (a tail after a pasted advert, reported speech, what happened
    #: after) shows a citizen writing, and keeps it.
    warning_signals: frozenset[str] = frozenset()
    rate_limit_max_flagged: int = 3
    rate_limit_window_seconds: float = 600.0
    labels: Mapping[str, str] = field(default_factory=lambda: DEFAULT_LABELS)
    trusted_domains: tuple[str, ...] = ()
    platform_domains: tuple[str, ...] = ()
    tlds: tuple[str, ...] = DEFAULT_TLDS

    @cached_property
    def order(self) -> dict[int, int]:
        """Each rule's place in load order (by ``id()``): hits are reported in it. Computed once
        per rule set, not per message."""
        return {id(rule): n for n, rule in enumerate(self.rules)}

    @cached_property
    def prefilter(self) -> Prefilter:
        """Which rules could match a message, by its words and strings (built once)."""
        return Prefilter(self.rules)

    def by_id(self, rule_id: str) -> Rule:
        """Return the rule called ``rule_id`` (KeyError if there is none)."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def label(self, category: str) -> str:
        """The Vietnamese name of ``category`` that staff read."""
        return self.labels.get(category, DEFAULT_LABELS.get(category, category))


def default_directory() -> Path:
    """``<CONTENT_DIR>/moderation``, from the process settings."""
    from bot.settings import get_settings  # imported here: reading settings is a runtime act

    return get_settings().content_dir / "moderation"


def load_rules(directory: Path | None = None) -> ModerationRules:
    """Read and compile the rules in ``directory`` (default :func:`default_directory`), once
    per resolved directory for the life of the process: a dictionary look-up per message."""
    path = Path(directory) if directory is not None else default_directory()
    return _load_cached(_resolved(path))


#: ``Path.resolve`` kept: asking the file system cost a tenth of a message's 1 ms.
_resolved = lru_cache(maxsize=16)(Path.resolve)


def clear_rules_cache() -> None:
    """Forget every loaded directory, so the next :func:`load_rules` re-reads the files."""
    _load_cached.cache_clear()
    _resolved.cache_clear()


@lru_cache(maxsize=16)
def _load_cached(directory: Path) -> ModerationRules:
    if not directory.is_dir():
        raise ModerationRulesError(f"{directory}: moderation rules directory not found")
    settings = _read_mapping(directory / SETTINGS_FILE, required=False)
    allowlist = _read_mapping(directory / ALLOWLIST_FILE, required=False)
    rules: list[Rule] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yml")):
        if path.name in (SETTINGS_FILE, ALLOWLIST_FILE):
            continue
        for rule in _read_rule_file(path):
            if rule.id in seen:
                raise ModerationRulesError(
                    f"{path}: rule id {rule.id!r} is already used in {seen[rule.id].name}"
                )
            seen[rule.id] = path
            rules.append(rule)
    if not rules:
        raise ModerationRulesError(f"{directory}: no rule files (*.yml) found")
    return _build_rules(directory, tuple(rules), settings, allowlist)


_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_mapping(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise ModerationRulesError(f"{path}: file not found")
        return {}
    try:
        # libyaml's safe loader where PyYAML has it: the same data, a fraction of the time,
        # and every process that moderates (Rasa, the action server, the web service) reads
        # these files when it starts.
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise ModerationRulesError(f"{path}: malformed YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ModerationRulesError(f"{path}: cannot read: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ModerationRulesError(f"{path}: expected a mapping at the top level")
    return data


def _build_rules(directory: Path, rules: tuple[Rule, ...], settings: dict[str, Any],
                 allowlist: dict[str, Any]) -> ModerationRules:
    where = directory / SETTINGS_FILE
    known = {"threshold", "max_report_discount", "quoted_factor", "reported_factor", "rate_limit",
             "labels", "abuse_not_excused_by", "warning_signals"}
    _reject_unknown(where, "settings", settings, known)
    rate = settings.get("rate_limit") or {}
    if not isinstance(rate, dict):
        raise ModerationRulesError(f"{where}: 'rate_limit' must be a mapping")
    _reject_unknown(where, "rate_limit", rate, {"max_flagged", "window_seconds"})
    labels = dict(DEFAULT_LABELS)
    raw_labels = settings.get("labels") or {}
    if not isinstance(raw_labels, dict):
        raise ModerationRulesError(f"{where}: 'labels' must be a mapping")
    for key, value in raw_labels.items():
        if key not in CATEGORIES or not isinstance(value, str):
            raise ModerationRulesError(f"{where}: bad label {key!r}")
        labels[key] = value
    max_flagged = _number(where, "rate_limit.max_flagged", rate.get("max_flagged", 3))
    if max_flagged < 1 or max_flagged != int(max_flagged):
        raise ModerationRulesError(f"{where}: rate_limit.max_flagged must be a whole number >= 1")

    allow_where = directory / ALLOWLIST_FILE
    _reject_unknown(allow_where, "allowlist", allowlist, {"trusted", "platforms", "tlds"})
    tlds = _strings(allow_where, "tlds", allowlist.get("tlds")) or DEFAULT_TLDS
    reports = {rule.id for rule in rules if rule.category == "report"}
    not_excusing = frozenset(_strings(where, "abuse_not_excused_by",
                                      settings.get("abuse_not_excused_by")))
    if not not_excusing <= reports:
        raise ModerationRulesError(
            f"{where}: abuse_not_excused_by names rules that are not report rules: "
            f"{', '.join(sorted(not_excusing - reports))}")
    warning = frozenset(_strings(where, "warning_signals", settings.get("warning_signals")))
    if not warning <= reports:
        raise ModerationRulesError(
            f"{where}: warning_signals names rules that are not report rules: "
            f"{', '.join(sorted(warning - reports))}")
    return ModerationRules(
        rules=rules,
        directory=directory,
        threshold=_number(where, "threshold", settings.get("threshold", 1.0)),
        max_report_discount=_number(
            where, "max_report_discount", settings.get("max_report_discount", 3.0)
        ),
        quoted_factor=_number(where, "quoted_factor", settings.get("quoted_factor", 0.5)),
        reported_factor=_number(where, "reported_factor", settings.get("reported_factor", 1.0)),
        abuse_not_excused_by=not_excusing,
        warning_signals=warning,
        rate_limit_max_flagged=int(max_flagged),
        rate_limit_window_seconds=_number(
            where, "rate_limit.window_seconds", rate.get("window_seconds", 600)
        ),
        labels=MappingProxyType(labels),
        trusted_domains=_domains(allow_where, "trusted", allowlist.get("trusted")),
        platform_domains=_domains(allow_where, "platforms", allowlist.get("platforms")),
        tlds=tuple(t.lower().lstrip(".") for t in tlds),
    )


def _reject_unknown(path: Path, what: str, data: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ModerationRulesError(f"{path}: unknown key(s) in {what}: {', '.join(unknown)}")


def _number(path: Path, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModerationRulesError(f"{path}: {name} must be a number, got {value!r}")
    return float(value)


def _strings(path: Path, name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise ModerationRulesError(f"{path}: {name} must be a list of strings")
    items = tuple(str(v).strip() for v in value)
    if any(not v for v in items):
        raise ModerationRulesError(f"{path}: {name} has an empty entry")
    return items


def _domains(path: Path, name: str, value: Any) -> tuple[str, ...]:
    return tuple(d.lower().strip(".") for d in _strings(path, name, value))


def _read_rule_file(path: Path) -> list[Rule]:
    data = _read_mapping(path, required=True)
    _reject_unknown(path, "file", data, {"category", "rules"})
    category = data.get("category")
    if category not in RULE_CATEGORIES:
        raise ModerationRulesError(
            f"{path}: 'category' must be one of {', '.join(RULE_CATEGORIES)}, got {category!r}"
        )
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ModerationRulesError(f"{path}: 'rules' must be a non-empty list")
    return [_compile_rule(path, str(category), index, raw) for index, raw in enumerate(raw_rules)]


def _compile_rule(path: Path, category: str, index: int, raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise ModerationRulesError(f"{path}: rule #{index + 1} must be a mapping")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _ID_RE.match(rule_id):
        raise ModerationRulesError(
            f"{path}: rule #{index + 1} needs an 'id' like 'gambling.brand_names', got {rule_id!r}"
        )
    where = f"{path}: rule {rule_id!r}"
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise ModerationRulesError(f"{where}: unknown key(s): {', '.join(unknown)}")
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ModerationRulesError(f"{where}: needs a Vietnamese 'description'")
    weight = _number(path, f"rule {rule_id!r} weight", raw.get("weight"))
    if weight <= 0:
        raise ModerationRulesError(f"{where}: weight must be positive")
    view = raw.get("view", "folded")
    if view not in VIEWS:
        raise ModerationRulesError(f"{where}: view must be one of {', '.join(VIEWS)}")
    deobfuscate = _flag(where, "deobfuscate", raw.get("deobfuscate", False))

    matchers: list[Matcher] = []
    fallbacks: list[Matcher] = []
    terms = _strings(path, f"rule {rule_id!r} terms", raw.get("terms"))
    strict_terms = _strings(path, f"rule {rule_id!r} strict_terms", raw.get("strict_terms"))
    # One alternation per view (longest phrase first, so it is the one reported): a message is
    # scanned once per rule and view, not once per phrase, and overlapping phrases
    # ("nhà cái", "nhà cái uy tín") count as one occurrence.
    by_view: dict[str, list[tuple[str, bool]]] = {"text": [], "folded": [], "compact": []}
    for term, strict in [(t, False) for t in terms] + [(t, True) for t in strict_terms]:
        canon = canonical(term)
        if not canon:
            raise ModerationRulesError(f"{where}: empty term {term!r}")
        # Written without diacritics (brands, teencode): matches however it is accented.
        by_view["folded" if fold(canon) == canon and not strict else "text"].append((canon, strict))
        if deobfuscate and not strict:
            by_view["compact"].append((fold(canon), False))
    for term_view, entries in by_view.items():
        if entries:
            regex = _compile(where, alternation(entries))
            matcher = Matcher(term_view, regex, fallback=term_view == "compact",
                              anchors=first_words(entries))
            (fallbacks if matcher.fallback else matchers).append(matcher)
    squashed = squashed_alternation([t for t, _ in by_view["compact"]])
    if squashed is not None:  # the letter-spaced runs (NormalisedText.runs), last resort
        fallbacks.append(Matcher("runs", _compile(where, squashed), fallback=True))
    for pattern in _strings(path, f"rule {rule_id!r} patterns", raw.get("patterns")):
        regex = _compile(where, pattern)
        literals = required_literals(pattern)
        # Words are looked up folded in every view (the text view folds letter for letter).
        first = pattern_first_words(pattern)
        anchors = frozenset(fold(word) for word in first) if first is not None else None
        matchers.append(Matcher(view, regex, anchors=anchors, literals=literals))
        # A text-view pattern tells marks apart ("bán", not "bạn"); the de-obfuscated view has
        # none left, so only folded-view patterns are also tried there.
        if deobfuscate and view == "folded":
            fallbacks.append(Matcher("compact", regex, fallback=True, anchors=anchors,
                                     literals=literals))

    urls = _url_criteria(path, rule_id, raw.get("urls"))
    if not matchers and urls is None:
        raise ModerationRulesError(f"{where}: needs terms, strict_terms, patterns or urls")
    repeat_bonus = _number(path, f"rule {rule_id!r} repeat_bonus", raw.get("repeat_bonus", 0))
    repeat_cap = _number(path, f"rule {rule_id!r} repeat_cap", raw.get("repeat_cap", 0))
    return Rule(
        id=rule_id,
        category=category,
        weight=weight,
        description=description.strip(),
        source=path,
        matchers=tuple(matchers + fallbacks),
        urls=urls,
        boost_only=_flag(where, "boost_only", raw.get("boost_only", False)),
        repeat_bonus=repeat_bonus,
        repeat_cap=repeat_cap,
    )


def _flag(where: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ModerationRulesError(f"{where}: {name} must be true or false")
    return value


def _compile(where: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ModerationRulesError(f"{where}: bad pattern {pattern!r}: {exc}") from exc


def _url_criteria(path: Path, rule_id: str, raw: Any) -> UrlCriteria | None:
    if raw is None:
        return None
    where = f"{path}: rule {rule_id!r}"
    if not isinstance(raw, dict):
        raise ModerationRulesError(f"{where}: 'urls' must be a mapping")
    unknown = sorted(set(raw) - _URL_KEYS)
    if unknown:
        raise ModerationRulesError(f"{where}: unknown key(s) in urls: {', '.join(unknown)}")

    def words(name: str) -> tuple[str, ...]:
        return tuple(
            re.sub(r"[^a-z0-9.]", "", fold(w.lower()))
            for w in _strings(path, f"rule {rule_id!r} urls.{name}", raw.get(name))
        )

    criteria = UrlCriteria(
        any=_flag(where, "urls.any", raw.get("any", False)),
        hosts=words("hosts"),
        tlds=tuple(t.lstrip(".") for t in words("tlds")),
        keywords=words("keywords"),
        host_keywords=words("host_keywords"),
    )
    if not (
        criteria.any
        or criteria.hosts
        or criteria.tlds
        or criteria.keywords
        or criteria.host_keywords
    ):
        raise ModerationRulesError(f"{where}: 'urls' has no criteria")
    return criteria
