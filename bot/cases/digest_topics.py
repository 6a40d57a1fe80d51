"""What is rising in a digest (:mod:`bot.cases.digest`): problem kinds and words that grew against
the baseline, the same-issue clusters that grew, and a few masked quotes for each.

The topics come from what the same-issue reader already read in each case
(:mod:`bot.cases.clusters`): its problem kinds (``#flood``, ``#light``…, from the phrase lists of
:mod:`bot.cases.cluster_words`) and its folded word pairs, kept as a short list beside the
signature (``cases.topic_terms``) and counted inside the database (:func:`_term_counts`).
On the bench database (``bench/digest.py``, 33,000 cases in a 7-day period and its baseline)
parsing the signatures in Python took 2.3 s under cProfile and counting their keys in PostgreSQL
about 0.4 s; the short lists are cheaper still, and only the frequent terms come back.
The clusters that grew are one grouped statement; the quotes of a topic come by the look-up keys
the linking already stores (``case_cluster_keys``). Nothing re-reads a text.

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

from sqlalchemy import case, cast, func, or_, select, true
from sqlalchemy.orm import Session

from bot.cases.cluster_words import CONCEPTS
from bot.cases.identity import PROTECTED_TYPES
from bot.cases.masking import mask_identity
from bot.db.models import Case, CaseClusterKey

__all__ = ["Change", "GrowingCluster", "Quote", "Topic", "Topics", "read_topics", "topic_words"]

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
class Change:
    """A count in the period against the baseline's average per period of the same length: a
    word's here, a category's, a unit's or the total in :mod:`bot.cases.digest`."""

    key: str
    current: int
    baseline: float

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    @property
    def percent(self) -> float | None:
        """Change in per cent of the baseline; None when the baseline is zero."""
        return None if not self.baseline else 100.0 * self.delta / self.baseline


