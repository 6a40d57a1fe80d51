"""What the Facebook and Zalo channels share: acknowledge fast, process in order, in the background.

A platform redelivers a webhook that is not answered 200 in time (Facebook: 20 s, Zalo: 2 s), and
the assistant's turn (NLU, policies, actions, DB) can take longer. So a webhook

1. reads at most :data:`~bot.settings.MAX_BODY_BYTES` (413 beyond), checks the signature
   (403), parses the events (400 when the body is not what the platform sends);
2. queues each event behind the earlier ones of the same conversation (:class:`ConversationQueues`),
   reserving its place before anything is awaited, so arrival order is kept;
3. records every message id and the time the person wrote, in one transaction
   (:func:`bot.channels.store.admit`); a redelivered id is acknowledged and dropped;
4. answers 200, and only then is each admitted event handed to Rasa, one at a time per
   conversation, different conversations concurrently.

If the ids cannot be recorded (DB down) nothing is processed and the webhook answers 503, so the
platform delivers again later.

Rasa-facing (sanic, ``rasa.core.channels``); the platform modules build on :class:`WebhookChannel`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NoReturn, TypeVar

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot.channels import store
from bot.channels.render import Capabilities, Choice, Rendered, render, resolve_number
from bot.delivery.errors import ChannelNotConfigured
from bot.observability.logs import CONVERSATION_ID
from bot.settings import MAX_BODY_BYTES, channel_concurrent_turns

logger = logging.getLogger(__name__)

__all__ = [
    "BodyTooLarge",
    "ConversationQueues",
    "HttpClients",
    "Inbound",
    "MalformedPayload",
    "PlatformOutput",
    "WebhookChannel",
    "from_millis",
    "read_body",
]

#: Queued events beyond this make the webhook answer 503 (the platform retries later).
MAX_PENDING = 10_000
#: How long shutdown waits for queued conversations to finish.
DRAIN_SECONDS = 10.0
class MalformedPayload(ValueError):
    """The body is not what the platform sends (→ 400)."""


class BodyTooLarge(ValueError):
    """The body is larger than the limit (→ 413)."""


@dataclass(frozen=True)
class Inbound:
    """One event from a platform, in the shape the assistant needs.

    ``kind``: ``message`` (text, quick reply, attachments), ``postback`` (a button),
    ``follow`` (handled as ``text``, e.g. "/greet") or ``unfollow`` (recorded only).
    ``attachments``: ``{"kind": "image" | "file" | "location", "url": …, "payload": …}``, the form
    ``actions/case_form.py`` reads from the message metadata.
    """

    message_id: str
    sender_id: str
    text: str = ""
    kind: str = "message"
    at: datetime | None = None
    attachments: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


def from_millis(value: Any) -> datetime | None:
    """A platform timestamp in milliseconds (number or digit string) → aware UTC datetime."""
    try:
        millis = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    if millis <= 0:
        return None
    try:
        return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes before reading them all."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise BodyTooLarge(f"{length} bytes announced")
    stream = getattr(request, "stream", None)
    if stream is None or request.body:
        body = bytes(request.body or b"")
        if len(body) > limit:
            raise BodyTooLarge(f"{len(body)} bytes")
        return body
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await stream.read()
        if chunk is None:
            break
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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


class HttpClients:
    """One aiohttp session per event loop, created on first use, closed on shutdown."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
            self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def feedback_engine() -> Engine:
    """The process's feedback DB engine (migrated on first use, so: blocking)."""
    from bot.db.runtime import get_engine

    return get_engine()


async def _quietly(db: LoopDatabase, function: Callable[..., Any], *args: Any) -> Any:
    """``db.call(function, *args)``, logging instead of raising.

    For what only helps (numbered choices, the unfollow note): a DB hiccup must not cost the
    citizen their answer."""
    try:
        return await db.call(function, *args)
    except Exception as error:
        logger.warning("%s failed: %s", getattr(function, "__name__", "store call"), error)
        return None


