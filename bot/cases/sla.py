"""Service-level deadlines counted in working hours, and "when will a person answer?".

A ward committee works Monday to Friday, 08:00–11:30 and 13:30–17:00 (Asia/Ho_Chi_Minh), not on
public holidays, and sometimes on a Saturday in exchange for a bridge holiday (ngày làm bù). All of
that is data (``content/calendar.yml``, :func:`load_calendar`); this module only counts.

* :func:`add_working_hours` — the moment ``hours`` working hours after ``start``;
* :func:`next_working_time` — ``now`` if someone is at work, else when work next starts;
* :func:`working_time_between` — working time elapsed between two moments (reports, tests);
* :class:`SlaTable` / :func:`due_times` — per unit and category: hours to a first response and to
  resolution (the ``sla:`` section of ``content/routing.yml``, loaded by ``bot.cases.routing``).

Every function takes and returns timezone-aware datetimes; a naive one is refused because its zone
would be a guess. Results are in the calendar's zone (compare them with ``==`` freely: aware
datetimes compare by instant).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

__all__ = [
    "CalendarError",
    "DueTimes",
    "SlaPolicy",
    "SlaTable",
    "WorkingCalendar",
    "add_working_hours",
    "due_times",
    "is_working_time",
    "load_calendar",
    "next_working_time",
    "parse_calendar",
    "parse_sla_table",
    "working_time_between",
]

_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}

#: No calendar needs more than this many days to find working time; more means a broken file.
_MAX_SEARCH_DAYS = 800


class CalendarError(ValueError):
    """The calendar (or SLA table) is malformed: named with the file and the entry."""


@dataclass(frozen=True)
class WorkingCalendar:
    """When staff are at work. ``periods`` are ``(start, end)`` local times, sorted, disjoint."""

    timezone: str = "Asia/Ho_Chi_Minh"
    working_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    periods: tuple[tuple[time, time], ...] = ((time(8, 0), time(11, 30)), (time(13, 30), time(17)))
    holidays: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    holiday_names: Mapping[date, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"unknown time zone {self.timezone!r}") from exc
        if not self.periods:
            raise CalendarError("a calendar needs at least one working period")
        previous_end: time | None = None
        for start, end in self.periods:
            if not start < end:
                raise CalendarError(f"working period {start}–{end} ends before it starts")
            if previous_end is not None and start < previous_end:
                raise CalendarError("working periods must be sorted and must not overlap")
            previous_end = end
        if not self.working_days and not self.extra_working_days:
            raise CalendarError("a calendar needs working days")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        return day.weekday() in self.working_days and day not in self.holidays

    def periods_on(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The working periods of ``day`` as aware datetimes (none on a day off)."""
        if not self.is_working_day(day):
            return
        tz = self.tz
        for start, end in self.periods:
            yield datetime.combine(day, start, tz), datetime.combine(day, end, tz)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value


def _periods_from(
    moment: datetime, calendar: WorkingCalendar
) -> Iterator[tuple[datetime, datetime]]:
    """Working periods (clipped to start at ``moment``) from ``moment`` on, in order."""
    local = moment.astimezone(calendar.tz)
    day = local.date()
    for _ in range(_MAX_SEARCH_DAYS):
        for start, end in calendar.periods_on(day):
            if end <= local:
                continue
            yield max(start, local), end
        day += timedelta(days=1)
    raise CalendarError(f"no working time within {_MAX_SEARCH_DAYS} days of {moment.isoformat()}")


def is_working_time(moment: datetime, calendar: WorkingCalendar) -> bool:
    """True when ``moment`` falls inside a working period (start inclusive, end exclusive)."""
    local = _aware(moment, "moment").astimezone(calendar.tz)
    return any(start <= local < end for start, end in calendar.periods_on(local.date()))


def next_working_time(now: datetime, calendar: WorkingCalendar) -> datetime:
    """``now`` if staff are at work, else the start of the next working period.

    The chatbot uses it to tell a citizen when a person will answer ("từ 13:30 hôm nay").
    """
    local = _aware(now, "now").astimezone(calendar.tz)
    if is_working_time(local, calendar):
        return local
    start, _ = next(_periods_from(local, calendar))
    return start


def add_working_hours(
    start: datetime, hours: float | timedelta, calendar: WorkingCalendar
) -> datetime:
    """The moment when ``hours`` of working time have passed since ``start``.

    Time outside working periods does not count. A deadline that uses up a period exactly ends at
    that period's end (11:30 or 17:00), not at the start of the next one. Zero hours gives
    ``start`` itself when that is working time, else the next working moment.
    """
    remaining = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
    if remaining < timedelta(0):
        raise ValueError("hours must not be negative")
    local = _aware(start, "start").astimezone(calendar.tz)
    if remaining == timedelta(0):
        return next_working_time(local, calendar)
    for period_start, period_end in _periods_from(local, calendar):
        available = period_end - period_start
        if remaining <= available:
            return period_start + remaining
        remaining -= available
    raise AssertionError("unreachable: _periods_from raises when it runs out")  # pragma: no cover


