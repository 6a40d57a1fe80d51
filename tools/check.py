"""`./mttq test`: every check, in the order that fails fastest, with one summary line at the end.

lint → types → data validation → train (reused when inputs are unchanged) → pytest in two
processes, one per core: the first runs most test folders (unit, action, service and server
tests; the trained model is handed to them); on the other core, one after the other, the NLU
evaluation on the held-out split (threshold), the conversation tests (`rasa test core`, failing
on a wrong prediction) and the second pytest on the folders of ``SECOND_HALF``.
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
from tools.env import child_env, python, rasa_cmd

RESULTS = ROOT / "results"
#: Test folders run by the second pytest process, beside the first (see
#: ``pytest_beside_the_model_checks``). Chosen from the per-module times of one CI run so that
#: both halves end together, the second starting after the model checks (README, "Tests and
#: CI"). Every test uses its own ports, temporary folders, PostgreSQL schema and Redis keys, so
#: the halves do not see each other.
SECOND_HALF = (
    # Stop 42's CI (one pytest, 1,570 s of tests): these 650 s; the first half keeps server
    # 411 s, unit 356, channels 79, actions 43, model 30; the model checks before the second
    # half took 257 s. Stop 46's last run (module times printed at its end): first half 954 s,
    # model checks 228 s and second half 750 s beside it, so the split still holds.
    "tests/e2e", "tests/staff", "tests/load", "tests/security", "tests/notify", "tests/browser",
)
#: JUnit XML files of the first and the second pytest, under ``RESULTS``.
JUNIT = ("pytest-first-half.xml", "pytest-second-half.xml")


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

    def pytest_args(xml: str, *paths: str) -> list[str]:
        # The slowest tests are listed so CI's time budget (30 minutes) can be watched; the
        # JUnit file gives every test's time, summed per module at the end (module_times).
        args = [python(), "-m", "pytest", "-q", "--durations=20", f"--junitxml={RESULTS / xml}"]
        if fast:
            args += ["-m", "not slow"]
        return args + list(paths)

    beside: _Beside | None = None

    def beside_checks(model_path: str) -> list[tuple[str, list[str], dict[str, str] | None]]:
        # (name, command, extra environment) of each check run beside the first pytest.
        return [
            ("NLU evaluation (held-out)",
             [python(), "-m", "tools.cli", "evaluate"], None),
            ("conversation tests",
             rasa_cmd("test", "core", "--model", model_path,
                      "--stories", "tests/test_stories.yml",
                      "--out", str(RESULTS / "stories"), "--fail-on-prediction-errors"), None),
            # No cache plugin: both halves would write .pytest_cache at the end.
            ("pytest, second half",
             pytest_args(JUNIT[1], "-p", "no:cacheprovider", *SECOND_HALF), {"MTTQ_MODEL": model_path}),
        ]

    def pytest_beside_the_model_checks() -> int:
        # Two pytest processes, one per core: the first takes every test folder but
        # SECOND_HALF; the second, after the model checks (which need only the model), takes
        # SECOND_HALF. Why: one pytest used one core of two and took 28-30 minutes alone.
        nonlocal beside
        for name in JUNIT:  # a file left by an earlier run must not be read as this run's
            (RESULTS / name).unlink(missing_ok=True)
        model_env = {"MTTQ_MODEL": state.get("model", "")}
        child_env()  # the shared secrets are generated here, once, before both halves start
        beside = _Beside(beside_checks(state["model"]))
        beside.start()
        ignored = [f"--ignore={path}" for path in SECOND_HALF]
        return _sh(pytest_args(JUNIT[0], *ignored), model_env)

    steps = [
        Step("lint (ruff)", lambda: _sh([python(), "-m", "ruff", "check", "."])),
        Step("types (mypy bot/)", lambda: _sh([python(), "-m", "mypy", "bot"])),
        Step("data validation", _validate),
        Step("train (cached)", train),
        Step("pytest, first half", pytest_beside_the_model_checks),
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
    if beside is not None:
        results += beside.finish()
    steps_total = len(steps) + len(beside_checks(""))
    _print_module_times([RESULTS / name for name in JUNIT])
    print("\n=== summary ===")
    for name, ok, seconds in results:
        print(f"  {'ok  ' if ok else 'FAIL'}  {name:<28} {seconds:6.1f} s")
    skipped = steps_total - len(results)
    passed = sum(ok for _, ok, _ in results)
    failed = len(results) - passed
    line = f"checks: {passed} passed, {failed} failed"
    print(line + (f", {skipped} skipped" if skipped else ""))
    return 0 if failed == 0 and skipped == 0 else 1


class _Beside:
    """Checks run one after the other in a background thread while pytest runs, each output
    kept in a file and printed, with its own time, when :meth:`finish` joins them.

    Why: CI's budget is 30 minutes and one pytest uses one core of two; the held-out NLU
    evaluation and the conversation tests (about three minutes together) need only the trained
    model, and the second half of the tests needs nothing of the first."""

    def __init__(self, checks: list[tuple[str, list[str], dict[str, str] | None]]) -> None:
        import tempfile
        import threading

        self.checks = checks
        self.logs = Path(tempfile.mkdtemp(prefix="mttq-checks-"))
        self.results: list[tuple[str, bool, float]] = []
        self.thread = threading.Thread(target=self._run, name="checks-beside-pytest", daemon=True)

    def start(self) -> None:
        names = ", ".join(name for name, _, _ in self.checks)
        print(f"(beside: {names}; their outputs are kept in {self.logs} and printed at the end)",
              flush=True)
        self.thread.start()

    def _run(self) -> None:
        for index, (name, cmd, extra_env) in enumerate(self.checks):
            started = time.monotonic()
            with open(self.logs / f"{index}.log", "w", encoding="utf-8") as log:
                log.write(f"$ {' '.join(cmd)}\n")
                log.flush()
                try:
                    rc = subprocess.run(cmd, cwd=ROOT, env=child_env(extra_env), stdout=log,
                                        stderr=subprocess.STDOUT).returncode
                except OSError as error:
                    log.write(f"could not start: {error}\n")
                    rc = 1
            self.results.append((name, rc == 0, time.monotonic() - started))

    def finish(self) -> list[tuple[str, bool, float]]:
        """Wait for the checks, print their outputs; (name, ok, seconds) of each."""
        self.thread.join()
        for index, (name, _, _) in enumerate(self.checks):
            print(f"\n=== {name} (ran beside the first pytest) ===", flush=True)
            log = self.logs / f"{index}.log"
            if log.exists():
                print(log.read_text(encoding="utf-8", errors="replace"), end="", flush=True)
        done = {name for name, _, _ in self.results}
        return self.results + [(name, False, 0.0) for name, _, _ in self.checks
                               if name not in done]


def module_times(xml_files: list[Path]) -> list[tuple[str, int, float]]:
    """(file, half, seconds) of every test module in the JUnit files, slowest first; a test's
    time there is its setup, call and teardown together."""
    import xml.etree.ElementTree as ElementTree
    from collections import defaultdict

    totals: dict[tuple[str, int], float] = defaultdict(float)
    for half, path in enumerate(xml_files, start=1):
        if not path.exists():
            continue
        for case in ElementTree.parse(path).iter("testcase"):
            module = case.get("classname", "?").split("[")[0]
            parts = module.split(".")
            while parts and not parts[-1].startswith("test_"):
                parts.pop()  # a test class: keep only the module
            name = "/".join(parts or module.split(".")) + ".py"
            totals[(name, half)] += float(case.get("time") or 0.0)
    return sorted(((name, half, seconds) for (name, half), seconds in totals.items()),
                  key=lambda row: -row[2])


def _print_module_times(xml_files: list[Path], top: int = 25) -> None:
    """The slowest modules of both halves, so the halves can be rebalanced (SECOND_HALF) from
    the machine CI really runs on."""
    rows = module_times(xml_files)
    if not rows:
        return
    print(f"\n=== slowest test modules (of {len(rows)}; half 1 or 2, seconds) ===")
    for half in (1, 2):
        total = sum(seconds for _, h, seconds in rows if h == half)
        print(f"  half {half}: {total:7.1f} s of tests")
    for name, half, seconds in rows[:top]:
        print(f"  {half}  {seconds:7.1f}  {name}")


def _validate() -> int:
    from tools.validate import validate

    return validate()


if __name__ == "__main__":  # pragma: no cover
    os.chdir(ROOT)
    raise SystemExit(run_checks())
