"""Which committee a case goes to, decided by data (``content/routing.yml``).

A case goes to the unit of the place it is about; a citizen who gave no place, or one the unit
tree does not know, reaches the province-level unit, which forwards it. Rules in the YAML file send
some categories elsewhere — ``an_ninh`` to the province, ``dat_dai_xay_dung`` from a ward to the
unit above it — the first matching rule winning, in the spirit of FixMyStreet's category-to-body
routing. The same file holds the SLA table (``bot.cases.sla``).

:func:`route` is a pure function of the tree, the located unit, the category and the rules, so it is
tested with tables and reused by the action that files a case and by the console's "transfer".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bot.cases.sla import CalendarError, SlaTable, parse_sla_table
from bot.knowledge.units import UnitTree

__all__ = [
    "RouteDecision",
    "RoutingConfig",
    "RoutingError",
    "RoutingRule",
    "load_routing",
    "parse_routing",
    "route",
]

#: Special targets of a rule; anything else is a unit code.
SELF, PARENT, PROVINCE = "self", "parent", "province"


class RoutingError(ValueError):
    """The routing file is malformed or names units or categories that do not exist."""


@dataclass(frozen=True)
class RoutingRule:
    """Send cases of ``categories`` (optionally only from units of ``levels``) to ``to``."""

    categories: frozenset[str]
    to: str
    levels: frozenset[str] = frozenset()
    note: str = ""

    def matches(self, category: str | None, level: str) -> bool:
        if category is None or category not in self.categories:
            return False
        return not self.levels or level in self.levels


@dataclass(frozen=True)
class RoutingConfig:
    """The parsed ``routing.yml``: ordered rules and the SLA table."""

    rules: tuple[RoutingRule, ...] = ()
    sla: SlaTable = field(default_factory=SlaTable)

    def problems(self, tree: UnitTree, category_codes: Iterable[str] | None = None) -> list[str]:
        """What in this config does not fit ``tree`` (and the known categories, if given)."""
        known = set(category_codes) if category_codes is not None else None
        out = []
        for i, rule in enumerate(self.rules):
            if rule.to not in (SELF, PARENT, PROVINCE) and rule.to not in tree:
                out.append(f"rules[{i}]: unknown unit {rule.to!r}")
            if known is not None:
                out.extend(
                    f"rules[{i}]: unknown category {c!r}" for c in sorted(rule.categories - known)
                )
        for code in self.sla.units:
            if code not in tree:
                out.append(f"sla.units: unknown unit {code!r}")
        for code, category in self.sla.unit_categories:
            if code not in tree:
                out.append(f"sla.units: unknown unit {code!r}")
            if known is not None and category not in known:
                out.append(f"sla.units.{code}: unknown category {category!r}")
        if known is not None:
            out.extend(
                f"sla.categories: unknown category {c!r}"
                for c in sorted(set(self.sla.categories) - known)
            )
        return sorted(set(out))

    def check(self, tree: UnitTree, category_codes: Iterable[str] | None = None) -> None:
        """Raise :class:`RoutingError` listing every problem (call at start-up)."""
        problems = self.problems(tree, category_codes)
        if problems:
            raise RoutingError("routing config does not match the units: " + "; ".join(problems))


@dataclass(frozen=True)
class RouteDecision:
    """The unit a case goes to, and why (``reason`` is for logs and the case history)."""

    unit_code: str
    reason: str


def route(
    tree: UnitTree,
    location_unit_code: str | None,
    category: str | None,
    rules: RoutingConfig | Sequence[RoutingRule],
) -> RouteDecision:
    """Decide the unit for a case located at ``location_unit_code`` (None: unknown place).

    Reasons: ``location`` (the located unit), ``no_location`` / ``unknown_location`` (the
    province), ``rule:<category>-><target>`` when a rule moved it.
    """
    rule_list = rules.rules if isinstance(rules, RoutingConfig) else tuple(rules)
    province = tree.province()
    located = tree.get(location_unit_code)
    if located is not None:
        base, reason = located, "location"
    else:
        base = province
        reason = "no_location" if not location_unit_code else "unknown_location"
    for rule in rule_list:
        if not rule.matches(category, base.level):
            continue
        if rule.to == SELF:
            return RouteDecision(base.code, reason)
        if rule.to == PROVINCE:
            target = province.code
        elif rule.to == PARENT:
            target = base.parent_code or base.code
        else:
            # A fixed unit code; one missing from the tree (a stale rule) must not lose the case.
            target = rule.to if rule.to in tree else base.code
        if target == base.code:
            return RouteDecision(base.code, reason)
        return RouteDecision(target, f"rule:{category}->{rule.to}")
    return RouteDecision(base.code, reason)


# --------------------------------------------------------------------------- loading


def _strings(value: Any, where: str) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise RoutingError(f"{where}: expected a code or a non-empty list of codes")


def parse_routing(data: Mapping[str, Any] | None, source: str = "routing") -> RoutingConfig:
    """A config from the parsed YAML mapping (see ``content/routing.yml``)."""
    if data is None:
        return RoutingConfig()
    if not isinstance(data, Mapping):
        raise RoutingError(f"{source}: expected a mapping with 'rules' and 'sla'")
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise RoutingError(f"{source}: 'rules' must be a list")
    rules = []
    for i, raw in enumerate(raw_rules):
        where = f"{source}: rules[{i}]"
        if not isinstance(raw, Mapping):
            raise RoutingError(f"{where}: each rule must be a mapping")
        unknown = set(raw) - {"category", "levels", "to", "note"}
        if unknown:
            raise RoutingError(f"{where}: unknown keys {sorted(unknown)}")
        if "category" not in raw or not isinstance(raw.get("to"), str) or not raw["to"].strip():
            raise RoutingError(f"{where}: needs 'category' and 'to'")
        rules.append(
            RoutingRule(
                categories=_strings(raw["category"], f"{where}.category"),
                to=raw["to"].strip(),
                levels=_strings(raw["levels"], f"{where}.levels")
                if "levels" in raw
                else frozenset(),
                note=str(raw.get("note") or ""),
            )
        )
    try:
        sla = parse_sla_table(data.get("sla"), f"{source}: sla")
    except CalendarError as exc:
        raise RoutingError(str(exc)) from exc
    return RoutingConfig(rules=tuple(rules), sla=sla)


def load_routing(path: Path | None = None) -> RoutingConfig:
    """Read ``path`` (default ``<CONTENT_DIR>/routing.yml``); a missing file means no rules."""
    if path is None:
        from bot.settings import get_settings

        path = get_settings().content_dir / "routing.yml"
    if not path.exists():
        return RoutingConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RoutingError(f"{path}: {exc}") from exc
    return parse_routing(data, str(path))


@dataclass(frozen=True)
class CasePlan:
    """Where a new case goes and when its first response is due."""

    unit_code: str
    reason: str
    first_response_due: datetime
    resolution_due: datetime


def plan_case(
    tree: UnitTree, location_unit_code: str | None, category: str | None, now: datetime
) -> CasePlan:
    """Route a new case (content/routing.yml) and compute its deadlines in working hours."""
    from bot.cases.sla import due_times, load_calendar

    config = load_routing()
    decision = route(tree, location_unit_code, category, config)
    due = due_times(now, decision.unit_code, category, config.sla, load_calendar())
    return CasePlan(decision.unit_code, decision.reason, due.first_response, due.resolution)
