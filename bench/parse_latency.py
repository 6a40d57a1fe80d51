"""NLU parse latency of two trained models, in one process, one after the other.

Issue 11 asks that understanding more (the programme classifier, normalised intent features,
more training data) keep ``/model/parse`` p50 within 1.5 times of before. This loads each model
archive with Rasa's ``Agent`` (the code path of ``/model/parse`` without HTTP), warms it up, then
parses every message of :data:`bench.messages.MESSAGES` ``--passes`` times, sequentially, and
prints p50/p95 per model and the ratio of the second to the first.

    PYTHONPATH=. .venv/bin/python -m bench.parse_latency BEFORE.tar.gz AFTER.tar.gz [--passes 5]

(Train the "before" model from an older commit with ``./mttq train`` in a ``git worktree``.)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

from bench.messages import MESSAGES
from bench.stats import pct


async def measure(model: Path, passes: int) -> list[float]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    for text, _ in MESSAGES[:10]:
        await agent.parse_message(text)
    times: list[float] = []
    for _ in range(passes):
        for text, _ in MESSAGES:
            started = time.perf_counter()
            await agent.parse_message(text)
            times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    results = {}
    for label, model in (("before", args.before), ("after", args.after)):
        results[label] = asyncio.run(measure(model, args.passes))
    print(f"$ PYTHONPATH=. .venv/bin/python -m bench.parse_latency {' '.join(sys.argv[1:])}")
    print(f"{len(MESSAGES)} messages x {args.passes} passes, sequential, in-process")
    for label, model in (("before", args.before), ("after", args.after)):
        times = results[label]
        print(f"{label:<7} {model.name}: p50 {statistics.median(times):.2f} ms, "
              f"p95 {pct(times, 0.95):.2f} ms")
    ratio = statistics.median(results["after"]) / statistics.median(results["before"])
    print(f"p50 after/before: {ratio:.2f} (issue 11: at most 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
