"""What the assistant answers to bare insults and to genuine messages, with the NLU in the loop.

    PYTHONPATH=. .venv/bin/python -m bench.calm_replies [MODEL] [--sets GLOB]

``./mttq moderate --eval`` asks the moderation gate alone whether a message is only an insult.
In a conversation the gate ran only when a case was about to start (the NLU read the message as
a petition or feedback), so an insult read as anything else never got the calm reply (issue 12).
The insult policy (``bot.conversation.insult_policy``) asks the same rules of every message
outside a form. For each blind moderation set line this parses the text with ``MODEL`` (default:
the newest in ``models/``) and prints, per kind, how many get the calm reply

* **at case start only**: the NLU starts a case and the gate finds only an insult (before the
  policy);
* **with the policy**: that, or the policy's own test (rules, then the contempt model) on every
  intent, before any form opens
  (:func:`bot.conversation.insult_policy.calm_reply_due`).

For the bare insults that do not get it, it prints what the assistant does instead (the intent
it acts on; a case intent opens a form that would file the insult as a case). It also counts
the NLU blind set messages (``tests/data/nlu_blind``) that the policy would answer calmly: each
of them is a citizen's genuine message, so the right count is 0. Counts only: no line is
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODERATION_SETS = ROOT / "tests" / "data" / "moderation_blind"
CASE_INTENTS = frozenset({"submit_petition", "give_feedback"})


def _rows(directory: Path, pattern: str = "*.tsv") -> list[tuple[str, str]]:
    """(kind, text) of every line of the blind moderation sets matching ``pattern``; spam of
    any kind is "spam"."""
    rows: list[tuple[str, str]] = []
    for path in sorted(directory.glob(pattern)):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                kind = "spam" if row.get("label") == "stop" else str(row.get("kind") or "")
                rows.append((kind, str(row.get("text") or "")))
    return rows


def _confidence(parsed: dict[str, Any]) -> float:
    return float((parsed.get("intent") or {}).get("confidence") or 0.0)


async def _measure(agent: Any, rows: list[tuple[str, str]]) -> tuple[Counter[str], ...]:
    from bot.conversation.insult_policy import calm_reply_due
    from bot.moderation.contempt import contempt_model
    from bot.moderation.gate import judge

    contempt = contempt_model()

    total: Counter[str] = Counter()
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    instead: Counter[str] = Counter()  # bare insults not calmed: the intent acted on
    for kind, text in rows:
        parsed = await agent.parse_message(text)
        intent = (parsed.get("intent") or {}).get("name")
        at_case_start = intent in CASE_INTENTS and judge(text).insult_only
        total[kind] += 1
        before[kind] += at_case_start
        # The policy runs before any form opens, whatever the intent.
        calmed = at_case_start or calm_reply_due(
            text, intent, list(parsed.get("entities") or []), _confidence(parsed), contempt)
        after[kind] += calmed
        if kind == "insult_only" and not calmed:
            instead[str(intent)] += 1
    return total, before, after, instead


async def _nlu_blind(agent: Any) -> Counter[str]:
    from bot.conversation.insult_policy import calm_reply_due
    from bot.moderation.contempt import contempt_model
    from tools.evaluate import load_blind

    contempt = contempt_model()
    fired: Counter[str] = Counter()
    for _, examples in load_blind().values():
        for example in examples:
            parsed = await agent.parse_message(example.text)
            intent = (parsed.get("intent") or {}).get("name")
            if calm_reply_due(example.text, intent, list(parsed.get("entities") or []),
                              _confidence(parsed), contempt):
                fired[example.intent] += 1
    return fired


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, nargs="?", default=None)
    parser.add_argument("--sets", default="*.tsv",
                        help="which blind moderation sets (a file name pattern; default all)")
    args = parser.parse_args(argv)
    from tools import model as models
    from tools.evaluate import _load

    model = args.model or models.latest_model()
    if model is None or not Path(model).exists():
        print("no trained model: run ./mttq train", file=sys.stderr)
        return 2
    agent = _load(Path(model))
    total, before, after, instead = asyncio.run(_measure(agent, _rows(MODERATION_SETS, args.sets)))
    print(f"Calm replies on the blind moderation sets {args.sets}, model {Path(model).name}")
    print(f"  {'kind':14s} {'lines':>6s} {'at case start only':>19s} {'with the policy':>16s}")
    for kind in sorted(total):
        print(f"  {kind:14s} {total[kind]:6d} {before[kind]:19d} {after[kind]:16d}")
    if instead:
        cases = sum(n for intent, n in instead.items() if intent in CASE_INTENTS)
        print(f"  bare insults not calmed: {sum(instead.values())}, of which {cases} open a case "
              "form; by intent: " + ", ".join(f"{i} {n}" for i, n in instead.most_common()))
    fired = asyncio.run(_nlu_blind(agent))
    print(f"NLU blind messages answered calmly by the policy: {sum(fired.values())}"
          + (f" {dict(fired)}" if fired else " (target 0)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
