"""The trained model on the held-out split: every programme's unseen paraphrases reach it."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from trained_model import trained_model

from tools.env import apply_to_current_process
from tools.evaluate import load_examples

pytestmark = pytest.mark.slow
MIN_RIGHT_PER_PROGRAMME = 5




@pytest.fixture(scope="module")
def parses() -> list[tuple[Any, dict[str, Any]]]:
    apply_to_current_process()
    from rasa.core.agent import Agent

    agent = Agent.load(str(trained_model()))
    examples = [e for e in load_examples() if e.intent == "ask_programme"]

    async def parse_all() -> list[tuple[Any, dict[str, Any]]]:
        return [(e, await agent.parse_message(e.text)) for e in examples]

    return asyncio.run(parse_all())


def test_every_programme_has_five_unseen_paraphrases_answered(parses) -> None:  # type: ignore[no-untyped-def]
    right: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for example, parsed in parses:
        gold = [v for e, v in example.entities if e == "programme"]
        if not gold:
            continue
        total[gold[0]] += 1
        found = {e["value"] for e in parsed["entities"] if e["entity"] == "programme"}
        if parsed["intent"]["name"] == "ask_programme" and gold[0] in found:
            right[gold[0]] += 1
    assert len(total) == 13
    short = {p: f"{right[p]}/{total[p]}" for p in total if right[p] < MIN_RIGHT_PER_PROGRAMME}
    assert not short, f"programmes with fewer than {MIN_RIGHT_PER_PROGRAMME} right: {short}"


def test_programme_questions_with_and_without_diacritics(parses) -> None:  # type: ignore[no-untyped-def]
    for split in ("with_diacritics", "without_diacritics"):
        mine = [(e, p) for e, p in parses if e.split == split]
        right = sum(p["intent"]["name"] == "ask_programme" for _, p in mine)
        assert right / len(mine) >= 0.85, f"{split}: {right}/{len(mine)}"
