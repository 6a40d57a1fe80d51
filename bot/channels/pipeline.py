"""What happens to a webhook event between its arrival and the end of its turn.

Kept apart from :mod:`bot.channels.webhook` (the Rasa channel plumbing: routes, body limits,
parsing, acknowledgement, sending) because none of this knows about Sanic or a platform: it is
the machinery the acknowledgement hands events to, driven (and tested) without a request.

* de-duplication: :class:`Admitter` records the ids of concurrent deliveries in one transaction
  (:func:`bot.channels.store.admit`); a redelivered id comes back False;
* ordering and turn slots: :class:`ConversationQueues` runs each conversation's events in arrival
  order, conversations concurrently, at most :func:`~bot.settings.channel_concurrent_turns` turns
  at once, each after the acknowledgements in flight (:data:`ACK_GATE`, shared with the REST
  channel);
* running the turn: :func:`run_retrying_outages` tries a turn again while the shared stores are
  away (the webhook was acknowledged already);
* draining: :meth:`ConversationQueues.close` lets queued turns finish at shutdown;
* the small DB calls of all this run on the event loop (:class:`LoopDatabase`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot.channels import store
from bot.observability.logs import CONVERSATION_ID
from bot.settings import channel_concurrent_turns

logger = logging.getLogger(__name__)

__all__ = [
    "ACK_GATE",
    "DRAIN_SECONDS",
    "MAX_PENDING",
    "AckGate",
    "Admitter",
    "ConversationQueues",
    "LoopDatabase",
    "feedback_engine",
    "is_store_outage",
    "run_retrying_outages",
]

#: Queued events beyond this make the webhook answer 503 (the platform retries later).
MAX_PENDING = 10_000
#: How long shutdown waits for queued conversations to finish.
DRAIN_SECONDS = 10.0


class AckGate:
    """Webhook acknowledgements go first: no turn starts while webhooks are being answered.

    Rasa runs a turn's NLU, policies and tracker store on the web server's event loop, so a turn
    that starts while deliveries arrive makes them wait for its CPU time. A turn waits until no
    webhook has been in flight for ``grace`` seconds (deliveries of a burst arrive over several
    loop iterations), but at most ``max_wait`` seconds, so a stream of webhooks cannot starve it.
    One gate serves every channel of the process (they share the loop).
    """

    def __init__(self, grace: float = 0.01, max_wait: float = 0.25) -> None:
        self.grace = grace
        self.max_wait = max_wait
        self.inflight = 0
        self.last_leave = 0.0

    def enter(self) -> None:
        self.inflight += 1

    def leave(self) -> None:
        self.inflight = max(0, self.inflight - 1)
        self.last_leave = time.monotonic()

    def busy(self) -> bool:
        return self.inflight > 0 or time.monotonic() - self.last_leave < self.grace

    async def wait_quiet(self) -> None:
        deadline = time.monotonic() + self.max_wait
        while self.busy() and time.monotonic() < deadline:
            await asyncio.sleep(self.grace / 2)


#: The process's gate (see :class:`AckGate`).
ACK_GATE = AckGate()


#: SQLite: how long a write on the event loop waits for another process's write lock before it is
#: handed to a worker thread (which waits as long as the engine allows).
LOOP_BUSY_TIMEOUT_MS = 20

T = TypeVar("T")


class LoopDatabase:
    """Runs the channels' small DB calls on the event loop, falling back to a worker thread.

    Rasa's own SQL tracker store works on the loop too. In a worker thread these calls would
    compete for the GIL with the turns Rasa runs on the loop, and every statement would wait for
    the interpreter's switch interval (measured: 5–10 times slower under load). On SQLite the
    loop's connection gives up after :data:`LOOP_BUSY_TIMEOUT_MS` when another process (the action
    server, the staff service) holds the write lock, and the call is then made from a worker
    thread, so the loop never waits on a lock. Until :meth:`prepare` ran (start-up, in a thread:
    it may migrate the DB) every call goes to a thread.
    """

    def __init__(self, *, on_loop: bool = True) -> None:
        self.on_loop = on_loop
        self._engine: Engine | None = None
        self._url: str | None = None

    def prepare(self) -> None:
        engine = feedback_engine()
        url = engine.url.render_as_string(hide_password=False)
        if not self.on_loop or (self._engine is not None and self._url == url):
            return
        self.close()
        from sqlalchemy import create_engine
        from sqlalchemy.pool import QueuePool

        if engine.dialect.name != "sqlite":
            # Its own small pool, and a connect timeout: the loop must not hang on a dead server.
            self._engine = create_engine(url, future=True, pool_pre_ping=True, pool_size=2,
                                         max_overflow=2, connect_args={"connect_timeout": 3})
            self._url = url
            return
        # The project's engines open a new SQLite connection per transaction (SQLAlchemy 1.4's
        # NullPool for files), which doubles the cost of a small write; this one keeps its
        # connections, with the same connection and transaction set-up (bot.db.engine).
        from bot.db.engine import _configure_sqlite

        fast = create_engine(url, future=True, poolclass=QueuePool, pool_size=1, max_overflow=4,
                             connect_args={"check_same_thread": False})
        _configure_sqlite(fast, foreign_keys=True, wal=True)

        @sa_event.listens_for(fast, "connect")
        def _short_busy_timeout(dbapi_connection: Any, connection_record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {LOOP_BUSY_TIMEOUT_MS}")
            finally:
                cursor.close()

        self._engine, self._url = fast, url

    def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        self.prepare()
        return function(feedback_engine(), *args)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(engine, *args)``: on the loop when it can, else in a thread."""
        engine = self._engine
        if engine is not None:
            try:
                return function(engine, *args)
            except OperationalError as error:
                if engine.dialect.name != "sqlite" or "locked" not in str(error).lower():
                    raise
        return await asyncio.to_thread(self._in_thread, function, *args)


