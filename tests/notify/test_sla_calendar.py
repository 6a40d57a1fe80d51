"""Working-hours arithmetic over the shipped calendar: weekends, the lunch break, holidays.

November 2026: Monday 23 to Friday 27, Saturday 28. Holidays used: 1 January 2027 (Friday), Tết
2026 (14–22 February), Hùng Kings 2026 moved to Monday 27 April, and the Saturday 26 April 2025
that was worked in exchange for 2 May.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.cases.routing import load_routing
from bot.cases.sla import (
    CalendarError,
    WorkingCalendar,
    add_working_hours,
    due_times,
    is_working_time,
    load_calendar,
    next_working_time,
    parse_calendar,
    working_time_between,
)
from tests.notify.conftest import HANOI

ROOT = Path(__file__).resolve().parents[2]
CAL = load_calendar(ROOT / "content" / "calendar.yml")


def hn(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=HANOI)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (hn(2026, 11, 23, 9), 2, hn(2026, 11, 23, 11)),  # inside the morning
        (hn(2026, 11, 23, 10, 30), 2, hn(2026, 11, 23, 14, 30)),  # across lunch
        (hn(2026, 11, 23, 11, 30), 0.5, hn(2026, 11, 23, 14)),  # at the lunch break
        (hn(2026, 11, 23, 12), 1, hn(2026, 11, 23, 14, 30)),  # during lunch
        (hn(2026, 11, 23, 9), 2.5, hn(2026, 11, 23, 11, 30)),  # ends exactly at 11:30
        (hn(2026, 11, 23, 16), 1, hn(2026, 11, 23, 17)),  # ends exactly at 17:00
        (hn(2026, 11, 23, 16), 1.5, hn(2026, 11, 24, 8, 30)),  # overnight
        (hn(2026, 11, 23, 7), 3.5, hn(2026, 11, 23, 11, 30)),  # before opening
        (hn(2026, 11, 23, 18), 7, hn(2026, 11, 24, 17)),  # a whole working day
        (hn(2026, 11, 27, 16, 30), 2, hn(2026, 11, 30, 9, 30)),  # over the weekend
        (hn(2026, 11, 28, 10), 1, hn(2026, 11, 30, 9)),  # filed on Saturday
        (hn(2026, 11, 29, 23, 59), 0.25, hn(2026, 11, 30, 8, 15)),  # Sunday night
        (hn(2026, 11, 23, 8), 40, hn(2026, 11, 30, 15)),  # five days and more
        (hn(2026, 12, 31, 16), 2, hn(2027, 1, 4, 9)),  # New Year (Fri) + weekend
        (hn(2026, 2, 13, 16), 2, hn(2026, 2, 23, 9)),  # Tết 14–22 February 2026
        (hn(2026, 4, 24, 16), 2, hn(2026, 4, 28, 9)),  # Hùng Kings moved to Mon 27 April
        (hn(2026, 4, 29, 16), 3, hn(2026, 5, 4, 10)),  # 30/4 and 1/5
        (hn(2025, 4, 25, 16, 30), 1, hn(2025, 4, 26, 8, 30)),  # worked Saturday (làm bù)
        (hn(2025, 5, 1, 10), 1, hn(2025, 5, 5, 9)),  # 30/4–2/5 2025 and the weekend
        (hn(2026, 11, 23, 9), 0, hn(2026, 11, 23, 9)),  # zero hours, at work
        (hn(2026, 11, 23, 20), 0, hn(2026, 11, 24, 8)),  # zero hours, at night
        (hn(2026, 11, 23, 9), timedelta(minutes=90), hn(2026, 11, 23, 10, 30)),
    ],
)
def test_add_working_hours(start: datetime, hours: float, expected: datetime) -> None:
    result = add_working_hours(start, hours, CAL)
    assert result == expected
    assert result.utcoffset() == timedelta(hours=7)  # returned in the calendar's zone


def test_utc_input_is_counted_in_local_time() -> None:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)  # 08:00 in Hà Nội
    assert add_working_hours(start, 1, CAL) == datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    # 16:00 UTC Sunday is 23:00 Sunday in Hà Nội: the next morning counts, not "Monday UTC"
    late = datetime(2026, 11, 29, 16, 0, tzinfo=timezone.utc)
    assert add_working_hours(late, 1, CAL) == hn(2026, 11, 30, 9)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (hn(2026, 11, 23, 9), hn(2026, 11, 23, 9)),  # at work: now
        (hn(2026, 11, 23, 7, 59), hn(2026, 11, 23, 8)),
        (hn(2026, 11, 23, 11, 30), hn(2026, 11, 23, 13, 30)),  # lunch starts at 11:30
        (hn(2026, 11, 23, 13, 29), hn(2026, 11, 23, 13, 30)),
        (hn(2026, 11, 23, 17), hn(2026, 11, 24, 8)),  # 17:00 is closed
        (hn(2026, 11, 27, 17, 30), hn(2026, 11, 30, 8)),  # Friday evening
        (hn(2026, 11, 28, 10), hn(2026, 11, 30, 8)),  # Saturday
        (hn(2026, 12, 31, 17, 30), hn(2027, 1, 4, 8)),  # New Year's Eve
        (hn(2026, 2, 16, 10), hn(2026, 2, 23, 8)),  # during Tết
    ],
)
def test_next_working_time(now: datetime, expected: datetime) -> None:
    assert next_working_time(now, CAL) == expected
    assert is_working_time(expected, CAL)


@pytest.mark.parametrize(
    "start",
    [hn(2026, 11, 23, 9), hn(2026, 11, 27, 16, 45), hn(2026, 11, 28, 12), hn(2026, 2, 13, 11)],
)
@pytest.mark.parametrize("hours", [0.25, 1, 3.5, 7, 12, 49])
def test_working_time_between_inverts_add(start: datetime, hours: float) -> None:
    end = add_working_hours(start, hours, CAL)
    assert working_time_between(start, end, CAL) == timedelta(hours=hours)


def test_working_time_between_simple_cases() -> None:
    assert working_time_between(hn(2026, 11, 23, 8), hn(2026, 11, 24, 8), CAL) == timedelta(hours=7)
    assert working_time_between(hn(2026, 11, 28, 8), hn(2026, 11, 29, 20), CAL) == timedelta(0)
    assert working_time_between(hn(2026, 11, 24), hn(2026, 11, 23), CAL) == timedelta(0)


def test_due_times_use_the_routing_sla_table() -> None:
    routing = load_routing(ROOT / "content" / "routing.yml")
    # an_ninh: 2 h to a first response, 40 h to resolution (Friday 16:00 start)
    due = due_times(hn(2026, 11, 20, 16), "hn", "an_ninh", routing.sla, CAL)
    assert due.first_response == hn(2026, 11, 23, 9)
    assert due.resolution == hn(2026, 11, 30, 14)
    # default 8 h / 80 h for a ward
    due = due_times(hn(2026, 11, 23, 8), "p_lang", "khac", routing.sla, CAL)
    assert due.first_response == hn(2026, 11, 24, 9)
    assert due.policy.resolution_hours == 80


def test_naive_and_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_hours(datetime(2026, 11, 23, 9), 1, CAL)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_working_time(datetime(2026, 11, 23, 9), CAL)
    with pytest.raises(ValueError, match="negative"):
        add_working_hours(hn(2026, 11, 23, 9), -1, CAL)


def test_shipped_calendar() -> None:
    assert CAL.timezone == "Asia/Ho_Chi_Minh"
    assert CAL.working_days == frozenset({0, 1, 2, 3, 4})
    assert date(2026, 2, 18) in CAL.holidays
    assert CAL.holiday_names[date(2026, 1, 1)] == "Tết Dương lịch"
    assert CAL.is_working_day(date(2025, 4, 26))  # a Saturday worked in exchange
    assert not CAL.is_working_day(date(2026, 11, 28))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"hours": [["8h", "11:30"]]}, "HH:MM"),
        ({"hours": [[480, 690]]}, "HH:MM"),  # unquoted 08:00 is a base-60 number in YAML
        ({"hours": [["13:30", "17:00"], ["08:00", "11:30"]]}, "sorted"),
        ({"hours": [["11:00", "08:00"]]}, "ends before"),
        ({"working_days": ["mon", "funday"]}, "unknown working day"),
        ({"working_days": []}, "working days"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"holidays": ["2026-13-01"]}, "YYYY-MM-DD"),
        ({"holidays": [{"from": "2026-02-20", "to": "2026-02-14"}]}, "before"),
        ({"holidays": [{"name": "Tết"}]}, "needs 'date'"),
        (
            {"holidays": ["2026-11-28"], "extra_working_days": ["2026-11-28"]},
            "both holiday and working day",
        ),
    ],
)
def test_malformed_calendars_are_refused(data: dict, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        parse_calendar(data, "calendar.yml")


def test_a_custom_calendar() -> None:
    six_days = parse_calendar(
        {
            "timezone": "Asia/Ho_Chi_Minh",
            "working_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
            "hours": [["07:30", "11:30"]],
        }
    )
    assert isinstance(six_days, WorkingCalendar)
    assert add_working_hours(hn(2026, 11, 27, 11), 1, six_days) == hn(2026, 11, 28, 8)
