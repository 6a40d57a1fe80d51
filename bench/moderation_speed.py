"""How long the moderation policy takes per message (issue 12: under 1 ms at p95).

Times :func:`bot.moderation.gate.apply_policy` over :func:`bot.moderation.moderate` (the rules
loaded once, as in a running process) on every message of the labelled sets in
``tests/data/moderation/`` and ``tests/data/moderation_blind/``, ``--rounds`` times, and prints
p50, p95, p99 and max per message, by message length.

    PYTHONPATH=. .venv/bin/python -m bench.moderation_speed [--rounds 20]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

from bot.moderation import load_rules, moderate
from bot.moderation.gate import apply_policy

ROOT = Path(__file__).resolve().parents[1]


def messages() -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "tests" / "data" / "moderation").glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                texts.append(line.split("\t", 1)[1])
    for path in sorted((ROOT / "tests" / "data" / "moderation_blind").glob("*.tsv")):
        with open(path, encoding="utf-8", newline="") as handle:
            texts += [row["text"] for row in csv.DictReader(handle, delimiter="\t")]
    return texts


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    rules = load_rules()
    texts = messages()
    for text in texts:  # warm-up: compiled patterns, caches
        apply_policy(moderate(text, rules), text)
    times: list[float] = []
    for _ in range(args.rounds):
        for text in texts:
            started = time.perf_counter()
            apply_policy(moderate(text, rules), text)
            times.append((time.perf_counter() - started) * 1000)
    print(f"$ PYTHONPATH=. .venv/bin/python -m bench.moderation_speed {' '.join(sys.argv[1:])}")
    print(f"{len(texts)} messages x {args.rounds} rounds; mean length "
          f"{statistics.mean(len(t) for t in texts):.0f} characters")
    print(f"per message: p50 {_pct(times, 0.5):.3f} ms, p95 {_pct(times, 0.95):.3f} ms, "
          f"p99 {_pct(times, 0.99):.3f} ms, max {max(times):.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
