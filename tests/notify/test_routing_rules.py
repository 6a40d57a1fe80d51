"""Routing as data: table tests of ``bot.cases.routing.route`` over the sample unit tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cases.intake import load_categories
from bot.cases.routing import (
    RouteDecision,
    RoutingConfig,
    RoutingError,
    RoutingRule,
    load_routing,
    parse_routing,
    route,
)
from bot.cases.sla import SlaPolicy
from bot.knowledge.units import UnitTree

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = load_routing(ROOT / "content" / "routing.yml")


@pytest.mark.parametrize(
    ("location", "category", "expected"),
    [
        # the unit of the place
        ("p_lang", "moi_truong", RouteDecision("p_lang", "location")),
        ("p_lang", None, RouteDecision("p_lang", "location")),
        ("x_soc_son", "khac", RouteDecision("x_soc_son", "location")),
        # no place, or a place the tree does not know → the province
        (None, "moi_truong", RouteDecision("hn", "no_location")),
        ("", None, RouteDecision("hn", "no_location")),
        ("q_khong_co", "moi_truong", RouteDecision("hn", "unknown_location")),
        # an_ninh → the province, wherever it happened
        ("p_lang", "an_ninh", RouteDecision("hn", "rule:an_ninh->province")),
        ("x_gia_lam", "an_ninh", RouteDecision("hn", "rule:an_ninh->province")),
        (None, "an_ninh", RouteDecision("hn", "no_location")),
        # land and building: a ward's case goes up to its parent
        ("p_cau_giay", "dat_dai_xay_dung", RouteDecision("hn", "rule:dat_dai_xay_dung->parent")),
        # ... the rule is for communes only; the province keeps its own
        ("hn", "dat_dai_xay_dung", RouteDecision("hn", "location")),
        # a category no rule mentions
        ("p_lang", "chinh_sach_xa_hoi", RouteDecision("p_lang", "location")),
    ],
)
def test_shipped_rules(
    tree: UnitTree, location: str | None, category: str | None, expected: RouteDecision
) -> None:
    assert route(tree, location, category, SHIPPED) == expected


def test_first_matching_rule_wins_and_self_stops(tree: UnitTree) -> None:
    rules = [
        RoutingRule(
            categories=frozenset({"moi_truong"}), to="self", levels=frozenset({"province"})
        ),
        RoutingRule(categories=frozenset({"moi_truong", "khac"}), to="p_ba_dinh"),
        RoutingRule(categories=frozenset({"moi_truong"}), to="province"),
    ]
    assert route(tree, "hn", "moi_truong", rules) == RouteDecision("hn", "location")
    assert route(tree, "p_lang", "moi_truong", rules) == RouteDecision(
        "p_ba_dinh", "rule:moi_truong->p_ba_dinh"
    )
    # a rule naming the unit the case is already at changes nothing
    assert route(tree, "p_ba_dinh", "khac", rules) == RouteDecision("p_ba_dinh", "location")


def test_stale_rule_target_never_loses_a_case(tree: UnitTree) -> None:
    rules = [RoutingRule(categories=frozenset({"khac"}), to="p_da_giai_the")]
    assert route(tree, "p_lang", "khac", rules) == RouteDecision("p_lang", "location")
    config = RoutingConfig(rules=tuple(rules))
    assert config.problems(tree) == ["rules[0]: unknown unit 'p_da_giai_the'"]
    with pytest.raises(RoutingError, match="p_da_giai_the"):
        config.check(tree)


def test_shipped_file_matches_sample_units_and_categories(tree: UnitTree) -> None:
    codes = [c.code for c in load_categories(ROOT / "content" / "categories.yml")]
    assert SHIPPED.problems(tree, codes) == []
    assert len(SHIPPED.rules) == 2


@pytest.mark.parametrize(
    ("unit", "category", "expected"),
    [
        ("p_lang", "an_ninh", SlaPolicy(2, 40)),  # category entry
        ("p_lang", "khac", SlaPolicy(8, 80)),  # default
        ("hn", "khac", SlaPolicy(8, 120)),  # the province's own default
        ("hn", "an_ninh", SlaPolicy(2, 40)),  # category beats a unit's default
        ("p_lang", None, SlaPolicy(8, 80)),
        (None, "moi_truong", SlaPolicy(8, 56)),
    ],
)
def test_shipped_sla_table(unit: str | None, category: str | None, expected: SlaPolicy) -> None:
    assert SHIPPED.sla.policy(unit, category) == expected


def test_sla_unit_and_category_entry_fills_from_less_specific() -> None:
    config = parse_routing(
        {
            "sla": {
                "default": {"first_response_hours": 4, "resolution_hours": 40},
                "categories": {"an_ninh": {"first_response_hours": 1}},
                "units": {
                    "p_lang": {
                        "default": {"resolution_hours": 20},
                        "categories": {"an_ninh": {"resolution_hours": 8}, "khac": {}},
                    }
                },
            }
        }
    )
    sla = config.sla
    assert sla.policy("p_lang", "an_ninh") == SlaPolicy(1, 8)  # first from the category entry
    assert sla.policy("p_lang", "khac") == SlaPolicy(4, 20)  # both from the unit default
    assert sla.policy("p_lang", "moi_truong") == SlaPolicy(4, 20)
    assert sla.policy("p_ba_dinh", "an_ninh") == SlaPolicy(1, 40)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": {"category": "x"}}, "'rules' must be a list"),
        ({"rules": [{"category": "an_ninh"}]}, "needs 'category' and 'to'"),
        ({"rules": [{"category": [], "to": "province"}]}, "non-empty list"),
        ({"rules": [{"category": "an_ninh", "to": "province", "unit": "x"}]}, "unknown keys"),
        ({"sla": {"default": {"first_response_hours": 10, "resolution_hours": 5}}}, "before"),
        ({"sla": {"categories": {"khac": {"first_response_hours": -1}}}}, "negative"),
        ({"sla": {"units": {"p_lang": 5}}}, "expected 'default'"),
    ],
)
def test_malformed_routing_files_are_refused(data: dict, message: str) -> None:
    with pytest.raises(RoutingError, match=message):
        parse_routing(data, "routing.yml")


def test_missing_file_means_no_rules(tmp_path: Path, tree: UnitTree) -> None:
    config = load_routing(tmp_path / "absent.yml")
    assert config.rules == ()
    assert route(tree, "p_lang", "an_ninh", config) == RouteDecision("p_lang", "location")
