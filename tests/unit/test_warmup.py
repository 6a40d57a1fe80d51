"""The action server's warm-up loads everything once and survives a database that is down."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation import warmup
from bot.settings import get_settings


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'feedback.db'}")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_every_step_loads(settings_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    timings = warmup.warm_action_server()
    assert set(timings) == {"knowledge base", "units", "moderation rules", "feedback database"}
    assert (tmp_path / "feedback.db").exists()


def test_a_database_that_is_down_does_not_stop_the_rest(
    settings_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings_env.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()
    timings = warmup.warm_action_server()
    assert "feedback database" not in timings
    assert {"knowledge base", "units", "moderation rules"} <= set(timings)
    assert "loads on first use" in caplog.text
