"""`./mttq test`: every check, in the order that fails fastest, with one summary line at the end.

lint → types → data validation → train (reused when inputs are unchanged) → pytest (unit,
action, service and server tests; the trained model is handed to them) → NLU evaluation on the
held-out split (threshold) → conversation tests (`rasa test core`, failing on a wrong
prediction).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.settings import ROOT
from tools.env import apply_to_current_process, child_env, python, rasa_cmd

RESULTS = ROOT / "results"


@dataclass
class Step:
    name: str
    action: Callable[[], int]


def _sh(cmd: list[str], extra_env: dict[str, str] | None = None) -> int:
    print(f"$ {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=child_env(extra_env)).returncode


def run_checks(*, fast: bool = False) -> int:
    from tools import model

    state: dict[str, str] = {}

    def train() -> int:
        state["model"] = str(model.train().path)
        return 0

    def pytest() -> int:
        # The slowest tests are listed so CI's time budget (30 minutes) can be watched.
        args = [python(), "-m", "pytest", "-q", "--durations=30"]
        if fast:
            args += ["-m", "not slow"]
        rc = _sh(args, {"MTTQ_MODEL": state.get("model", "")})
        return 0 if rc in (0,) else rc

    def evaluate() -> int:
        from tools.evaluate import evaluate as run_eval

        apply_to_current_process()
        return run_eval(model_path=Path(state["model"]))

    def stories() -> int:
        out = RESULTS / "stories"
        return _sh(
            rasa_cmd(
                "test", "core",
                "--model", state["model"],
                "--stories", "tests/test_stories.yml",
                "--out", str(out),
                "--fail-on-prediction-errors",
            ),
        )

    steps = [
        Step("lint (ruff)", lambda: _sh([python(), "-m", "ruff", "check", "."])),
        Step("types (mypy bot/)", lambda: _sh([python(), "-m", "mypy", "bot"])),
        Step("data validation", _validate),
        Step("train (cached)", train),
        Step("pytest", pytest),
        Step("NLU evaluation (held-out)", evaluate),
        Step("conversation tests", stories),
    ]
    results: list[tuple[str, bool, float]] = []
    for step in steps:
        print(f"\n=== {step.name} ===", flush=True)
        started = time.monotonic()
        try:
            ok = step.action() == 0
        except SystemExit as exit_:
            print(exit_, file=sys.stderr)
            ok = False
        results.append((step.name, ok, time.monotonic() - started))
        if not ok and step.name in ("train (cached)",):
            break  # nothing after it can run without a model
    print("\n=== summary ===")
    for name, ok, seconds in results:
        print(f"  {'ok  ' if ok else 'FAIL'}  {name:<28} {seconds:6.1f} s")
    skipped = len(steps) - len(results)
    passed = sum(ok for _, ok, _ in results)
    failed = len(results) - passed
    line = f"checks: {passed} passed, {failed} failed"
    print(line + (f", {skipped} skipped" if skipped else ""))
    return 0 if failed == 0 and skipped == 0 else 1


def _validate() -> int:
    from tools.validate import validate

    return validate()


if __name__ == "__main__":  # pragma: no cover
    os.chdir(ROOT)
    raise SystemExit(run_checks())
