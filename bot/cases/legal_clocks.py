"""The clocks the law sets per legal type of case, read from ``content/legal_deadlines.yml``.

The data file lists, for each type (``phan_anh``, ``kien_nghi``, ``khieu_nai``, ``to_cao``,
``kien_nghi_cu_tri``), the steps the law or the Front's rules put a time limit on, with the
article and document each limit comes from and whether it was verified in a source. This module
only reads, checks and counts:

* :mod:`bot.cases.legal_deadlines` reads and checks the file (a malformed entry raises
  ``LegalDeadlinesError`` naming the file and the entry);
* :func:`due_date` — the last day of one step's limit from the day of its starting event:
  ``days`` are calendar days, ``working_days`` skip weekends and the holidays of
  ``content/calendar.yml`` and count its extra working days (the calendar is
  :func:`bot.cases.sla.load_calendar`'s). Both count from the day AFTER the event;
* :func:`schedule` / :func:`next_step` — the steps of a case of a given type, with their due
  dates, and the first one not yet done.

Who sees what: a step without a number (``limit: null``) or not verified in a source
(``verified: false``) must not be shown to a citizen as law. With ``audience="citizen"`` such
steps are left out; with ``audience="staff"`` they are kept with ``verified=False`` (and
``due_date=None`` when there is no number) so the console can show them flagged.

Variants: a step with ``applies_when`` (``complex``, ``remote_area``, ``second_complaint``,
``particularly_complex``) replaces the ordinary step with the same actor and starting event when
all its conditions hold; the step whose conditions all hold and are the most numerous wins.
Extensions (``starts: end_of_previous_period``, e.g. a tố cáo's extended settlement period) are
granted by a written decision, not by the clock, so they are never a "next step" here; see
:func:`extension`. Limits on the citizen (``actor: citizen``, e.g. the time to complain) are not
steps of the case either; :func:`citizen_limits` lists them.

End of a period on a day off: Vietnamese civil practice (Bộ luật Dân sự 2015, Điều 148) ends a
period whose last day is a weekly rest day or a public holiday on the next working day. The data
file marks that rule as not re-verified, so it is a parameter (``roll_to_working_day``, on by
default) and :class:`StepDue` keeps the unrolled date in ``nominal_due_date``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from bot.cases.legal_deadlines import (
    CONDITIONS,
    LegalDeadlines,
    Step,
    load_deadlines,
)
from bot.cases.sla import WorkingCalendar, load_calendar

#: Who a schedule is for: citizens never see a step whose number was not verified in a source.
Audience = Literal["citizen", "staff"]

__all__ = [
    "StepDue",
    "citizen_limits",
    "due_date",
    "extension",
    "next_step",
    "schedule",
]


@dataclass(frozen=True)
class StepDue:
    """A step of a case and when it is due.

    ``due_date`` is the last day of the limit (None when the data has no number);
    ``nominal_due_date`` is that day before moving off a rest day or holiday.
    """

    step_id: str
    due_date: date | None
    article: str | None
    document: str | None
    verified: bool
    actor: str = "front"
    limit: int | None = None
    unit: str | None = None
    nominal_due_date: date | None = None
    citizen_visible: bool = False
    starts: str = ""


# --------------------------------------------------------------------------- counting


def _local_day(moment: date | datetime, calendar: WorkingCalendar) -> date:
    if isinstance(moment, datetime):
        if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
            raise ValueError(f"started_at must be timezone-aware, got naive {moment!r}")
        return moment.astimezone(calendar.tz).date()
    return moment


def _next_working_day(day: date, calendar: WorkingCalendar) -> date:
    for _ in range(800):
        if calendar.is_working_day(day):
            return day
        day += timedelta(days=1)
    raise ValueError(f"no working day within 800 days of {day}")  # pragma: no cover


def due_date(
    step: Step,
    started_at: date | datetime,
    calendar: WorkingCalendar,
    *,
    roll_to_working_day: bool = True,
) -> tuple[date, date] | None:
    """``(due, nominal)`` for ``step`` whose starting event happened at ``started_at``.

    ``days``: the event's day plus ``limit`` calendar days. ``working_days``: the ``limit``-th
    working day after the event's day (the day of the event never counts). ``nominal`` is the
    last day before ``roll_to_working_day`` moves it off a rest day or holiday (calendar days
    only: a working-day count always ends on a working day). A ``direction: before`` step
    counts back from the event and is never rolled. None when the step has no number.
    """
    if step.limit is None:
        return None
    start = _local_day(started_at, calendar)
    if step.direction == "before":
        if step.unit == "days":
            day = start - timedelta(days=step.limit)
        else:
            day, counted = start, 0
            while counted < step.limit:
                day -= timedelta(days=1)
                counted += calendar.is_working_day(day)
        return day, day
    if step.unit == "days":
        nominal = start + timedelta(days=step.limit)
    else:
        nominal, counted = start, 0
        while counted < step.limit:
            nominal += timedelta(days=1)
            counted += calendar.is_working_day(nominal)
    due = _next_working_day(nominal, calendar) if roll_to_working_day else nominal
    return due, nominal


def _applicable(steps: Iterable[Step], conditions: frozenset[str]) -> list[Step]:
    """One step per slot, in file order: the variant whose conditions all hold, most of them."""
    best: dict[tuple[str, str], Step] = {}
    for step in steps:
        if step.is_extension or not step.applies_when <= conditions:
            continue
        current = best.get(step.slot)
        if current is None or len(step.applies_when) > len(current.applies_when):
            best[step.slot] = step
    chosen = set(map(id, best.values()))
    return [s for s in steps if id(s) in chosen]


def _step_due(step: Step, started_at: date | datetime | None, calendar: WorkingCalendar,
              roll: bool) -> StepDue:
    """``started_at`` None: the starting event has not happened, so no date yet."""
    dates = (due_date(step, started_at, calendar, roll_to_working_day=roll)
             if started_at is not None else None)
    return StepDue(
        step_id=step.id,
        due_date=dates[0] if dates else None,
        article=step.article,
        document=step.document,
        verified=step.verified,
        actor=step.actor,
        limit=step.limit,
        unit=step.unit,
        nominal_due_date=dates[1] if dates else None,
        citizen_visible=step.citizen_visible,
        starts=step.starts,
    )


def _plan(table: LegalDeadlines, case_type: str, conditions: Iterable[str],
          audience: Audience) -> list[Step]:
    wanted = frozenset(conditions)
    unknown = wanted - CONDITIONS
    if unknown:
        raise ValueError(f"unknown conditions {sorted(unknown)}; known: {sorted(CONDITIONS)}")
    return [
        step for step in _applicable(table.case_type(case_type).steps, wanted)
        if step.actor != "citizen" and (audience == "staff" or step.citizen_visible)
    ]


def _starts(started_at: date | datetime | Mapping[str, date | datetime], first: Step | None
            ) -> Mapping[str, date | datetime]:
    if isinstance(started_at, Mapping):
        return started_at
    return {first.starts: started_at} if first is not None else {}


def schedule(
    case_type: str,
    started_at: date | datetime | Mapping[str, date | datetime],
    calendar: WorkingCalendar | None = None,
    *,
    conditions: Iterable[str] = (),
    audience: Audience = "staff",
    deadlines: LegalDeadlines | None = None,
    roll_to_working_day: bool = True,
) -> list[StepDue]:
    """The steps of a ``case_type`` case, in order, with their due dates.

    ``started_at`` maps starting events (a step's ``starts``: ``received``, ``accepted``,
    ``acceptance_decision``…) to when they happened; a step whose event has not happened yet
    gets ``due_date=None``. A single moment is the event of the first step listed (and of any
    step with the same event). Limits on the citizen and extensions are left out;
    ``audience="citizen"`` also leaves out what may not be shown to a citizen.
    """
    table = deadlines or load_deadlines()
    calendar = calendar or load_calendar()
    steps = _plan(table, case_type, conditions, audience)
    events = _starts(started_at, steps[0] if steps else None)
    return [_step_due(step, events.get(step.starts), calendar, roll_to_working_day)
            for step in steps]


def next_step(
    case_type: str,
    started_at: date | datetime | Mapping[str, date | datetime],
    done_steps: Iterable[str] = (),
    calendar: WorkingCalendar | None = None,
    *,
    conditions: Iterable[str] = (),
    audience: Audience = "citizen",
    deadlines: LegalDeadlines | None = None,
    roll_to_working_day: bool = True,
) -> StepDue | None:
    """The first step of the case not in ``done_steps`` (a done variant counts for its slot),
    or None when every step is done.

    ``started_at`` is when that step's clock started (a single moment), or a mapping of events
    as for :func:`schedule`. For citizens (the default) only steps with a verified number
    count; staff see every step, flagged by ``verified`` and ``citizen_visible``.
    """
    table = deadlines or load_deadlines()
    done = set(done_steps)
    done_slots = {s.slot for s in table.case_type(case_type).steps if s.id in done}
    for step in _plan(table, case_type, conditions, audience):
        if step.id in done or step.slot in done_slots:
            continue
        events = _starts(started_at, step)
        return _step_due(step, events.get(step.starts), calendar or load_calendar(),
                         roll_to_working_day)
    return None


def extension(
    case_type: str,
    step_id: str,
    previous_due: date,
    calendar: WorkingCalendar | None = None,
    *,
    deadlines: LegalDeadlines | None = None,
) -> StepDue:
    """The new due date when an extension step (e.g. ``decide_extended_complex``) is granted on
    a period that ended on ``previous_due``."""
    table = deadlines or load_deadlines()
    step = table.case_type(case_type).step(step_id)
    if not step.is_extension:
        raise ValueError(f"{case_type}.{step_id} is not an extension step")
    return _step_due(step, previous_due, calendar or load_calendar(), True)


def citizen_limits(case_type: str, *, deadlines: LegalDeadlines | None = None) -> list[Step]:
    """Limits on the citizen (e.g. the time to complain), for warnings at intake."""
    table = deadlines or load_deadlines()
    return [s for s in table.case_type(case_type).steps if s.actor == "citizen"]
