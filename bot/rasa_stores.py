"""Rasa tracker and lock stores configured from :mod:`bot.settings`.

``endpoints.yml`` names these classes instead of spelling out hosts and passwords, so one
environment variable (``TRACKER_STORE_URL``, ``LOCK_STORE_URL``) switches between the embedded
default (a SQLite file, an in-process lock) and production (PostgreSQL, Redis).

Note: Rasa silently falls back to an in-memory tracker store when a custom class cannot be
imported; ``tests/unit/test_rasa_stores.py`` guards against that.
"""

from __future__ import annotations

from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from bot.settings import get_settings


def tracker_store_kwargs(url: str) -> dict[str, Any]:
    """Translate a SQLAlchemy URL into ``SQLTrackerStore`` keyword arguments."""
    parsed = make_url(url)
    dialect = parsed.get_backend_name()
    if dialect == "sqlite":
        return {"dialect": "sqlite", "db": parsed.database or "rasa.db"}
    return {
        "dialect": parsed.drivername,
        "host": parsed.host,
        "port": parsed.port,
        "db": parsed.database,
        "username": parsed.username,
        "password": parsed.password,
    }


class SettingsTrackerStore(SQLTrackerStore):
    """A SQL tracker store whose database is ``TRACKER_STORE_URL`` (SQLite by default)."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        url = get_settings().tracker_store_url
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(domain=domain, event_broker=event_broker, **tracker_store_kwargs(url))


class SettingsLockStore:
    """Factory Rasa instantiates for ``lock_store``: the lock store ``LOCK_STORE_URL`` asks for.

    Without a URL, Rasa's in-process lock store (correct for one Rasa process). With a
    ``redis://`` URL, :class:`bot.redis_lock.RedisMutexLockStore`, which stays correct across
    several replicas where Rasa 3.6's own ``RedisLockStore`` loses events (RasaHQ/rasa#9213).
    """

    def __new__(cls, endpoint_config: EndpointConfig | None = None) -> LockStore:  # type: ignore[misc]
        url = get_settings().lock_store_url
        if not url:
            return InMemoryLockStore()
        if url.startswith(("redis://", "rediss://", "unix://")):
            from bot.redis_lock import RedisMutexLockStore

            return RedisMutexLockStore(url)
        raise ValueError(f"LOCK_STORE_URL must be empty or a redis:// URL, not {url!r}")
