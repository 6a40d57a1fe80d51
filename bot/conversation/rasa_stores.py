"""Rasa tracker and lock stores configured from :mod:`bot.settings`.

``endpoints.yml`` names these classes instead of spelling out hosts and passwords, so one
environment variable (``TRACKER_STORE_URL``, ``LOCK_STORE_URL``) switches between the embedded
default (a SQLite file, an in-process lock) and production (PostgreSQL, Redis).

Note: Rasa silently falls back to an in-memory tracker store when a custom class cannot be
imported; ``tests/unit/test_rasa_stores.py`` guards against that.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from bot.conversation import rasa_patches
from bot.settings import get_settings

# Rasa imports this module at start-up: the right moment to remove repeated per-message work.
rasa_patches.install()

logger = logging.getLogger(__name__)
T = TypeVar("T")


def tracker_store_kwargs(url: str) -> dict[str, Any]:
    """Translate a SQLAlchemy URL into ``SQLTrackerStore`` keyword arguments."""
    parsed = make_url(url)
    dialect = parsed.get_backend_name()
    if dialect == "sqlite":
        return {"dialect": "sqlite", "db": parsed.database or "rasa.db"}
    kwargs: dict[str, Any] = {
        "dialect": parsed.drivername,
        "host": parsed.host,
        "port": parsed.port,
        "db": parsed.database,
        "username": parsed.username,
        "password": parsed.password,
    }
    if parsed.query:  # sslmode, options=-csearch_path=…: dropping them would talk elsewhere
        kwargs["query"] = dict(parsed.query)
    return kwargs


#: Transient database failures (a PostgreSQL restart, a dropped connection) are retried for about
#: this long before the turn fails; a citizen waits a moment rather than losing the turn.
RETRY_SECONDS = 4.0
_RETRY_DELAYS = (0.1, 0.3, 0.6, 1.0, 2.0)


class TrackerStoreUnavailable(RuntimeError):
    """The conversation database stayed unreachable for the whole retry window."""


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL lets reads run beside a write, ``synchronous=NORMAL`` drops the fsync per commit
    (WAL stays consistent after a crash; at worst the last turns of a power cut are lost, never
    a case: cases live in the feedback DB), and ``busy_timeout`` waits for a lock instead of
    failing when the staff tools read the same file."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class SettingsTrackerStore(SQLTrackerStore):
    """A SQL tracker store whose database is ``TRACKER_STORE_URL`` (SQLite by default).

    Beyond Rasa's ``SQLTrackerStore``: connections are checked before use (a restarted
    PostgreSQL costs no failed turn), transient failures are retried for ``RETRY_SECONDS``, and
    a store that stays down *fails the turn* instead of Rasa's default of silently continuing
    with an empty in-memory conversation (``fail_loudly``, honoured by
    :mod:`bot.conversation.rasa_patches`): a citizen in the middle of a petition is told to try again rather
    than finding the assistant has forgotten everything.
    """

    #: Read by bot.conversation.rasa_patches: errors of this store propagate instead of being swallowed.
    fail_loudly = True

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
        self._tune_engine()

    def _tune_engine(self) -> None:
        """Rebuild Rasa's engine with what a busy replica needs (Rasa offers no options).

        SQLite: a small pool of connections opened once with :func:`_sqlite_pragmas` (Rasa's
        SQLAlchemy 1.4 default opens and closes a connection for every retrieve and save).
        PostgreSQL: pre-ping, so connections a database restart broke are replaced before a turn
        uses them.
        """
        import sqlalchemy as sa
        from rasa.core.tracker_store import create_engine_kwargs

        engine: Any = self.engine  # type: ignore[has-type]
        url = engine.url
        engine.dispose()
        if engine.dialect.name == "sqlite":
            self.engine = sa.create_engine(
                url,
                poolclass=sa.pool.QueuePool,
                pool_size=4,
                connect_args={"check_same_thread": False},
            )
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _with_retries(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        from sqlalchemy.exc import DBAPIError, OperationalError

        started = time.monotonic()
        for delay in (*_RETRY_DELAYS, None):
            try:
                return await operation()
            except (OperationalError, DBAPIError) as error:
                if isinstance(error, DBAPIError) and not (
                    isinstance(error, OperationalError) or error.connection_invalidated
                ):
                    raise  # a real SQL error, not an outage: retrying cannot help
                elapsed = time.monotonic() - started
                if delay is None or elapsed + delay > RETRY_SECONDS:
                    raise TrackerStoreUnavailable(
                        f"conversation database unreachable for {elapsed:.1f} s during {what}: "
                        f"{error.orig or error}"
                    ) from error
                logger.warning(
                    "tracker store %s failed (%s); retrying", what, error.orig or error
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._with_retries(
            "retrieve", lambda: SQLTrackerStore.retrieve(self, sender_id)
        )

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        return await self._with_retries(
            "retrieve", lambda: SQLTrackerStore.retrieve_full_tracker(self, conversation_id)
        )

    async def save(self, tracker: DialogueStateTracker) -> None:
        # Safe to repeat: a save stores only the events beyond those already in the database, so
        # a retry after a commit whose acknowledgement was lost adds nothing twice.
        await self._with_retries("save", lambda: self._save_and_publish(tracker))

    async def _save_and_publish(self, tracker: DialogueStateTracker) -> None:
        """Rasa's ``SQLTrackerStore.save`` without its second read of the conversation.

        Rasa's ``save`` first calls ``stream_events``, which retrieves and deserialises the whole
        stored conversation again only to find the new events for the event broker (our metrics
        broker, ``endpoints.yml``), then counts the stored events once more to insert the same
        ones. Here the count is taken once, the new events are inserted as Rasa inserts them, and
        exactly those are published, after the commit (Rasa publishes before it, so a failed save
        published events that were never stored).
        """
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
            for event in new_events:
                data = event.as_dict()
                intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=intent,
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
        if self.event_broker is not None and new_events:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)


class SettingsLockStore:
    """Factory Rasa instantiates for ``lock_store``: the lock store ``LOCK_STORE_URL`` asks for.

    Without a URL, Rasa's in-process lock store (correct for one Rasa process). With a
    ``redis://`` URL, :class:`bot.conversation.redis_lock.RedisMutexLockStore`, which stays correct across
    several replicas where Rasa 3.6's own ``RedisLockStore`` loses events (RasaHQ/rasa#9213).
    Both come with turn tracking (:class:`bot.observability.rasa_events.TurnTracking`): the log
    lines of a turn carry its conversation id, and the turn is timed for ``/metrics``.
    """

    def __new__(cls, endpoint_config: EndpointConfig | None = None) -> LockStore:  # type: ignore[misc]
        from bot.observability.rasa_events import (
            TrackedInMemoryLockStore,
            TrackedRedisMutexLockStore,
        )

        url = get_settings().lock_store_url
        if not url:
            return TrackedInMemoryLockStore()
        if url.startswith(("redis://", "rediss://", "unix://")):
            return TrackedRedisMutexLockStore(url)
        raise ValueError(f"LOCK_STORE_URL must be empty or a redis:// URL, not {url!r}")