class Admitter:
    """Records the arrivals of concurrent webhooks together (a group commit).

    A transaction's commit, not its statements, is what costs; deliveries arriving together are
    written in one transaction: while one is written, new arrivals wait for the next.
    """

    def __init__(self, channel: str, db: LoopDatabase) -> None:
        self.channel = channel
        self.db = db
        self._pending: list[tuple[list[store.Arrival], asyncio.Future[list[bool]]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def admit(self, arrivals: Sequence[store.Arrival]) -> list[bool]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bool]] = loop.create_future()
        self._pending.append((list(arrivals), future))
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            self._writer = loop.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            flat = [arrival for arrivals, _ in batch for arrival in arrivals]
            try:
                fresh = await self.db.call(store.admit, self.channel, flat)
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            start = 0
            for arrivals, future in batch:
                if not future.done():
                    future.set_result(fresh[start:start + len(arrivals)])
                start += len(arrivals)


#: Pauses before trying a turn again when a shared store (the Redis lock, the conversation
#: database) was unreachable: the webhook was acknowledged already, so giving up would lose the
#: citizen's message. About 12 s in all covers a restart of either.
OUTAGE_RETRY_DELAYS = (1.0, 3.0, 8.0)


def is_store_outage(error: BaseException) -> bool:
    """True for the failures that mean "the shared stores are away", not "this turn is bad"."""
    import redis
    from rasa.core.lock_store import LockError

    from bot.conversation.rasa_stores import TrackerStoreUnavailable

    return isinstance(
        error, (LockError, TrackerStoreUnavailable, redis.ConnectionError, redis.TimeoutError)
    )


async def run_retrying_outages(key: str, run: Callable[[], Awaitable[None]]) -> None:
    """Run one turn; when the stores are away, wait and run it again (in order: the
    conversation's queue waits too). Other errors, and the last outage, propagate."""
    for delay in (*OUTAGE_RETRY_DELAYS, None):
        try:
            await run()
            return
        except Exception as error:
            if delay is None or not is_store_outage(error):
                raise
            logger.warning(
                "turn of conversation %s hit a store outage (%s: %s); trying again in %.0f s",
                key, type(error).__name__, error, delay,
            )
            await asyncio.sleep(delay)


@dataclass
class _Job:
    admitted: asyncio.Future[bool]
    run: Callable[[], Awaitable[None]]


class ConversationQueues:
    """Runs the jobs of one conversation in submission order; conversations run concurrently.

    A job waits for its ``admitted`` future (set once its id is recorded) and is skipped when it
    resolves False (a redelivery, or the DB failed). At most ``limit`` jobs run at once, whatever
    their conversation. A failing job is logged and the queue goes on.
    """

    def __init__(self, limit: int | None = None) -> None:
        self._queues: dict[str, deque[_Job]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.limit = limit or channel_concurrent_turns()
        self._slots: asyncio.Semaphore | None = None
        self.pending = 0

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        return self._slots

    def submit(self, key: str, run: Callable[[], Awaitable[None]]) -> asyncio.Future[bool]:
        loop = asyncio.get_running_loop()
        job = _Job(loop.create_future(), run)
        self.pending += 1
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(job)
        else:
            queue = self._queues[key] = deque([job])
            task = loop.create_task(self._drain(key, queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return job.admitted

    async def _drain(self, key: str, queue: deque[_Job]) -> None:
        # The key is the conversation: this task's log lines carry it (bot.observability.logs).
        CONVERSATION_ID.set(key)
        try:
            while queue:
                job = queue[0]
                try:
                    if await job.admitted:
                        async with self._semaphore():
                            await ACK_GATE.wait_quiet()
                            await run_retrying_outages(key, job.run)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("processing an event of conversation %s failed", key)
                finally:
                    queue.popleft()
                    self.pending -= 1
        finally:
            if self._queues.get(key) is queue:
                del self._queues[key]

    def busy(self) -> bool:
        return bool(self._tasks)

    async def join(self, timeout: float | None = None) -> bool:
        """Wait until every queued job ran; True when none is left."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        return not self._tasks

    async def close(self, timeout: float = DRAIN_SECONDS) -> None:
        """Let queued work finish for up to ``timeout`` seconds, then cancel the rest."""
        if not await self.join(timeout):
            logger.warning("shutting down with %d queued channel events unprocessed",
                           self.pending)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)


def feedback_engine() -> Engine:
    """The process's feedback DB engine (migrated on first use, so: blocking)."""
    from bot.db.runtime import get_engine

    return get_engine()