@dataclass(frozen=True)
class Topics:
    topics: list[Topic]
    terms: list[Change]
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
        select(Case.id, Case.ref_code, Case.content, Case.person_name).where(Case.id.in_(list(ids)))
    ).all()
    out = {}
    for case_id, ref, content, name in rows:
        text = mask_identity(content, name)
        if len(text) > QUOTE_CHARS:
            text = text[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
        out[case_id] = Quote(case_id, ref, text)
    return out


def _term_counts(
    session: Session, codes: Sequence[str], start: datetime, end: datetime, baseline_start: datetime
) -> list[tuple[str, int, int]]:
    """(term, cases in the period, cases in the baseline) for the problem kinds (``#flood``) and
    word pairs (``nuoc_ngap``) of the cases (``cases.topic_terms``, a short JSON list written
    with the signature), counted by the database: PostgreSQL's ``json_array_elements_text``,
    SQLite's ``json_each`` — only terms seen at least :data:`MIN_CASES` times in the period
    come back."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSON

        items = (
            func.json_array_elements_text(cast(Case.topic_terms, JSON))
            .table_valued("term")
            .render_derived(name="t")
        )
        term = items.c.term
    else:
        items = func.json_each(Case.topic_terms).table_valued("value")
        term = items.c.value
    in_period = case((Case.created_at >= start, 1), else_=0)
    now, before = func.sum(in_period), func.sum(1 - in_period)
    rows = session.execute(
        select(term, now, before)
        .select_from(Case)
        .join(items, true())
        .where(
            Case.unit_code.in_(list(codes)),
            Case.created_at >= baseline_start,
            Case.created_at < end,
            Case.topic_terms.is_not(None),
        )
        .group_by(term)
        .having(now >= MIN_CASES)
    ).all()
    return [(str(t), int(n or 0), int(b or 0)) for t, n, b in rows]


def _quotable(
    session: Session, codes: Sequence[str], start: datetime, end: datetime, kind: str
) -> list[int]:
    """The newest cases of the period about ``kind`` that may be quoted (by the look-up keys
    ``+:kind`` / ``-:kind`` of :meth:`bot.cases.clusters.CaseSignature.keys`), newest first."""
    return list(
        session.execute(
            select(Case.id)
            .join(CaseClusterKey, CaseClusterKey.case_id == Case.id)
            .where(
                CaseClusterKey.unit_code.in_(list(codes)),
                CaseClusterKey.key.in_([f"+:{kind}", f"-:{kind}"]),
                Case.unit_code.in_(list(codes)),
                Case.created_at >= start,
                Case.created_at < end,
                or_(Case.legal_type.is_(None), Case.legal_type.not_in(sorted(PROTECTED_TYPES))),
                Case.anonymised.is_(False),
            )
            .order_by(Case.id.desc())
            .limit(QUOTES)
        ).scalars()
    )


def _growing(
    session: Session, codes: Sequence[str], start: datetime, end: datetime
) -> tuple[list[int], Counter[int], dict[int, Counter[str]], dict[int, int]]:
    """The clusters with the most members filed in the period: their ids, new members, problem
    kinds of those members, and the newest quotable member of each."""
    new = Counter(
        {
            int(c): int(n)
            for c, n in session.execute(
                select(Case.cluster_id, func.count())
                .where(
                    Case.unit_code.in_(list(codes)),
                    Case.created_at >= start,
                    Case.created_at < end,
                    Case.cluster_id.is_not(None),
                )
                .group_by(Case.cluster_id)
                .order_by(func.count().desc(), Case.cluster_id.desc())
                .limit(TOP)
            ).all()
        }
    )
    growing = [c for c, _ in sorted(new.items(), key=lambda kv: (-kv[1], -kv[0]))]
    kinds: dict[int, Counter[str]] = defaultdict(Counter)
    quotable: dict[int, int] = {}
    if growing:
        for case_id, cluster_id, legal_type, anonymised, raw in session.execute(
            select(Case.id, Case.cluster_id, Case.legal_type, Case.anonymised, Case.signature)
            .where(Case.cluster_id.in_(growing), Case.created_at >= start, Case.created_at < end)
            .order_by(Case.id)
        ).all():
            kinds[cluster_id].update(str(k) for k in _parse(raw).get("concepts") or ())
            if legal_type not in PROTECTED_TYPES and not anonymised:
                quotable[cluster_id] = case_id
    return growing, new, kinds, quotable


def read_topics(
    session: Session,
    codes: Sequence[str],
    start: datetime,
    end: datetime,
    baseline_start: datetime,
    periods: int,
) -> Topics:
    """The rising problem kinds and word pairs and the clusters that grew in [start, end), the
    baseline being [baseline_start, start) averaged over ``periods``."""
    counts = _term_counts(session, codes, start, end, baseline_start)
    rising_kinds = [
        (t[1:], n, b / periods) for t, n, b in counts if t.startswith("#") and n > b / periods
    ]
    rising_kinds.sort(key=lambda r: (-_rise(r[1], r[2]), r[0]))
    rising_kinds = rising_kinds[:TOP]
    terms = sorted(
        (
            Change(t, n, b / periods)
            for t, n, b in counts
            if not t.startswith("#") and n > b / periods
        ),
        key=lambda c: (-_rise(c.current, c.baseline), c.key),
    )[:TOP]

    growing, new, cluster_kinds, cluster_quote = _growing(session, codes, start, end)
    sizes: dict[int, int] = {}
    refs: dict[int, str] = {}
    if growing:
        sizes = {
            int(c): int(n)
            for c, n in session.execute(
                select(Case.cluster_id, func.count())
                .where(Case.cluster_id.in_(growing))
                .group_by(Case.cluster_id)
            ).all()
        }
        refs = {
            int(i): str(r)
            for i, r in session.execute(
                select(Case.id, Case.ref_code).where(Case.id.in_(growing))
            ).all()
        }

    quoted = {kind: _quotable(session, codes, start, end, kind) for kind, _, _ in rising_kinds}
    wanted = {i for ids in quoted.values() for i in ids} | set(cluster_quote.values())
    quotes = _quotes(session, sorted(wanted))

    topics = []
    for kind, n, baseline in rising_kinds:
        about = [c for c in growing if cluster_kinds[c].get(kind)]
        best = max(about, key=lambda c: (sizes.get(c, 0), new[c]), default=None)
        topics.append(
            Topic(
                key=kind,
                current=n,
                baseline=baseline,
                cluster_id=best,
                cluster_size=sizes.get(best, 0) if best is not None else 0,
                quotes=[quotes[i] for i in quoted[kind] if i in quotes],
            )
        )
    clusters = [
        GrowingCluster(
            cluster_id=c,
            ref_code=refs.get(c, ""),
            size=sizes.get(c, new[c]),
            new=new[c],
            topics=tuple(k for k, _ in cluster_kinds[c].most_common(2)),
            quote=quotes.get(cluster_quote.get(c, -1)),
        )
        for c in growing
    ]
    return Topics(topics=topics, terms=terms, clusters=clusters)
