"""The clocks the law sets per legal type of case, read from ``content/legal_deadlines.yml``.

The data file lists, for each type (``phan_anh``, ``kien_nghi``, ``khieu_nai``, ``to_cao``,
``kien_nghi_cu_tri``), the steps the law or the Front's rules put a time limit on, with the
article and document each limit comes from and whether it was verified in a source. This module
only reads, checks and counts:

* :func:`load_deadlines` / :func:`parse_deadlines` — the file, checked; a malformed entry raises
  :class:`LegalDeadlinesError` naming the file and the entry;
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
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.cases.sla import WorkingCalendar, load_calendar

__all__ = [
    "ACTORS",
    "CONDITIONS",
    "CaseTypeClock",
    "LegalDeadlines",
    "LegalDeadlinesError",
    "Step",
    "StepDue",
    "citizen_limits",
    "due_date",
    "extension",
    "load_deadlines",
    "next_step",
    "parse_deadlines",
    "schedule",
]

ACTORS = frozenset({"front", "competent_body", "citizen"})
UNITS = frozenset({"days", "working_days"})
CONDITIONS = frozenset({"complex", "particularly_complex", "remote_area", "second_complaint"})
FRONT_ROLES = frozenset({"take_up", "forward_and_follow"})
#: The starting event of an extension step: it extends the period before it.
EXTENSION_START = "end_of_previous_period"
#: No limit in the data is near this; more is a typo.
_MAX_LIMIT = 3650

Audience = Literal["citizen", "staff"]


class LegalDeadlinesError(ValueError):
    """``content/legal_deadlines.yml`` is malformed: the message names the file and the entry."""


@dataclass(frozen=True)
class Step:
    """One clocked step of a case type, as the data file gives it."""

    id: str
    actor: str
    what: str
    limit: int | None
    unit: str | None
    starts: str
    article: str | None
    clause: str | None
    document: str | None
    verified: bool
    current_text_checked: bool = False
    applies_when: frozenset[str] = frozenset()
    direction: str = "after"
    max_extensions: int | None = None
    note: str = ""

    @property
    def is_extension(self) -> bool:
        return self.starts == EXTENSION_START

    @property
    def citizen_visible(self) -> bool:
        """Whether the step may be shown to a citizen: a number, read in a source."""
        return self.limit is not None and self.verified

    @property
    def slot(self) -> tuple[str, str]:
        """Steps with the same actor and starting event are variants of one step."""
        return (self.actor, self.starts)


@dataclass(frozen=True)
class CaseTypeClock:
    """A case type: its label, what the Front does with it, its steps in order."""

    code: str
    label_vi: str
    front_role: str
    steps: tuple[Step, ...]
    intake_needs: tuple[str, ...] = ()

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"{self.code} has no step {step_id!r}")


@dataclass(frozen=True)
class LegalDeadlines:
    """The whole file: when it was checked, the documents cited, the case types."""

    as_of: date | None
    documents: Mapping[str, Mapping[str, Any]]
    case_types: Mapping[str, CaseTypeClock]
    source: str = "legal_deadlines"

    def case_type(self, code: str) -> CaseTypeClock:
        try:
            return self.case_types[code]
        except KeyError:
            raise KeyError(f"{self.source}: unknown case type {code!r}") from None

    def citation(self, step: Step) -> str:
        """``Điều 27 Luật Khiếu nại 02/2011/QH13`` (or as much of it as the data gives)."""
        doc = self.documents.get(step.document or "", {})
        parts = []
        if step.article:
            parts.append(f"Điều {step.article}")
            if step.clause:
                parts.append(f"khoản {step.clause}")
        title, number = doc.get("title"), doc.get("number")
        if title:
            parts.append(" ".join(str(title).split()))
        if number:
            parts.append(str(number))
        return " ".join(parts)


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


# --------------------------------------------------------------------------- loading


def _fail(source: str, where: str, message: str) -> LegalDeadlinesError:
    return LegalDeadlinesError(f"{source}: {where}: {message}")


def _opt_str(value: Any, source: str, where: str, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    raise _fail(source, where, f"'{key}' must be a string or null, got {value!r}")


def _parse_step(raw: Any, source: str, where: str, documents: Mapping[str, Any]) -> Step:
    if not isinstance(raw, Mapping):
        raise _fail(source, where, "a step must be a mapping")
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not step_id.strip():
        raise _fail(source, where, "a step needs an 'id'")
    where = f"{where} ({step_id})"
    for key in ("actor", "limit", "unit", "starts", "verified"):
        if key not in raw:
            raise _fail(source, where, f"missing '{key}'")
    actor = raw["actor"]
    if actor not in ACTORS:
        raise _fail(source, where, f"actor must be one of {sorted(ACTORS)}, got {actor!r}")
    limit, unit = raw["limit"], raw["unit"]
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _MAX_LIMIT:
            raise _fail(source, where, f"limit must be a whole number of days or null, got {limit!r}")
        if unit not in UNITS:
            raise _fail(source, where, f"unit must be one of {sorted(UNITS)}, got {unit!r}")
    elif unit is not None:
        raise _fail(source, where, "unit must be null when limit is null")
    starts = raw["starts"]
    if not isinstance(starts, str) or not starts.strip():
        raise _fail(source, where, "'starts' must name the starting event")
    verified = raw["verified"]
    if not isinstance(verified, bool):
        raise _fail(source, where, f"verified must be true or false, got {verified!r}")
    checked = raw.get("current_text_checked", False)
    if not isinstance(checked, bool):
        raise _fail(source, where, f"current_text_checked must be true or false, got {checked!r}")
    document = _opt_str(raw.get("document"), source, where, "document")
    if document is not None and document not in documents:
        raise _fail(source, where, f"document {document!r} is not a key of 'documents'")
    conditions = raw.get("applies_when") or []
    if not isinstance(conditions, list):
        raise _fail(source, where, "applies_when must be a list")
    unknown = set(map(str, conditions)) - CONDITIONS
    if unknown:
        raise _fail(source, where, f"unknown applies_when {sorted(unknown)}; "
                                   f"known: {sorted(CONDITIONS)}")
    direction = raw.get("direction", "after")
    if direction not in ("after", "before"):
        raise _fail(source, where, f"direction must be 'after' or 'before', got {direction!r}")
    max_ext = raw.get("max_extensions")
    if max_ext is not None and (isinstance(max_ext, bool) or not isinstance(max_ext, int)
                                or max_ext < 1):
        raise _fail(source, where, f"max_extensions must be a positive number, got {max_ext!r}")
    return Step(
        id=step_id.strip(),
        actor=str(actor),
        what=" ".join(str(raw.get("what") or "").split()),
        limit=limit,
        unit=unit,
        starts=starts.strip(),
        article=_opt_str(raw.get("article"), source, where, "article"),
        clause=_opt_str(raw.get("clause"), source, where, "clause"),
        document=document,
        verified=verified,
        current_text_checked=checked,
        applies_when=frozenset(map(str, conditions)),
        direction=str(direction),
        max_extensions=max_ext,
        note=" ".join(str(raw.get("note") or "").split()),
    )


def _as_of(value: Any, source: str) -> date | None:
    if value is None or isinstance(value, date):
        return value if not isinstance(value, datetime) else value.date()
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _fail(source, "as_of", f"expected a date YYYY-MM-DD, got {value!r}") from None


def parse_deadlines(data: Any, source: str = "legal_deadlines") -> LegalDeadlines:
    """The checked content of the parsed YAML (see the schema at the top of the file)."""
    if not isinstance(data, Mapping):
        raise LegalDeadlinesError(f"{source}: expected a mapping with 'documents' and 'case_types'")
    documents = data.get("documents") or {}
    if not isinstance(documents, Mapping):
        raise _fail(source, "documents", "expected a mapping of document keys")
    for key, doc in documents.items():
        if not isinstance(doc, Mapping):
            raise _fail(source, f"documents.{key}", "expected a mapping")
    raw_types = data.get("case_types")
    if not isinstance(raw_types, Mapping) or not raw_types:
        raise _fail(source, "case_types", "expected a non-empty mapping of case types")
    case_types: dict[str, CaseTypeClock] = {}
    for code, raw in raw_types.items():
        where = f"case_types.{code}"
        if not isinstance(raw, Mapping):
            raise _fail(source, where, "expected a mapping")
        role = raw.get("front_role")
        if role not in FRONT_ROLES:
            raise _fail(source, where, f"front_role must be one of {sorted(FRONT_ROLES)}, "
                                       f"got {role!r}")
        raw_steps = raw.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise _fail(source, where, "expected a non-empty 'steps' list")
        steps = tuple(
            _parse_step(item, source, f"{where}.steps[{i}]", documents)
            for i, item in enumerate(raw_steps)
        )
        seen: set[str] = set()
        for i, step in enumerate(steps):
            if step.id in seen:
                raise _fail(source, f"{where}.steps[{i}] ({step.id})", "duplicate step id")
            seen.add(step.id)
        needs = raw.get("intake_needs") or []
        if not isinstance(needs, list):
            raise _fail(source, f"{where}.intake_needs", "expected a list")
        case_types[str(code)] = CaseTypeClock(
            code=str(code),
            label_vi=str(raw.get("label_vi") or code),
            front_role=str(role),
            steps=steps,
            intake_needs=tuple(str(n) for n in needs),
        )
    return LegalDeadlines(
        as_of=_as_of(data.get("as_of"), source),
        documents={str(k): dict(v) for k, v in documents.items()},
        case_types=case_types,
        source=source,
    )


@lru_cache(maxsize=4)
def _load_cached(path: Path, mtime_ns: int) -> LegalDeadlines:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LegalDeadlinesError(f"{path}: {exc}") from exc
    return parse_deadlines(data, str(path))


def load_deadlines(path: Path | None = None) -> LegalDeadlines:
    """Read ``path`` (default ``<CONTENT_DIR>/legal_deadlines.yml``); re-read when it changes."""
    if path is None:
        from bot.settings import get_settings

        path = get_settings().content_dir / "legal_deadlines.yml"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise LegalDeadlinesError(f"{path}: {exc}") from exc
    return _load_cached(path, mtime)


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
