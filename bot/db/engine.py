"""Engine factory and the one-session-per-unit-of-work helper.

Nothing here runs at import time: each process calls :func:`make_engine` once on start-up (after
``bot.db.migrate.upgrade_to_head``) and disposes of the engine on shutdown.

SQLite is the zero-configuration default, and the actions server and the staff service write to
the same file at once, so its connections are set up for that:

* WAL journal, so readers never block the writer;
* a busy timeout, so a writer waits for another instead of failing with "database is locked";
* ``BEGIN IMMEDIATE`` for every transaction but read-only ones. With SQLite's default deferred
  ``BEGIN`` a transaction that read first and writes later fails at once (no waiting) when another
  connection committed in between; taking the write lock up front makes writers queue on the busy
  timeout. pysqlite's own transaction handling is switched off for this (and so SAVEPOINTs work), following
  the SQLAlchemy documentation's "Serializable isolation / Savepoints / Transactional DDL" recipe;
* foreign keys enforced (SQLite leaves them off unless asked).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

#: How long a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: Execution option naming the SQLite ``BEGIN`` mode; read-only sessions use ``DEFERRED``.
SQLITE_BEGIN_OPTION = "sqlite_begin"


def make_engine(url: str | None = None, *, foreign_keys: bool = True, echo: bool = False) -> Engine:
    """Create a 2.0-style engine for ``url`` (default: ``get_settings().database_url``).

    ``foreign_keys=False`` is for migrations only: Alembic's batch mode rebuilds SQLite tables
    (create copy, drop original, rename), which enforced foreign keys would forbid or cascade.
    """
    if url is None:
        from bot.settings import get_settings

        url = get_settings().database_url
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"future": True, "echo": echo}

    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        kwargs["connect_args"] = {"check_same_thread": False}
        if in_memory:
            # One shared connection, or every checkout would see a new empty database.
            kwargs["poolclass"] = StaticPool
        else:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine, foreign_keys=foreign_keys, wal=not in_memory)
        return engine

    if parsed.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
    return create_engine(parsed, **kwargs)


def _configure_sqlite(engine: Engine, *, foreign_keys: bool, wal: bool) -> None:
    """Install the connection and transaction hooks described in the module docstring."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Take transaction control away from pysqlite: SQLAlchemy's "begin" hook below emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"unknown SQLite transaction mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """One session per unit of work: commit when the block succeeds, roll back when it raises.

    ``expire_on_commit=False`` keeps loaded attributes readable after the block, so callers can
    render what they just saved without a second query on a closed session.

    ``read_only=True`` promises the block only reads (a status lookup, a console list). On SQLite
    it then starts a deferred transaction, which neither waits for nor blocks writers under WAL;
    it has no effect on PostgreSQL.
    """
    bind = engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"}) if read_only else engine
    session = Session(bind, future=True, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
