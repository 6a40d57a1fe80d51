"""The legal deadlines file, read and checked: ``content/legal_deadlines.yml`` as data.

Kept apart from the counting (:mod:`bot.cases.legal_clocks`) because a trainer or a lawyer edits
the file: what it may contain, and the error that names the file and the entry when it does not
fit, is one concern; when a step falls due on the working calendar is another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ACTORS",
    "CONDITIONS",
    "CaseTypeClock",
    "LegalDeadlines",
    "LegalDeadlinesError",
    "Step",
    "load_deadlines",
    "parse_deadlines",
]

ACTORS = frozenset({"front", "competent_body", "citizen"})
UNITS = frozenset({"days", "working_days"})
CONDITIONS = frozenset({"complex", "particularly_complex", "remote_area", "second_complaint"})
FRONT_ROLES = frozenset({"take_up", "forward_and_follow"})
#: The starting event of an extension step: it extends the period before it.
EXTENSION_START = "end_of_previous_period"
#: No limit in the data is near this; more is a typo.
_MAX_LIMIT = 3650



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
