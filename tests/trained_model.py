"""The trained model tests run against: the one `./mttq test` hands over, else the newest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools import model as models


def trained_model() -> Path:
    """The model to test; fails under CI when there is none (the test command trains one)."""
    explicit = os.environ.get("MTTQ_MODEL")
    path = Path(explicit) if explicit else models.latest_model()
    if path is None or not path.exists():
        if os.environ.get("CI"):
            pytest.fail("no trained model: `./mttq test` trains one before pytest")
        pytest.skip("no trained model (run ./mttq train)")
    return path
