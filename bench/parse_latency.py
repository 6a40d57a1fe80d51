"""NLU parse latency of two trained models, each in its own process with its own code.

Issue 11 asks that understanding more (the programme classifier, normalised intent features,
more training data) keep ``/model/parse`` p50 within 1.5 times of before. For each model this
starts a Python process that loads the archive with Rasa's ``Agent`` (the code path of
``/model/parse`` without HTTP), warms it up, then parses every message of
:data:`bench.messages.MESSAGES` ``--passes`` times, sequentially, and reports the times; the two
models take turns ``--rounds`` times, so a burst of load on the machine hits both. Prints
p50/p95 per model and the ratio of the second to the first.

    PYTHONPATH=. .venv/bin/python -m bench.parse_latency BEFORE.tar.gz AFTER.tar.gz \
        [--before-code DIR] [--passes 5] [--rounds 2]

Why a process per model: a model archive names the classes of its components by module path,
and the layout of ``bot/`` has changed since the issue was filed (``bot.policies`` is now
``bot.conversation.policies``), so an old model loads only beside the code it was trained with.
Train the "before" model in a ``git worktree`` of the older commit with ``./mttq train`` and pass
that worktree as ``--before-code``; the "after" model runs with this checkout's code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.messages import MESSAGES
from bench.stats import pct
from bot.settings import ROOT

#: What the measuring process runs: nothing from this checkout's ``bench`` or ``bot`` is
#: imported, so it works with whichever code tree is first on its ``PYTHONPATH``.
_WORKER = """
import asyncio, json, logging, sys, time
logging.disable(logging.WARNING)
from rasa.core.agent import Agent
model, passes, messages = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3]))
async def run():
    agent = Agent.load(model)
    for text in messages[:10]:
        await agent.parse_message(text)
    times = []
    for _ in range(passes):
        for text in messages:
            started = time.perf_counter()
            await agent.parse_message(text)
            times.append((time.perf_counter() - started) * 1000)
    return times
print(json.dumps(asyncio.run(run())))
"""


def measure(model: Path, code: Path, passes: int, messages_file: Path) -> list[float]:
    """Parse times (ms) of ``model`` in a fresh process whose imports come from ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, str(model.resolve()), str(passes), str(messages_file)],
        cwd=code, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring {model} with the code of {code} failed:\n"
                         f"{done.stderr[-2000:]}")
    times: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--before-code", type=Path, default=ROOT,
                        help="the checkout the before model was trained with (default: this one)")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2,
                        help="how many times the two models take turns")
    args = parser.parse_args(argv)
    runs = (("before", args.before, args.before_code.resolve()), ("after", args.after, ROOT))
    results: dict[str, list[float]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        messages_file = Path(tmp) / "messages.json"
        messages_file.write_text(json.dumps([text for text, _ in MESSAGES]), encoding="utf-8")
        for _ in range(args.rounds):
            for label, model, code in runs:
                results[label] += measure(model, code, args.passes, messages_file)
    print(f"$ PYTHONPATH=. .venv/bin/python -m bench.parse_latency {' '.join(sys.argv[1:])}")
    print(f"{len(MESSAGES)} messages x {args.passes} passes x {args.rounds} rounds, sequential, "
          f"one process per model and round")
    for label, model, code in runs:
        times = results[label]
        print(f"{label:<7} {model.name} (code: {code}): p50 {statistics.median(times):.2f} ms, "
              f"p95 {pct(times, 0.95):.2f} ms")
    ratio = statistics.median(results["after"]) / statistics.median(results["before"])
    print(f"p50 after/before: {ratio:.2f} (issue 11: at most 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
