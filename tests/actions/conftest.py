"""Fixtures for action tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rasa_sdk.executor import CollectingDispatcher

from bot.db.runtime import dispose_all
from bot.settings import get_settings


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture(autouse=True)
def scratch_database(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Actions that record what citizens ask (issue 15: the digest's questions) write to a
    database; without the ``database`` fixture that is a throw-away SQLite file, never the
    checkout's ``var/feedback.db``."""
    path = tmp_path_factory.mktemp("actions-db") / "feedback.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield
    dispose_all()
    get_settings.cache_clear()