def working_time_between(start: datetime, end: datetime, calendar: WorkingCalendar) -> timedelta:
    """Working time elapsed from ``start`` to ``end`` (zero when ``end`` is not later)."""
    start = _aware(start, "start").astimezone(calendar.tz)
    end = _aware(end, "end").astimezone(calendar.tz)
    total = timedelta(0)
    if end <= start:
        return total
    for period_start, period_end in _periods_from(start, calendar):
        if period_start >= end:
            break
        total += min(period_end, end) - period_start
    return total


# --------------------------------------------------------------------------- loading the calendar


def _as_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CalendarError(f"{where}: expected a date YYYY-MM-DD, got {value!r}")


def _as_time(value: Any, where: str) -> time:
    if isinstance(value, str):
        try:
            hour, minute = value.strip().split(":")
            return time(int(hour), int(minute))
        except ValueError:
            pass
    raise CalendarError(f'{where}: expected a quoted time "HH:MM", got {value!r}')


def _days(entries: Any, where: str) -> dict[date, str]:
    """Dates from a list of ``2026-01-01``, ``{date:, name:}`` or ``{from:, to:, name:}``."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise CalendarError(f"{where}: expected a list")
    out: dict[date, str] = {}
    for i, entry in enumerate(entries):
        here = f"{where}[{i}]"
        if isinstance(entry, dict):
            name = str(entry.get("name") or "")
            if "date" in entry:
                out[_as_date(entry["date"], here)] = name
                continue
            if "from" in entry and "to" in entry:
                first, last = _as_date(entry["from"], here), _as_date(entry["to"], here)
                if last < first:
                    raise CalendarError(f"{here}: 'to' is before 'from'")
                if (last - first).days > 60:
                    raise CalendarError(f"{here}: a range of more than 60 days looks like a typo")
                day = first
                while day <= last:
                    out[day] = name
                    day += timedelta(days=1)
                continue
            raise CalendarError(f"{here}: needs 'date', or 'from' and 'to'")
        out[_as_date(entry, here)] = ""
    return out


def parse_calendar(data: Mapping[str, Any], source: str = "calendar") -> WorkingCalendar:
    """A calendar from the parsed YAML mapping (see ``content/calendar.yml``)."""
    if not isinstance(data, Mapping):
        raise CalendarError(f"{source}: expected a mapping")
    raw_days = data.get("working_days", ["mon", "tue", "wed", "thu", "fri"])
    if not isinstance(raw_days, list):
        raise CalendarError(f"{source}: working_days must be a list such as [mon, tue]")
    days = set()
    for name in raw_days:
        key = str(name).strip().lower()[:3]
        if key not in _WEEKDAYS:
            raise CalendarError(f"{source}: unknown working day {name!r}")
        days.add(_WEEKDAYS[key])
    raw_hours = data.get("hours", [["08:00", "11:30"], ["13:30", "17:00"]])
    if not isinstance(raw_hours, list) or not raw_hours:
        raise CalendarError(f"{source}: hours must be a list of [start, end] pairs")
    periods = []
    for i, pair in enumerate(raw_hours):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise CalendarError(f"{source}: hours[{i}] must be a [start, end] pair")
        periods.append(
            (_as_time(pair[0], f"{source}: hours[{i}]"), _as_time(pair[1], f"{source}: hours[{i}]"))
        )
    holidays = _days(data.get("holidays"), f"{source}: holidays")
    extra = _days(data.get("extra_working_days"), f"{source}: extra_working_days")
    both = set(holidays) & set(extra)
    if both:
        raise CalendarError(f"{source}: dates both holiday and working day: {sorted(both)}")
    try:
        return WorkingCalendar(
            timezone=str(data.get("timezone") or "Asia/Ho_Chi_Minh"),
            working_days=frozenset(days),
            periods=tuple(periods),
            holidays=frozenset(holidays),
            extra_working_days=frozenset(extra),
            holiday_names=holidays,
        )
    except CalendarError as exc:
        raise CalendarError(f"{source}: {exc}") from exc


def load_calendar(path: Path | None = None) -> WorkingCalendar:
    """Read ``path`` (default ``<CONTENT_DIR>/calendar.yml``)."""
    if path is None:
        from bot.settings import get_settings

        path = get_settings().content_dir / "calendar.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CalendarError(f"{path}: {exc}") from exc
    return parse_calendar(data or {}, str(path))


# --------------------------------------------------------------------------- SLA per unit/category


@dataclass(frozen=True)
class SlaPolicy:
    """Working hours allowed until a first response and until resolution."""

    first_response_hours: float
    resolution_hours: float

    def __post_init__(self) -> None:
        if self.first_response_hours < 0 or self.resolution_hours < 0:
            raise CalendarError("SLA hours must not be negative")
        if self.resolution_hours < self.first_response_hours:
            raise CalendarError("resolution cannot be due before the first response")


@dataclass(frozen=True)
class SlaTable:
    """SLA policies: a default, per category, per unit, and per unit and category.

    The most specific entry wins: the unit's own entry for the category, then the category's
    entry, then the unit's default, then the default. Units do not inherit from the units above
    them: a province's own deadlines say nothing about its wards.
    """

    default: SlaPolicy = SlaPolicy(first_response_hours=8, resolution_hours=80)
    categories: Mapping[str, SlaPolicy] = field(default_factory=dict)
    units: Mapping[str, SlaPolicy] = field(default_factory=dict)
    unit_categories: Mapping[tuple[str, str], SlaPolicy] = field(default_factory=dict)

    def policy(self, unit_code: str | None, category: str | None) -> SlaPolicy:
        if unit_code and category and (unit_code, category) in self.unit_categories:
            return self.unit_categories[(unit_code, category)]
        if category and category in self.categories:
            return self.categories[category]
        if unit_code and unit_code in self.units:
            return self.units[unit_code]
        return self.default


def _policy(raw: Any, where: str, fallback: SlaPolicy | None) -> SlaPolicy:
    if not isinstance(raw, Mapping):
        raise CalendarError(f"{where}: expected first_response_hours and resolution_hours")
    unknown = set(raw) - {"first_response_hours", "resolution_hours"}
    if unknown:
        raise CalendarError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        first = raw.get("first_response_hours", fallback.first_response_hours if fallback else None)
        resolution = raw.get("resolution_hours", fallback.resolution_hours if fallback else None)
        if first is None or resolution is None:
            raise CalendarError(f"{where}: needs first_response_hours and resolution_hours")
        return SlaPolicy(float(first), float(resolution))
    except (TypeError, ValueError) as exc:
        raise CalendarError(f"{where}: {exc}") from exc


def parse_sla_table(raw: Any, source: str = "sla") -> SlaTable:
    """The ``sla:`` section of ``routing.yml``::

        sla:
          default: {first_response_hours: 8, resolution_hours: 80}
          categories:
            an_ninh: {first_response_hours: 2, resolution_hours: 40}
          units:
            hn:
              default: {first_response_hours: 8, resolution_hours: 120}
              categories:
                dat_dai_xay_dung: {resolution_hours: 160}

    Missing fields of an entry are taken from the top-level default.
    """
    if raw is None:
        return SlaTable()
    if not isinstance(raw, Mapping):
        raise CalendarError(f"{source}: expected a mapping")
    default = _policy(raw.get("default") or {}, f"{source}.default", SlaTable().default)
    categories = {
        str(code): _policy(value, f"{source}.categories.{code}", default)
        for code, value in (raw.get("categories") or {}).items()
    }
    units: dict[str, SlaPolicy] = {}
    unit_categories: dict[tuple[str, str], SlaPolicy] = {}
    for code, value in (raw.get("units") or {}).items():
        where = f"{source}.units.{code}"
        if not isinstance(value, Mapping):
            raise CalendarError(f"{where}: expected 'default' and/or 'categories'")
        unit_default = default
        if value.get("default") is not None:
            unit_default = _policy(value["default"], f"{where}.default", default)
            units[str(code)] = unit_default
        for category, policy in (value.get("categories") or {}).items():
            base = categories.get(str(category), unit_default)
            unit_categories[(str(code), str(category))] = _policy(
                policy, f"{where}.categories.{category}", base
            )
    return SlaTable(
        default=default, categories=categories, units=units, unit_categories=unit_categories
    )


@dataclass(frozen=True)
class DueTimes:
    """When a case needs its first response and its resolution."""

    first_response: datetime
    resolution: datetime
    policy: SlaPolicy


def due_times(
    created_at: datetime,
    unit_code: str | None,
    category: str | None,
    table: SlaTable,
    calendar: WorkingCalendar,
) -> DueTimes:
    """Deadlines of a case filed at ``created_at`` for ``unit_code`` in ``category``."""
    policy = table.policy(unit_code, category)
    return DueTimes(
        first_response=add_working_hours(created_at, policy.first_response_hours, calendar),
        resolution=add_working_hours(created_at, policy.resolution_hours, calendar),
        policy=policy,
    )
