"""How long the moderation policy takes per message (issue 12: under 1 ms at p95).

Times :func:`bot.moderation.gate.apply_policy` over :func:`bot.moderation.moderate` (the rules
loaded once, as in a running process) on every message of the labelled sets in
``tests/data/moderation/`` and ``tests/data/moderation_blind/``, ``--rounds`` times, and prints
p50, p95, p99 and max per message, by message length.

    PYTHONPATH=. .venv/bin/python -m bench.moderation_speed [--rounds 20]
    PYTHONPATH=. .venv/bin/python -m bench.moderation_speed --rounds 3 --against <other checkout>
    PYTHONPATH=. .venv/bin/python -m bench.moderation_speed --rounds 3 --against <old> --dev-only

Timings differ between sittings by more than the changes being measured, so ``--against``
compares another checkout (e.g. ``git worktree add ../old <commit>``) with this one in one run:
the same messages (this checkout's), each timed in its own process with its own code and rules,
the two alternating three times, and prints the ratios.

``--versus-rules`` times, in one process and one run, each message through the rules alone
(``apply_policy(..., learned=False)``) and through the rules with the learned second opinion
(:mod:`bot.moderation.opinion`), alternating which goes first, and prints both and their ratio.
``--dev-only`` leaves out the blind sets (whose lines a helper tuning the model must not run), with
``--versus-rules``, ``--against`` or alone.

``--clock cpu`` times with the thread's CPU clock instead of the wall clock: on a machine shared
by more processes than it has cores, a message's wall time is mostly the time the process waited
for a core (a load of 15 on 2 cores made p95 13 ms for code whose p95 is under 1 ms alone), and
the CPU time is what moderation itself costs.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

from bench.stats import pct
from bot.moderation import load_rules, moderate
from bot.moderation.gate import apply_policy

ROOT = Path(__file__).resolve().parents[1]


def messages(dev_only: bool = False) -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "tests" / "data" / "moderation").glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "\t" in line and not line.startswith(("#", "label\t")):
                texts.append(line.split("\t")[-1])  # label<TAB>text, or label<TAB>kind<TAB>text
    for path in [] if dev_only else sorted(
            (ROOT / "tests" / "data" / "moderation_blind").glob("*.tsv")):
        with open(path, encoding="utf-8", newline="") as handle:
            texts += [row["text"] for row in csv.DictReader(handle, delimiter="\t")]
    if dev_only:  # and the learned model's own lines, for more of them
        from bot.moderation.learned import read_training

        seen = set(texts)
        texts += [line.text for line in read_training() if line.text not in seen]
    return texts


#: Run in a checkout (its own ``bot``): times every message of a JSON list, prints the timings.
_TIMER = """
import json, sys, time
from bot.moderation import load_rules, moderate
try:
    from bot.moderation.gate import apply_policy
except ImportError:  # checkouts before the layout of issue 13
    from bot.moderation_gate import apply_policy
texts = json.load(open(sys.argv[1], encoding="utf-8"))
clock = time.thread_time if sys.argv[3] == "cpu" else time.perf_counter
rules = load_rules()
for text in texts:
    apply_policy(moderate(text, rules), text)
times = []
for _ in range(int(sys.argv[2])):
    for text in texts:
        started = clock()
        apply_policy(moderate(text, rules), text)
        times.append((clock() - started) * 1000)
