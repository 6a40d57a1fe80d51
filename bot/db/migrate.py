"""Bring a database to the current schema; every process that uses the DB calls this on start-up.

``upgrade_to_head`` is idempotent and safe when several processes start at once (actions server,
staff service, a CLI): migrations run in one transaction that first takes a lock —
``pg_advisory_xact_lock`` on PostgreSQL, the ``BEGIN IMMEDIATE`` write lock on SQLite (see
``bot.db.engine``) — so the second process waits, then finds the schema already at head.

Alembic keeps its state in module-level proxies (``alembic.context``, ``alembic.op``), so it is not
thread-safe; a process-wide lock serialises calls from threads of one process.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Arbitrary but fixed key for ``pg_advisory_xact_lock`` ("MTTQ" in ASCII, then 1).
PG_MIGRATION_LOCK_KEY = 0x4D54_5451_0001

_process_lock = threading.Lock()


def _resolve(url: str | None) -> str:
    if url:
        return url
    from bot.settings import get_settings

    return get_settings().database_url


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for ``url`` that works from any working directory, without alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not a main option: ConfigParser would treat "%" in URLs as syntax.
    config.attributes["url"] = _resolve(url)
    config.attributes["configure_logger"] = False
    return config


def upgrade_to_head(url: str | None = None) -> None:
    """Migrate the database at ``url`` (default: the configured one) to the newest revision."""
    upgrade_to(url, "head")


def upgrade_to(url: str | None, revision: str) -> None:
    """Migrate up to ``revision`` (tests use this to build an older schema)."""
    with _process_lock:
        command.upgrade(alembic_config(url), revision)


def downgrade_to(url: str | None, revision: str) -> None:
    """Migrate down to ``revision`` (``"base"`` drops everything)."""
    with _process_lock:
        command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest revision id shipped with the code."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the connected database is at (None for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def take_migration_lock(connection: Connection) -> None:
    """Serialise migrations across processes for the rest of ``connection``'s transaction.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the transaction already holds the
    database write lock (``BEGIN IMMEDIATE``), which is all the serialisation SQLite needs.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK_KEY}
        )


def check_sqlite_foreign_keys(connection: Connection) -> None:
    """Refuse to commit a SQLite migration that left dangling references.

    Migrations run with foreign keys off (batch table rebuilds need it), so check them afterwards.
    """
    if connection.dialect.name != "sqlite":
        return
    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise RuntimeError(f"migration left foreign-key violations: {problems[:5]!r}")
