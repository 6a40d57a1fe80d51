"""Throw-away PostgreSQL databases and Redis checks for the benchmarks and their tests.

Benchmarks that start several Rasa replicas need a real shared tracker store (PostgreSQL) and a
real lock store (Redis). Each run gets a database of its own (``CREATE DATABASE`` on the server
named by ``TEST_PG_URL``, dropped afterwards), so runs never see each other's conversations and
nothing under ``var/`` is touched.
"""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

#: The server to create databases on (the test suite's default; trust auth on loopback).
ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379


def backends_problem() -> str | None:
    """Why PostgreSQL or Redis cannot be used here, or None when both answer (the same checks
    ``./mttq prod`` makes, :mod:`tools.prod`)."""
    from tools.prod import postgres_problem, redis_problem

    return postgres_problem(ADMIN_URL) or redis_problem(f"redis://{REDIS_HOST}:{REDIS_PORT}/0")


def _safe_name(name: str) -> str:
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"not a safe database name: {name!r}")
    return name


def _as_admin(statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
    admin = create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def create_database(prefix: str) -> str:
    """Create an empty database ``<prefix>_<random>`` and return its URL."""
    name = _safe_name(f"{prefix}_{uuid.uuid4().hex[:12]}")
    _as_admin(f'CREATE DATABASE "{name}"')
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of ``url`` (closing other sessions on it first); missing is fine."""
    name = _safe_name(make_url(url).database or "")
    _as_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_tracker_tables(url: str) -> None:
    """Create Rasa's tracker store tables before any replica starts.

    Every replica runs ``create_all`` when it starts; two replicas starting at once on an empty
    database can race on ``CREATE TABLE events``. Creating them here first avoids that.
    """
    # Rasa's declarative base triggers SQLAlchemy's "2.0 migration" notice on import.
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    from rasa.core.tracker_store import SQLTrackerStore

    from bot.conversation.rasa_stores import create_snapshot_table

    engine = create_engine(url, future=True)
    try:
        SQLTrackerStore.Base.metadata.create_all(engine)
        create_snapshot_table(engine)
    finally:
        engine.dispose()


def delete_redis_keys(db: int, patterns: list[str]) -> int:
    """Delete the keys matching ``patterns`` in Redis database ``db`` (our own keys only)."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_timeout=5)
    deleted = 0
    try:
        for pattern in patterns:
            keys = list(client.scan_iter(match=pattern, count=500))
            if keys:
                deleted += int(client.delete(*keys))
    finally:
        client.close()
    return deleted
