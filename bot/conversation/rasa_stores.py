"""Rasa tracker and lock stores configured from :mod:`bot.settings`.

``endpoints.yml`` names these classes instead of spelling out hosts and passwords, so one
environment variable (``TRACKER_STORE_URL``, ``LOCK_STORE_URL``) switches between the embedded
default (a SQLite file, an in-process lock) and production (PostgreSQL, Redis).

Note: Rasa silently falls back to an in-memory tracker store when a custom class cannot be
imported; ``tests/unit/test_rasa_stores.py`` guards against that.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from bot.conversation import rasa_patches, tracker_tail
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


#: One row per conversation: the prefix events (JSON) standing for its stored events up to
#: ``upto_id`` in the session that started at ``session_start``
#: (:mod:`bot.conversation.tracker_tail`).
#: Derived data: deleting a row only makes the next turn read the whole session once.
_METADATA = sqlalchemy.MetaData()
SNAPSHOTS = sqlalchemy.Table(
    "tracker_snapshots",
    _METADATA,
    sqlalchemy.Column("sender_id", sqlalchemy.String(255), primary_key=True),
    sqlalchemy.Column("session_start", sqlalchemy.Float, nullable=True),
    sqlalchemy.Column("upto_id", sqlalchemy.Integer, nullable=False),
    sqlalchemy.Column("data", sqlalchemy.Text, nullable=False),
)


def create_snapshot_table(engine: Any) -> None:
    """Create ``tracker_snapshots`` beside Rasa's ``events`` (as Rasa creates its own tables);
    a replica starting at the same moment may have created it first."""
    from sqlalchemy.exc import DatabaseError

    try:
        _METADATA.create_all(engine, checkfirst=True)
    except DatabaseError:
        if not sqlalchemy.inspect(engine).has_table("tracker_snapshots"):
            raise
    # A turn reads and counts the events after a snapshot's last one: with (sender_id, id) that is
    # a range of the index, where Rasa's index on sender_id alone visits every event of the
    # conversation (PostgreSQL; SQLite's index carries the id already).
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(
                "CREATE INDEX IF NOT EXISTS ix_events_sender_id_id ON events (sender_id, id)"))
    except DatabaseError:  # created by a replica starting at the same moment
        logger.info("index ix_events_sender_id_id: created elsewhere meanwhile")


#: How long a starting replica waits for its conversation database (Rasa's own constructor waits
#: forever; ours must not give up sooner than a PostgreSQL restart takes).
STARTUP_WAIT_SECONDS = 120.0


def _wait_for_database(create: Callable[[], None], wait: float = STARTUP_WAIT_SECONDS) -> None:
    """Run ``create`` until the database answers, for up to ``wait`` seconds.

    Why: a replica restarted while PostgreSQL restarts ("the database system is shutting down")
    used to die at start-up on creating its own table, and stayed down until someone restarted it
    (seen in ``bench.load --faults`` on a busy machine, where the two restarts overlapped).
    """
    from sqlalchemy.exc import OperationalError

    deadline = time.monotonic() + wait
    while True:
        try:
            create()
            return
        except OperationalError as error:
            if time.monotonic() >= deadline:
                raise
            logger.warning("conversation database not reachable at start-up (%s); retrying",
                           error.orig or error)
            time.sleep(2.0)


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
        _wait_for_database(lambda: create_snapshot_table(self.engine))

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
        """The conversation's latest session as a bounded tail
        (:mod:`bot.conversation.tracker_tail`): one snapshot row and the events after it, never
        the whole session."""
        return await self._with_retries("retrieve", lambda: self._retrieve_tail(sender_id))

    async def _retrieve_tail(self, sender_id: str) -> DialogueStateTracker | None:
        import sqlalchemy as sa
        from rasa.shared.core.events import deserialise_events

        stored: Any = self.SQLEvent

        def latest_session_start(*after: Any) -> float | None:
            return session.execute(
                sa.select(sa.func.max(stored.timestamp)).where(
                    stored.sender_id == sender_id,
                    stored.type_name == SessionStarted.type_name,
                    *after,
                )
            ).scalar()

        with self.session_scope() as session:
            snapshot = session.execute(
                sa.select(SNAPSHOTS.c.session_start, SNAPSHOTS.c.upto_id, SNAPSHOTS.c.data)
                .where(SNAPSHOTS.c.sender_id == sender_id)
            ).first()
            # A session started since the snapshot makes it stale; the events it stands for held
            # the latest session start when it was written. Both reads touch the tail only.
            newer = latest_session_start(stored.id > snapshot.upto_id) if snapshot else None
            usable = snapshot is not None and newer is None
            session_start = snapshot.session_start if usable else (
                newer if newer is not None else latest_session_start())
            query = sa.select(stored.id, stored.data).where(stored.sender_id == sender_id)
            if usable:
                query = query.where(stored.id > snapshot.upto_id)
            elif session_start is not None:  # Rasa's rule: from the latest session start on
                query = query.where(stored.timestamp >= session_start)
            rows = session.execute(query.order_by(stored.id)).all()
        if not rows and not usable:
            return None
        prefix = deserialise_events(json.loads(snapshot.data)) if usable else []
        tail = deserialise_events([json.loads(row.data) for row in rows])
        if len(tail) != len(rows):  # an event Rasa cannot read: let Rasa's own reader decide
            return await SQLTrackerStore.retrieve(self, sender_id)
        slots = self.domain.slots if self.domain else None
        cut = tracker_tail.cut_index(tail)
        if cut is not None:
            state = DialogueStateTracker.from_events(sender_id, prefix + tail[:cut], slots)
            if state.active_loop is None:  # what cut_index read from the events, replayed
                upto = rows[cut - 1].id
                prefix = tracker_tail.prefix_events(state, prefix + tail[:cut], upto,
                                                    tail[cut].timestamp)
                tail = tail[cut:]
                self._store_snapshot(sender_id, session_start, upto, prefix)
        return DialogueStateTracker.from_events(sender_id, prefix + tail, slots)

    def _store_snapshot(self, sender_id: str, session_start: float | None, upto: int,
                        prefix: list[Any]) -> None:
        """Replace the conversation's snapshot. Written from stored events only (never from a
        tracker in the middle of a turn), so an erasure that deletes it is not undone."""
        import sqlalchemy as sa
        from sqlalchemy.exc import IntegrityError

        data = json.dumps([event.as_dict() for event in prefix])
        try:
            with self.engine.begin() as connection:
                connection.execute(SNAPSHOTS.delete().where(SNAPSHOTS.c.sender_id == sender_id))
                connection.execute(sa.insert(SNAPSHOTS).values(
                    sender_id=sender_id, session_start=session_start, upto_id=upto, data=data))
        except IntegrityError:  # a concurrent read wrote one first: either is right
            logger.info("snapshot of a conversation written concurrently; kept the other")

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
            new_events = list(self._new_events(session, tracker))
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


    def _new_events(self, session: Any, tracker: DialogueStateTracker) -> list[Any]:
        """The tracker's events not stored yet. A tracker with a prefix: its events after the
        prefix, beyond those stored after the prefix's last event; otherwise Rasa's count."""
        import sqlalchemy as sa

        upto, length = tracker_tail.prefix_length(tracker.events)
        if upto is None:
            return list(self._additional_events(session, tracker))
        stored: Any = self.SQLEvent
        count = session.execute(
            sa.select(sa.func.count()).select_from(stored)
            .where(stored.sender_id == tracker.sender_id, stored.id > upto)
        ).scalar()
        return list(itertools.islice(tracker.events, length + int(count or 0), None))


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