print(json.dumps(times))
"""


def compare(other: Path, rounds: int, clock: str = "wall", dev_only: bool = False) -> int:
    """This checkout against ``other``, same messages, alternating, in one run."""
    import json
    import subprocess
    import tempfile

    texts = messages(dev_only)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=False)
    trees = {"other": other.resolve(), "this": ROOT}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(3):
        for name, tree in trees.items():
            run = subprocess.run(
                [sys.executable, "-c", _TIMER, f.name, str(rounds), clock],
                cwd=tree,
                env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
                capture_output=True,
                text=True,
                check=False,
            )
            if run.returncode:
                print(f"error: timing in {tree} failed:\n{run.stderr[-2000:]}", file=sys.stderr)
                return 1
            times[name] += json.loads(run.stdout)
    Path(f.name).unlink()
    print(f"$ PYTHONPATH=. .venv/bin/python -m bench.moderation_speed {' '.join(sys.argv[1:])}")
    print(
        f"{len(texts)} messages (this checkout's) x {rounds} rounds x 3, alternating, {clock} clock"
    )
    for name in trees:
        print(
            f"{name:>5} ({trees[name]}): p50 {pct(times[name], 0.5):.3f} ms, "
            f"p95 {pct(times[name], 0.95):.3f} ms"
        )
    print(
        f"this/other: p50 {pct(times['this'], 0.5) / pct(times['other'], 0.5):.2f}, "
        f"p95 {pct(times['this'], 0.95) / pct(times['other'], 0.95):.2f}"
    )
    return 0


def versus_rules(rounds: int, clock_name: str, dev_only: bool) -> int:
    """Each message through the rules alone and through rules + model, alternating."""
    from bot.moderation.engine import _quoted_spans
    from bot.moderation.learned import learned_model
    from bot.moderation.normalise import normalise

    clock = time.thread_time if clock_name == "cpu" else time.perf_counter
    rules = load_rules()
    learned_model()  # trained before timing, as in a process that has been up a few seconds
    texts = messages(dev_only)
    times: dict[bool, list[float]] = {False: [], True: []}
    for text in texts:  # warm-up
        apply_policy(moderate(text, rules), text)
    for round_ in range(rounds):
        for i, text in enumerate(texts):
            order = (False, True) if (i + round_) % 2 == 0 else (True, False)
            for learned in order:
                # Each timing builds its own views and finds its own quotations, as for a new
                # message (both are kept for the last few messages, for the second opinion).
                normalise.cache_clear()
                _quoted_spans.cache_clear()
                started = clock()
                apply_policy(moderate(text, rules), text, learned=learned)
                times[learned].append((clock() - started) * 1000)
    print(f"$ PYTHONPATH=. .venv/bin/python -m bench.moderation_speed {' '.join(sys.argv[1:])}")
    print(f"{len(texts)} messages x {rounds} rounds, {clock_name} clock, alternating")
    for learned, name in ((False, "rules only"), (True, "rules + model")):
        print(f"{name:>13}: p50 {pct(times[learned], 0.5):.3f} ms, "
              f"p95 {pct(times[learned], 0.95):.3f} ms, p99 {pct(times[learned], 0.99):.3f} ms")
    print(f"model/rules: p50 {pct(times[True], 0.5) / pct(times[False], 0.5):.2f}, "
          f"p95 {pct(times[True], 0.95) / pct(times[False], 0.95):.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        help="another checkout to compare with, in the same run",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time (default) or the thread's CPU time per message",
    )
    parser.add_argument("--versus-rules", action="store_true",
                        help="rules alone against rules + learned model, in one run")
    parser.add_argument("--dev-only", action="store_true",
                        help="the dev sets of tests/data/moderation/ and the lines of "
                        "content/moderation/training.tsv, not the blind sets")
    args = parser.parse_args(argv)
    if args.versus_rules:
        return versus_rules(args.rounds, args.clock, args.dev_only)
    if args.against is not None:
        return compare(args.against, args.rounds, args.clock, args.dev_only)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    rules = load_rules()
    texts = messages(args.dev_only)
    for text in texts:  # warm-up: compiled patterns, caches
        apply_policy(moderate(text, rules), text)
    times: list[float] = []
    for _ in range(args.rounds):
        for text in texts:
            started = clock()
            apply_policy(moderate(text, rules), text)
            times.append((clock() - started) * 1000)
    print(f"$ PYTHONPATH=. .venv/bin/python -m bench.moderation_speed {' '.join(sys.argv[1:])}")
    print(
        f"{len(texts)} messages x {args.rounds} rounds, {args.clock} clock; mean length "
        f"{statistics.mean(len(t) for t in texts):.0f} characters"
    )
    print(
        f"per message: p50 {pct(times, 0.5):.3f} ms, p95 {pct(times, 0.95):.3f} ms, "
        f"p99 {pct(times, 0.99):.3f} ms, max {max(times):.3f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
