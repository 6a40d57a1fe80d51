"""`./mttq test` runs the model checks beside pytest (tools/check.py: CI's 30-minute budget);
each keeps its own result, time and output."""

from __future__ import annotations

import sys

import pytest

from tools.check import _Beside


def test_checks_beside_pytest_report_each_result_and_output(
        capsys: pytest.CaptureFixture[str]) -> None:
    beside = _Beside([
        ("passes", [sys.executable, "-c", "print('evaluated')"]),
        ("fails", [sys.executable, "-c", "import sys; print('wrong prediction'); sys.exit(3)"]),
        ("cannot start", ["/nonexistent/command"]),
    ])
    beside.start()
    results = beside.finish()
    assert [(name, ok) for name, ok, _ in results] == [
        ("passes", True), ("fails", False), ("cannot start", False)]
    assert all(seconds >= 0 for _, _, seconds in results)
    out = capsys.readouterr().out
    assert "=== passes (ran beside pytest) ===" in out and "evaluated" in out
    assert "wrong prediction" in out and "could not start" in out
