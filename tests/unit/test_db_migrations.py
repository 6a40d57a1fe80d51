"""Migrations build the schema the models describe, from empty and from the previous revision."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine
from bot.db.migrate import (
    current_revision,
    downgrade_to,
    head_revision,
    upgrade_to,
    upgrade_to_head,
)
from bot.db.models import metadata

ROOT = Path(__file__).resolve().parents[2]

#: Every table the models declare: head must create exactly these (later revisions add some).
ALL_TABLES = set(metadata.tables)
#: The core tables of the first revisions, which every later schema still has.
CORE_TABLES = {
    "units", "staff", "cases", "case_attachments", "case_events", "outbox", "seen_messages",
    "ref_counters", "quarantine",
}


def _diff(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "target_metadata": metadata}
        )
        return list(compare_metadata(context, metadata))


def _revision(engine: Engine) -> Any:
    with engine.connect() as connection:
        return current_revision(connection)


def _tables(engine: Engine) -> set:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_core_tables_are_declared() -> None:
    assert CORE_TABLES <= ALL_TABLES


def test_head_is_the_newest_revision_file() -> None:
    """Revisions are numbered files; the chain must end at the newest one (no forgotten link)."""
    versions = Path(__file__).resolve().parents[2] / "bot" / "db" / "migrations" / "versions"
    newest = sorted(p.name for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))[-1]
    assert head_revision() == newest.split("_")[0]


def test_upgrade_from_empty_to_head_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert _tables(engine) == set()
        upgrade_to_head(db_url)
        assert _revision(engine) == head_revision()
        assert _tables(engine) == ALL_TABLES
        assert _diff(engine) == []
        upgrade_to_head(db_url)  # idempotent: a second start-up changes nothing
        assert _revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_from_previous_revision_keeps_data(db_url: str) -> None:
    upgrade_to(db_url, "0001")
    engine = make_engine(db_url)
    try:
        assert _revision(engine) == "0001"
        assert "quarantine" not in _tables(engine)
        assert _diff(engine) != []  # the comparison does notice a missing table and index
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO units (code, name, level, active)"
                    " VALUES ('hn', 'Hà Nội', 'province', true)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO cases (ref_code, kind, content, unit_code, channel,"
                    " channel_user_id, consent, status, anonymised, created_at, updated_at)"
                    " VALUES ('KN-2611-0001', 'petition', 'Đèn đường hỏng 💡', 'hn', 'web',"
                    " 'u1', false, 'new', false, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
                )
            )
        upgrade_to_head(db_url)
        assert _revision(engine) == head_revision()
        assert _tables(engine) == ALL_TABLES
        assert _diff(engine) == []
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT ref_code, content FROM cases")).all()
        assert [tuple(r) for r in rows] == [("KN-2611-0001", "Đèn đường hỏng 💡")]
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(db_url: str) -> None:
    upgrade_to_head(db_url)
    downgrade_to(db_url, "0001")
    engine = make_engine(db_url)
    try:
        assert "quarantine" not in _tables(engine)
        downgrade_to(db_url, "base")
        assert _tables(engine) == set()
        upgrade_to_head(db_url)
        assert _tables(engine) == ALL_TABLES
    finally:
        engine.dispose()


def test_processes_starting_at_once_all_migrate_safely(db_url: str) -> None:
    code = "import sys; from bot.db.migrate import upgrade_to_head; upgrade_to_head(sys.argv[1])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, db_url],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = [(p.wait(timeout=120), p.stderr.read().decode() if p.stderr else "") for p in procs]
    assert [rc for rc, _ in results] == [0, 0, 0], results
    engine = make_engine(db_url)
    try:
        assert _revision(engine) == head_revision()
        assert _tables(engine) == ALL_TABLES
    finally:
        engine.dispose()


def test_alembic_command_line_uses_ini_and_x_url(db_url: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic",
            "-c",
            str(ROOT / "alembic.ini"),
            "-x",
            f"url={db_url}",
            "upgrade",
            "head",
        ],
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},  # alembic.ini puts the checkout on sys.path
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    engine = make_engine(db_url)
    try:
        assert _revision(engine) == head_revision()
    finally:
        engine.dispose()


@pytest.mark.parametrize("revision", ["0001", "0002"])
@pytest.mark.parametrize("offline_url", ["sqlite:///offline.db", "postgresql://offline/db"])
def test_offline_sql_renders(offline_url: str, revision: str) -> None:
    """``alembic upgrade --sql`` works for DBAs who apply migrations by hand (no connection)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic",
            "-c",
            str(ROOT / "alembic.ini"),
            "-x",
            f"url={offline_url}",
            "upgrade",
            f"base:{revision}",
            "--sql",
        ],
        cwd="/",
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE cases" in result.stdout
    assert ("CREATE TABLE quarantine" in result.stdout) == (revision == "0002")
