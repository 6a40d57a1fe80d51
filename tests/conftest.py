"""Shared fixtures. Database fixtures: every DB test runs on SQLite and on PostgreSQL.

* SQLite: a fresh file under the test's ``tmp_path``.
* PostgreSQL (``TEST_PG_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``): a fresh
  schema per test, selected with ``search_path`` and dropped afterwards, so several people and CI
  jobs can share one server without seeing each other's tables.

When PostgreSQL is unreachable the PostgreSQL half is skipped locally, but fails when ``CI`` is set:
CI must never pass by silently testing one database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# The outbox worker posts each unit's morning summary after 07:30; tests that count what reaches a
# Telegram group (and the services they start) would see it depending on the hour they run.
# tests/notify/test_daily_summary.py turns it on where it is the subject.
os.environ.setdefault("DAILY_SUMMARY_AT", "off")
os.environ.setdefault("WEEKLY_DIGEST_AT", "off")  # tests/notify/test_weekly_digest.py: on there

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

PG_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SAMPLE_UNITS = Path(__file__).resolve().parent.parent / "content" / "units.sample.yml"


@lru_cache(maxsize=1)
def _postgres_problem() -> str | None:
    """None when PostgreSQL answers, else why not (checked once per test session)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_URL, future=True, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure means "not usable here"
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return f"PostgreSQL at {PG_URL} is unreachable: {type(exc).__name__}: {first_line}"
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (no tables), on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'feedback.db'}"
        return

    problem = _postgres_problem()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{problem} (CI is set, so PostgreSQL tests must run)")
        pytest.skip(problem)

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL, future=True)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``DATABASE_URL`` set to a fresh database of each backend, with the settings cache and the
    process's engines (``bot.db.runtime``) dropped before and after, so code that finds its
    database through the settings (the actions, ``bot.cases.citizen``) uses this one."""
    from bot.db.runtime import dispose_all
    from bot.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    dispose_all()
    yield db_url
    dispose_all()
    get_settings.cache_clear()


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    from bot.db.engine import make_engine
    from bot.db.migrate import upgrade_to_head

    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def seeded_engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url`` that does not migrate: the staff and browser tests' app migrates
    the database when its server starts, and the tests seed staff and cases through this engine
    afterwards (unlike ``db_engine``, which migrates first)."""
    from bot.db.engine import make_engine

    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db_with_units(db_engine: Engine) -> Engine:
    """``db_engine`` with the sample unit tree synced into ``units``."""
    from bot.db.engine import session_scope
    from bot.knowledge.unit_sync import sync_units
    from bot.knowledge.units import load_units

    with session_scope(db_engine) as session:
        sync_units(session, load_units(SAMPLE_UNITS))
    return db_engine
