"""The digest (issue 15 item 2): what the public told a unit and the units below it over a period,
against the period before — for a chairman on Monday morning and for the trainers.

:func:`build_digest` returns plain data (frozen dataclasses) that the console page, its CSV and
PDF exports and the Monday Telegram summary all render; nothing here formats for a reader. The
default period is the last 7 days against the 4 weeks before, as a weekly average
(:class:`Period`). Every figure is a handful of SQL statements over indexed columns
(``ix_cases_unit_created``, ``ix_case_events_action_created``, revision 0011), SQLAlchemy Core 2.0
style, on SQLite and PostgreSQL alike; the topics (:mod:`bot.cases.digest_topics`) read the
stored same-issue signatures of the period's cases rather than re-reading their texts.

Privacy: the quotes are masked (:mod:`bot.cases.masking`) and never taken from a tố cáo
(:data:`bot.cases.identity.PROTECTED_TYPES`); no figure carries a name, phone or channel id.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import String, and_, case, cast, func, select
from sqlalchemy.orm import Session

from bot.cases.digest_topics import Change, GrowingCluster, Topic, read_topics
from bot.cases.questions import QuestionStats, question_stats
from bot.db.models import TERMINAL_STATUSES, Case, CaseEvent, CaseStatus, Unit
from bot.db.types import ensure_aware, utcnow

__all__ = [
    "Change",
    "Digest",
    "OpenCase",
    "PERIOD_DAYS",
    "Period",
    "Timing",
    "build_digest",
    "subtree",
]

#: Period lengths offered by the console (days).
PERIOD_DAYS = (7, 14, 28)
#: Weeks (periods) before the chosen one that make the baseline.
BASELINE_PERIODS = 4
#: Rows in each "worst first" list.
LIST_SIZE = 10
_OPEN = [s.value for s in CaseStatus if s not in TERMINAL_STATUSES]
_FINISHED = (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value)


@dataclass(frozen=True)
class Period:
    """[start, end) and the baseline before it: ``baseline_periods`` periods of the same length.
    ``end`` is local midnight after ``last_day``."""

    last_day: date
    days: int
    start: datetime
    end: datetime
    baseline_start: datetime
    baseline_periods: int = BASELINE_PERIODS

    @classmethod
    def ending(
        cls, last_day: date, tz: tzinfo, days: int = 7, baseline_periods: int = BASELINE_PERIODS
    ) -> Period:
        days = days if days in PERIOD_DAYS else PERIOD_DAYS[0]
        end = datetime.combine(last_day + timedelta(days=1), time(0), tz)
        start = end - timedelta(days=days)
        return cls(
            last_day=last_day,
            days=days,
            start=start,
            end=end,
            baseline_start=start - timedelta(days=days * baseline_periods),
            baseline_periods=baseline_periods,
        )

    @classmethod
    def last(cls, now: datetime, tz: tzinfo, days: int = 7) -> Period:
        """The ``days`` days up to and including yesterday (local)."""
        return cls.ending(now.astimezone(tz).date() - timedelta(days=1), tz, days)

    @property
    def first_day(self) -> date:
        return self.last_day - timedelta(days=self.days - 1)


@dataclass(frozen=True)
class Timing:
    """Durations in seconds: median, 90th percentile and how many."""

    median: float | None
    p90: float | None
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Timing:
        ordered = sorted(values)
        if not ordered:
            return cls(None, None, 0)
        return cls(_percentile(ordered, 50), _percentile(ordered, 90), len(ordered))


def _percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


@dataclass(frozen=True)
class OpenCase:
    id: int
    ref_code: str
    unit_code: str
    category: str | None
    status: str
    created_at: datetime
    sla_due_at: datetime | None


@dataclass(frozen=True)
class Digest:
    unit_code: str
    units: tuple[str, ...]
    period: Period
    now: datetime
    total: Change
    by_category: list[Change]
    by_unit: list[Change]
    rising_topics: list[Topic]
    rising_terms: list[Change]
    growing_clusters: list[GrowingCluster]
    overdue_count: int
    overdue: list[OpenCase]
    unanswered_count: int
    oldest_unanswered: list[OpenCase]
    first_response: Timing
    resolution: Timing
    ratings: dict[int, int] = field(default_factory=dict)
    questions: QuestionStats | None = None

    @property
    def rating_average(self) -> float | None:
        n = sum(self.ratings.values())
        return sum(k * v for k, v in self.ratings.items()) / n if n else None


def subtree(session: Session, *roots: str) -> tuple[str, ...]:
    """``roots`` and every unit below them, from the ``units`` table (one query): the roots
    first, each unit once. The digest asks for one unit's; an announcement for its targets'."""
    rows = session.execute(select(Unit.code, Unit.parent_code)).all()
    children: dict[str | None, list[str]] = defaultdict(list)
    for code, parent in rows:
        children[parent].append(code)
    found = list(dict.fromkeys(roots))
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.append(child)
                todo.append(child)
    return tuple(found)


def _changes(current: Counter[str], baseline: Counter[str], periods: int) -> list[Change]:
    keys = set(current) | set(baseline)
    rows = [Change(k, current.get(k, 0), baseline.get(k, 0) / periods) for k in keys]
    return sorted(rows, key=lambda c: (-c.current, -c.baseline, c.key))


def _counts(
    session: Session, codes: list[str], period: Period
) -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    """(category now, category before, unit now, unit before): one grouped statement."""
    current = case((Case.created_at >= period.start, 1), else_=0)
    rows = session.execute(
        select(Case.unit_code, Case.category, current.label("now"), func.count())
        .where(
            Case.unit_code.in_(codes),
            Case.created_at >= period.baseline_start,
            Case.created_at < period.end,
        )
        .group_by(Case.unit_code, Case.category, current)
    ).all()
    cat_now: Counter[str] = Counter()
    cat_before: Counter[str] = Counter()
    unit_now: Counter[str] = Counter()
    unit_before: Counter[str] = Counter()
    for unit_code, category, is_now, n in rows:
        (cat_now if is_now else cat_before)[category or ""] += int(n)
        (unit_now if is_now else unit_before)[unit_code] += int(n)
    return cat_now, cat_before, unit_now, unit_before


def json_field(session: Session, column: Any, key: str) -> Any:
    """``column``'s JSON text's top-level ``key`` as text, read by the database (PostgreSQL's
    ``->>``, SQLite's ``json_extract``): a figure over thousands of events parses nothing in
    Python."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSON

        return cast(column, JSON)[key].astext
    return cast(func.json_extract(column, f"$.{key}"), String)


def seconds_between(session: Session, earlier: Any, later: Any) -> Any:
    """``later - earlier`` in seconds, computed by the database (no datetime per row here)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _timings(
    session: Session, codes: list[str], period: Period
) -> tuple[Timing, Timing, dict[int, int]]:
    """First response and resolution of the events in the period, timed from filing, and the
    ratings given in it (a case's last rating counts): three statements over
    ``ix_case_events_action_created`` that return numbers only. A case resolved twice in the
    period (reopened) counts its first resolution."""
    span = seconds_between(session, Case.created_at, CaseEvent.created_at)
    mine = [
        CaseEvent.created_at >= period.start,
        CaseEvent.created_at < period.end,
        Case.unit_code.in_(codes),
    ]
    first = (
        session.execute(
            select(span)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(CaseEvent.action == "first_response", *mine)
        )
        .scalars()
        .all()
    )
    resolved = (
        session.execute(
            select(func.min(span))
            .join(Case, Case.id == CaseEvent.case_id)
            .where(
                CaseEvent.action == "status_changed",
                *mine,
                json_field(session, CaseEvent.detail, "to").in_(_FINISHED),
            )
            .group_by(CaseEvent.case_id)
        )
        .scalars()
        .all()
    )
    rating: dict[int, int] = {}
    for case_id, stars in session.execute(
        select(CaseEvent.case_id, json_field(session, CaseEvent.detail, "rating"))
        .join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.action == "rated", *mine)
        .order_by(CaseEvent.id)
    ).all():
        if stars is not None and str(stars).isdigit():
            rating[case_id] = int(stars)
    return (
        Timing.of([max(0.0, round(float(v))) for v in first if v is not None]),
        Timing.of([max(0.0, round(float(v))) for v in resolved if v is not None]),
        dict(sorted(Counter(rating.values()).items())),
    )


def _open_cases(
    session: Session, where: Iterable[object], order: Iterable[object]
) -> list[OpenCase]:
    rows = session.execute(
        select(
            Case.id,
            Case.ref_code,
            Case.unit_code,
            Case.category,
            Case.status,
            Case.created_at,
            Case.sla_due_at,
        )
        .where(*where)
        .order_by(*order)
        .limit(LIST_SIZE)
    ).all()
    return [
        OpenCase(
            r.id,
            r.ref_code,
            r.unit_code,
            r.category,
            str(getattr(r.status, "value", r.status)),
            r.created_at,
            r.sla_due_at,
        )
        for r in rows
    ]


def _backlog(
    session: Session, codes: list[str], now: datetime
) -> tuple[int, list[OpenCase], int, list[OpenCase]]:
    """Overdue (count, most overdue first) and unanswered (count, oldest first): open cases with
    a passed deadline, and open cases no staff member has acted on yet (``first_response_at``
    unset; ``ix_cases_unit_status_first_response``). Both counts in one pass."""
    mine = [Case.unit_code.in_(codes), Case.status.in_(_OPEN)]
    late = and_(Case.sla_due_at.is_not(None), Case.sla_due_at < now)
    unanswered = Case.first_response_at.is_(None)
    overdue_n, unanswered_n = session.execute(
        select(func.sum(case((late, 1), else_=0)), func.sum(case((unanswered, 1), else_=0))).where(
            *mine
        )
    ).one()
    return (
        int(overdue_n or 0),
        _open_cases(session, [*mine, late], [Case.sla_due_at, Case.id]),
        int(unanswered_n or 0),
        _open_cases(session, [*mine, unanswered], [Case.created_at, Case.id]),
    )


def build_digest(
    session: Session,
    unit_code: str,
    *,
    tz: tzinfo,
    period: Period | None = None,
    now: datetime | None = None,
    units: Sequence[str] | None = None,
    with_questions: bool = True,
) -> Digest:
    """The digest of ``unit_code`` and the units below it (``units`` when the caller knows them,
    e.g. from the YAML tree; else read from the ``units`` table) over ``period`` (default: the
    last 7 days up to yesterday)."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    period = period or Period.last(now, tz)
    codes = sorted(set(units) if units is not None else set(subtree(session, unit_code)))
    cat_now, cat_before, unit_now, unit_before = _counts(session, codes, period)
    periods = period.baseline_periods
    total = Change("", sum(cat_now.values()), sum(cat_before.values()) / periods)
    first, resolution, ratings = _timings(session, codes, period)
    overdue_n, overdue, unanswered_n, unanswered = _backlog(session, codes, now)
    topics = read_topics(session, codes, period.start, period.end, period.baseline_start, periods)
    questions = question_stats(session, codes, period.start, period.end) if with_questions else None
    return Digest(
        unit_code=unit_code,
        units=tuple(codes),
        period=period,
        now=now,
        total=total,
        by_category=_changes(cat_now, cat_before, periods),
        by_unit=_changes(unit_now, unit_before, periods),
        rising_topics=topics.topics,
        rising_terms=topics.terms,
        growing_clusters=topics.clusters,
        overdue_count=overdue_n,
        overdue=overdue,
        unanswered_count=unanswered_n,
        oldest_unanswered=unanswered,
        first_response=first,
        resolution=resolution,
        ratings=ratings,
        questions=questions,
    )
