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


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"


def postgres_problem(url: str = ADMIN_URL) -> str | None:
    """None when PostgreSQL answers, else why not."""
    engine = create_engine(url, future=True, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure means "not usable here"
        return f"PostgreSQL at {url} is unreachable: {_first_line(exc)}"
    finally:
        engine.dispose()


def redis_problem(host: str = REDIS_HOST, port: int = REDIS_PORT) -> str | None:
    """None when Redis answers PING, else why not."""
    import redis

    client = redis.Redis(host=host, port=port, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
        return None
    except Exception as exc:
        return f"Redis at {host}:{port} is unreachable: {_first_line(exc)}"
    finally:
        client.close()


def backends_problem() -> str | None:
    """Why PostgreSQL or Redis cannot be used here, or None when both answer."""
    return postgres_problem() or redis_problem()


def create_database(prefix: str) -> str:
    """Create an empty database ``<prefix>_<random>`` and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a safe database name: {name!r}")
    admin = create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of ``url`` (closing other sessions on it first); missing is fine."""
    name = make_url(url).database or ""
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"not a safe database name: {name!r}")
    admin = create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def create_tracker_tables(url: str) -> None:
    """Create Rasa's tracker store tables before any replica starts.

    Every replica runs ``create_all`` when it starts; two replicas starting at once on an empty
    database can race on ``CREATE TABLE events``. Creating them here first avoids that.
    """
    # Rasa's declarative base triggers SQLAlchemy's "2.0 migration" notice on import.
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    from rasa.core.tracker_store import SQLTrackerStore

    engine = create_engine(url, future=True)
    try:
        SQLTrackerStore.Base.metadata.create_all(engine)
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
