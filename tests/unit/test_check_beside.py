"""`./mttq test` runs the model checks beside pytest (tools/check.py: CI's 30-minute budget);
each keeps its own result, time and output."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tools.check import SECOND_HALF, _Beside


def test_checks_beside_pytest_report_each_result_and_output(
        capsys: pytest.CaptureFixture[str]) -> None:
    beside = _Beside([
        ("passes", [sys.executable, "-c", "print('evaluated')"], None),
        ("fails", [sys.executable, "-c", "import sys; print('wrong prediction'); sys.exit(3)"],
         None),
        ("cannot start", ["/nonexistent/command"], None),
        ("sees its environment",
         [sys.executable, "-c", "import os, sys; sys.exit(os.environ['MTTQ_MODEL'] != 'm')"],
         {"MTTQ_MODEL": "m"}),
    ])
    beside.start()
    results = beside.finish()
    assert [(name, ok) for name, ok, _ in results] == [
        ("passes", True), ("fails", False), ("cannot start", False),
        ("sees its environment", True)]
    assert all(seconds >= 0 for _, _, seconds in results)
    out = capsys.readouterr().out
    assert "=== passes (ran beside the first pytest) ===" in out and "evaluated" in out
    assert "wrong prediction" in out and "could not start" in out


def test_the_second_half_is_whole_test_folders_that_exist() -> None:
    """The first pytest ignores exactly these folders and the second runs them: a misspelt or
    removed folder would make the second fail to collect, a nested one could run twice."""
    from bot.settings import ROOT

    for folder in SECOND_HALF:
        path = ROOT / folder
        assert path.is_dir() and path.parent == ROOT / "tests", folder
        assert any(path.glob("test_*.py")), folder
    assert len(set(SECOND_HALF)) == len(SECOND_HALF)


def test_module_times_sum_each_module_of_each_half(tmp_path: Path) -> None:
    from tools.check import module_times

    first, second = tmp_path / "first.xml", tmp_path / "second.xml"
    first.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.unit.test_a" name="test_x" time="1.5"/>'
        '<testcase classname="tests.unit.test_a" name="test_y[p1]" time="2.0"/>'
        '<testcase classname="tests.server.test_b.TestGroup" name="test_z" time="9.0"/>'
        '</testsuite></testsuites>', encoding="utf-8")
    second.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.e2e.test_c" name="test_w" time="4.25"/>'
        '</testsuite></testsuites>', encoding="utf-8")
    rows = module_times([first, second, tmp_path / "missing.xml"])
    assert rows == [("tests/server/test_b.py", 1, 9.0), ("tests/e2e/test_c.py", 2, 4.25),
                    ("tests/unit/test_a.py", 1, 3.5)]