class PlatformOutput(OutputChannel):
    """Sends Rasa's bot messages through a platform, rendered by :func:`bot.channels.render.render`.

    One instance per turn (an incoming message) or per ``trigger_intent`` request. It remembers
    whether this turn offered numbered choices, which the channel then stores for the person.
    """

    channel_name = "platform"
    caps: Capabilities

    def __init__(self, db: LoopDatabase | None = None) -> None:
        #: The channel's; on its own (tests, scripts) an output uses worker threads.
        self.db = db or LoopDatabase(on_loop=False)
        self.offered: tuple[Choice, ...] = ()

    @classmethod
    def name(cls) -> str:
        return cls.channel_name

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        custom = message.get("custom")
        if isinstance(custom, Mapping) and isinstance(custom.get(self.channel_name), Mapping):
            await self.send_native(recipient_id, dict(custom[self.channel_name]))
        rendered = render(message, self.caps)
        await self.send_rendered(recipient_id, rendered)
        if rendered.options:
            self.offered = rendered.options
            await _quietly(self.db, store.set_options, self.channel_name, recipient_id,
                           rendered.options)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"custom": json_message})

    async def send_rendered(self, recipient_id: str, rendered: Rendered) -> None:
        raise NotImplementedError

    async def send_native(self, recipient_id: str, message: dict[str, Any]) -> None:
        """A platform-specific message from a response's ``custom: {<channel>: {...}}``."""
        raise NotImplementedError


