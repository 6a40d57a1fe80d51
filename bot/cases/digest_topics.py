"""What is rising in a digest (:mod:`bot.cases.digest`): problem kinds and words that grew against
the baseline, the same-issue clusters that grew, and a few masked quotes for each.

The topics come from what the same-issue reader already stored on each case
(``cases.signature``, :mod:`bot.cases.clusters`): its problem kinds (``flood``, ``light``…, from
the phrase lists of :mod:`bot.cases.cluster_words`) and its folded word pairs. One statement reads
the (id, time, cluster, legal type, signature) of the cases of the period and its baseline; a
second reads the sizes of the clusters that grew; a third the texts of the few quoted cases.
Nothing re-reads a text, so the cost is one JSON parse per case of the window.

A quote is never taken from a tố cáo, nor from an anonymised case, and is masked
(:func:`bot.cases.masking.mask_identity`).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cases.cluster_words import CONCEPTS
from bot.cases.identity import PROTECTED_TYPES
from bot.cases.masking import mask_identity
from bot.db.models import Case

__all__ = ["GrowingCluster", "Quote", "TermChange", "Topic", "Topics", "read_topics", "topic_words"]

#: Topics, terms and clusters listed.
TOP = 8
#: Quotes per topic.
QUOTES = 2
#: Characters of a quote.
QUOTE_CHARS = 240
#: A topic or term needs this many cases in the period to be "rising".
MIN_CASES = 2


@dataclass(frozen=True)
class Quote:
    case_id: int
    ref_code: str
    text: str  # masked


@dataclass(frozen=True)
class Topic:
    """A problem kind (``flood``…) with its count now and its baseline average; ``cluster_id``
    is the biggest same-issue cluster of the period about it (its case page shows the cluster)."""

    key: str
    current: int
    baseline: float
    cluster_id: int | None = None
    cluster_size: int = 0
    quotes: list[Quote] = field(default_factory=list)

    @property
    def delta(self) -> float:
        return self.current - self.baseline


@dataclass(frozen=True)
class GrowingCluster:
    cluster_id: int
    ref_code: str
    size: int
    new: int  # members filed in the period
    topics: tuple[str, ...]
    quote: Quote | None


@dataclass(frozen=True)
class TermChange:
    key: str
    current: int
    baseline: float

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    @property
    def percent(self) -> float | None:
        return None if not self.baseline else 100.0 * self.delta / self.baseline


@dataclass(frozen=True)
class Topics:
    topics: list[Topic]
    terms: list[TermChange]
    clusters: list[GrowingCluster]


def topic_words(key: str, n: int = 3) -> str:
    """A problem kind in the words the phrase list gives first (``flood`` → "ngập, ngập úng,
    úng"); the key itself when it is not a known kind."""
    return ", ".join(CONCEPTS.get(key, (key,))[:n])


def _rise(current: int, baseline: float) -> float:
    """How surprising ``current`` is against ``baseline`` (a Poisson-like z score)."""
    return (current - baseline) / math.sqrt(baseline + 1.0)


def _parse(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw:
        try:
            data = json.loads(raw)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return {}


def _quotes(session: Session, ids: Sequence[int]) -> dict[int, Quote]:
    if not ids:
        return {}
    rows = session.execute(
        select(Case.id, Case.ref_code, Case.content, Case.person_name)
        .where(Case.id.in_(list(ids)))
    ).all()
    out = {}
    for case_id, ref, content, name in rows:
        text = mask_identity(content, name)
        if len(text) > QUOTE_CHARS:
            text = text[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
        out[case_id] = Quote(case_id, ref, text)
    return out


def read_topics(session: Session, codes: Sequence[str], start: datetime, end: datetime,
                baseline_start: datetime, periods: int) -> Topics:
    """The rising problem kinds and word pairs and the clusters that grew in [start, end), the
    baseline being [baseline_start, start) averaged over ``periods``."""
    rows = session.execute(
        select(Case.id, Case.created_at, Case.cluster_id, Case.legal_type, Case.anonymised,
               Case.signature)
        .where(Case.unit_code.in_(list(codes)), Case.created_at >= baseline_start,
               Case.created_at < end)
    ).all()
    kinds_now: Counter[str] = Counter()
    kinds_before: Counter[str] = Counter()
    terms_now: Counter[str] = Counter()
    terms_before: Counter[str] = Counter()
    quotable: dict[str, list[int]] = defaultdict(list)  # kind → case ids of the period, newest last
    cluster_new: Counter[int] = Counter()
    cluster_kinds: dict[int, Counter[str]] = defaultdict(Counter)
    quotable_in_cluster: dict[int, int] = {}
    for case_id, created, cluster_id, legal_type, anonymised, raw in sorted(rows, key=lambda r: r[0]):
        sig = _parse(raw)
        kinds = [str(k) for k in sig.get("concepts") or ()]
        pairs = [str(t) for t in (sig.get("terms") or {}) if "_" in str(t) and t[:1] != "#"]
        now = created >= start
        (kinds_now if now else kinds_before).update(kinds)
        (terms_now if now else terms_before).update(pairs)
        if not now:
            continue
        ok = legal_type not in PROTECTED_TYPES and not anonymised
        for kind in kinds:
            if ok:
                quotable[kind].append(case_id)
        if cluster_id is not None:
            cluster_new[cluster_id] += 1
            cluster_kinds[cluster_id].update(kinds)
            if ok:
                quotable_in_cluster[cluster_id] = case_id

    growing = [c for c, _ in sorted(cluster_new.items(), key=lambda kv: (-kv[1], -kv[0]))][:TOP]
    sizes: dict[int, int] = {}
    refs: dict[int, str] = {}
    if growing:
        sizes = {int(c): int(n) for c, n in session.execute(
            select(Case.cluster_id, func.count()).where(Case.cluster_id.in_(growing))
            .group_by(Case.cluster_id)).all()}
        refs = {int(i): str(r) for i, r in session.execute(
            select(Case.id, Case.ref_code).where(Case.id.in_(growing))).all()}

    rising = sorted(
        (k for k in kinds_now if kinds_now[k] >= MIN_CASES
         and kinds_now[k] > kinds_before.get(k, 0) / periods),
        key=lambda k: (-_rise(kinds_now[k], kinds_before.get(k, 0) / periods), k))[:TOP]
    wanted: list[int] = []
    for kind in rising:
        wanted += quotable[kind][-QUOTES:]
    wanted += [quotable_in_cluster[c] for c in growing if c in quotable_in_cluster]
    quotes = _quotes(session, sorted(set(wanted)))

    topics = []
    for kind in rising:
        about = [c for c in growing if cluster_kinds[c].get(kind)]
        best = max(about, key=lambda c: (sizes.get(c, 0), cluster_new[c]), default=None)
        topics.append(Topic(
            key=kind, current=kinds_now[kind], baseline=kinds_before.get(kind, 0) / periods,
            cluster_id=best, cluster_size=sizes.get(best, 0) if best is not None else 0,
            quotes=[quotes[i] for i in reversed(quotable[kind][-QUOTES:]) if i in quotes]))
    terms = sorted(
        (TermChange(t, terms_now[t], terms_before.get(t, 0) / periods) for t in terms_now
         if terms_now[t] >= MIN_CASES and terms_now[t] > terms_before.get(t, 0) / periods),
        key=lambda c: (-_rise(c.current, c.baseline), c.key))[:TOP]
    clusters = [
        GrowingCluster(
            cluster_id=c, ref_code=refs.get(c, ""), size=sizes.get(c, cluster_new[c]),
            new=cluster_new[c], topics=tuple(k for k, _ in cluster_kinds[c].most_common(2)),
            quote=quotes.get(quotable_in_cluster.get(c, -1)))
        for c in growing
    ]
    return Topics(topics=topics, terms=terms, clusters=clusters)