class WebhookChannel(InputChannel):
    """Base of the Facebook and Zalo input channels (see the module docstring)."""

    channel_name = "platform"

    def __init__(self) -> None:
        self.queues = ConversationQueues()
        self.http = HttpClients()
        self.db = LoopDatabase()
        self.admitter = Admitter(self.channel_name, self.db)

    @classmethod
    def name(cls) -> str:
        return cls.channel_name

    # -- to implement
    def missing(self) -> list[str]:
        raise NotImplementedError

    def turn_output(self) -> PlatformOutput:
        """The output channel of a turn that answers an incoming message."""
        raise NotImplementedError

    # -- shared
    def refuse_unconfigured(self) -> HTTPResponse | None:
        missing = self.missing()
        if not missing:
            return None
        logger.error("%s channel refused a webhook: %s not set", self.channel_name,
                     ", ".join(missing))
        return response.json({"error": f"{self.channel_name} channel is not configured"},
                             status=503)

    async def acknowledge(self, events: Sequence[Inbound],
                          on_new_message: Callable[[UserMessage], Awaitable[Any]],
                          ok: Callable[[], HTTPResponse]) -> HTTPResponse:
        """Queue ``events``, record their ids, and answer (see the module docstring)."""
        if self.queues.pending + len(events) > MAX_PENDING:
            logger.error("%s: %d events already queued, asking the platform to retry",
                         self.channel_name, self.queues.pending)
            return response.json({"error": "busy"}, status=503)
        started = time.perf_counter()
        admitted = [
            self.queues.submit(event.sender_id, self._runner(event, on_new_message))
            for event in events
        ]
        arrivals = [
            store.Arrival(event.message_id, event.sender_id,
                          event.at if event.kind in ("message", "postback") else None)
            for event in events
        ]
        try:
            fresh = await self.admitter.admit(arrivals)
        except Exception as error:
            for future in admitted:
                future.set_result(False)
            logger.error("%s: could not record %d event ids, answering 503: %s",
                         self.channel_name, len(events), error)
            return response.json({"error": "temporarily unavailable"}, status=503)
        for future, new, event in zip(admitted, fresh, events, strict=True):
            future.set_result(new)
            if not new:
                logger.info("%s: redelivered event %s ignored", self.channel_name,
                            event.message_id)
        logger.debug("%s: %d events acknowledged in %.1f ms", self.channel_name, len(events),
                     (time.perf_counter() - started) * 1000)
        return ok()

    def _runner(self, event: Inbound,
                on_new_message: Callable[[UserMessage], Awaitable[Any]]
                ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.process(event, on_new_message)

        return run

    async def process(self, event: Inbound,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Hand one admitted event to Rasa (a bare number picks a choice offered just before)."""
        if event.kind == "unfollow":
            await _quietly(self.db, store.mark_unfollowed, self.channel_name, event.sender_id,
                           event.at)
            return
        options = await _quietly(self.db, store.get_options, self.channel_name,
                                 event.sender_id) or []
        text = event.text
        metadata: dict[str, Any] = {
            "channel": self.channel_name,
            "message_id": event.message_id,
            "event": event.kind,
            "attachments": [dict(a) for a in event.attachments],
            **dict(event.metadata),
        }
        choice = resolve_number(text, options) if not event.attachments else None
        if choice is not None:
            metadata["chosen"] = {"number": text.strip(), "title": choice.title}
            text = choice.payload
        output = self.turn_output()
        await on_new_message(
            UserMessage(
                text,
                output,
                event.sender_id,
                input_channel=self.name(),
                message_id=event.message_id,
                metadata=metadata,
            )
        )
        if options and not output.offered:
            await _quietly(self.db, store.set_options, self.channel_name, event.sender_id, None)

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        return None

    async def accept_body(self, request: Request) -> bytes | HTTPResponse:
        """The raw body of a webhook POST (signatures are computed over it), or the answer that
        refuses it: 503 while the channel's secrets are missing, 413 when it is too large."""
        refused = self.refuse_unconfigured()
        if refused is not None:
            return refused
        try:
            return await read_body(request, MAX_BODY_BYTES)
        except BodyTooLarge as error:
            logger.warning("%s: webhook body too large (%s), refused (413)",
                           self.channel_name, error)
            return response.json({"error": "payload too large"}, status=413)

    async def receive(self, request: Request,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        """Verify, parse and acknowledge one webhook POST (each platform its own way)."""
        raise NotImplementedError

    def webhook_blueprint(self, name: str,
                          on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """:meth:`lifecycle_blueprint` plus ``POST /webhook`` to :meth:`receive`, counted by
        ``ACK_GATE`` so turns in the background yield to acknowledgements in flight."""
        webhook = self.lifecycle_blueprint(name)

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            ACK_GATE.enter()
            try:
                return await self.receive(request, on_new_message)
            finally:
                ACK_GATE.leave()

        return webhook

    def lifecycle_blueprint(self, name: str) -> Blueprint:
        """A blueprint with what every platform webhook shares: start-up and shutdown of the
        channel's workers, and ``GET /`` telling whether its secrets are configured."""
        webhook = Blueprint(name, __name__)

        @webhook.listener("after_server_start")
        async def start(app: Any, loop: Any) -> None:
            await self.startup()

        @webhook.listener("before_server_stop")
        async def stop(app: Any, loop: Any) -> None:
            await self.shutdown()

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": not self.missing()})

        return webhook

    async def startup(self) -> None:
        """Open the DB (migrating it if needed) before the first webhook arrives."""
        missing = self.missing()
        if missing:
            logger.warning("%s channel is not configured (%s not set): it will refuse webhooks",
                           self.channel_name, ", ".join(missing))
        try:
            await asyncio.to_thread(self.db.prepare)
        except Exception as error:  # the DB may come up later; webhooks answer 503 meanwhile
            logger.error("%s channel: feedback DB not reachable at start-up: %s",
                         self.channel_name, error)

    async def shutdown(self) -> None:
        await self.queues.close()
        await self.http.close()
        self.db.close()


def raise_not_configured(channel: str, missing: Sequence[str]) -> NoReturn:
    raise ChannelNotConfigured(channel, f"not configured ({', '.join(missing)} not set)")
