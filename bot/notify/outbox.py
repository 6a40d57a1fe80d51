"""The outbox worker: delivers notifications with retries, each marked sent exactly once.

Rows are written by the change that causes them (``bot.cases.service``, ``bot.cases.casework``,
the periodic scans of :mod:`bot.notify.scans` that the loop below runs) in the same transaction.
The worker then, one row at a time:

1. **claims** a pending row whose ``next_attempt_at`` has passed: PostgreSQL picks it with
   ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers never wait on or take the same row); both
   databases then run a guarded ``UPDATE … SET attempts = attempts + 1, next_attempt_at = now +
   lease WHERE id = … AND status = 'pending' AND attempts = <seen> AND next_attempt_at <= now``
   whose row count says whether this worker won. ``next_attempt_at`` doubles as the lease: a
   claimed row is invisible to other workers until the lease runs out, so a worker that dies
   mid-delivery leaves a row that another worker (or itself after a restart) claims again.
2. **delivers** it with the sender for its kind, outside any transaction;
3. **records** the result with an ``UPDATE … WHERE id = … AND status = 'pending' AND attempts =
   <this claim's attempt>``: ``attempts`` is the fencing token, so only the claim that still owns
   the row can mark it ``sent`` (exactly once), reschedule it with exponential backoff, or give up
   (``failed`` after ``max_attempts``, ``undeliverable`` when the platform refuses the recipient),
   with the reason in ``last_error``.

Kinds without a sender are never claimed: with no Telegram token the staff rows simply stay
pending, nothing is lost, and they go out once a token is configured.

Delivery is at least once at one boundary only: if a worker dies after the platform accepted a
message but before step 3 commits, the row is sent again after the lease. Nothing can close that
gap without the platform's help; the lease (default two minutes, far above the HTTP timeouts) keeps
it to real crashes.

Database work runs in a thread (``asyncio.to_thread``) so a busy SQLite file never blocks the
event loop the staff service's web handlers share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.cases.identity import identity_protected
from bot.db.engine import session_scope
from bot.db.models import Case, Outbox, OutboxKind, OutboxStatus
from bot.db.types import ensure_aware, utcnow
from bot.delivery.senders import DeliveryResult, OutboxRow, Sender
from bot.notify.scans import scan_once
from bot.observability.logs import bind_conversation
from bot.settings import outbox_lease_seconds

__all__ = [
    "ResultObserver",
    "SessionFactory",
    "WorkerOptions",
    "backoff_delay",
    "claim_next",
    "deliver_due",
    "deliver_pass",
    "record_result",
    "requeue",
    "run_worker",
    "session_factory",
]

log = logging.getLogger(__name__)

#: A callable opening one unit of work: commits on success, rolls back on error.
SessionFactory = Callable[[], AbstractContextManager[Session]]
#: Told each recorded delivery attempt: the row and its new state (``record_result``'s value).
ResultObserver = Callable[[OutboxRow, str], None]

#: Longest stored ``last_error`` (platform messages can be long).
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class WorkerOptions:
    """Tuning of the worker. ``lease`` must exceed the longest delivery (HTTP timeouts)."""

    lease: timedelta = timedelta(minutes=2)
    max_attempts: int = 10
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)
    #: Up to this fraction is added at random, so retries of many rows do not arrive together.
    jitter: float = 0.1
    #: Rows handled per pass before the loop looks at the stop event again.
    batch_limit: int = 100

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.lease <= timedelta(0):
            raise ValueError("lease must be positive")


def session_factory(engine: Engine) -> SessionFactory:
    """``session_scope`` bound to ``engine``."""
    return partial(session_scope, engine)


def backoff_delay(
    attempt: int, options: WorkerOptions, rng: Callable[[], float] = random.random
) -> timedelta:
    """Wait after failed attempt number ``attempt`` (1, 2, …): base · 2^(attempt−1), capped."""
    exponent = min(max(attempt - 1, 0), 30)
    delay = min(options.backoff_base * (2**exponent), options.backoff_cap)
    if options.jitter > 0:
        delay += delay * (options.jitter * rng())
    return delay


def _row(o: Outbox, conversation_id: str | None = None) -> OutboxRow:
    return OutboxRow(
        id=o.id,
        kind=o.kind,
        case_id=o.case_id,
        target=o.target,
        payload=dict(o.payload or {}),
        attempts=o.attempts,
        created_at=o.created_at,
        conversation_id=conversation_id,
    )


def claim_next(
    factory: SessionFactory, kinds: frozenset[str] | set[str], *, now: datetime, lease: timedelta
) -> OutboxRow | None:
    """Claim the most overdue pending row of ``kinds``; None when there is none (see module doc)."""
    if not kinds:
        return None
    now = ensure_aware(now, "now")
    for _ in range(5):  # a lost race (only possible without SKIP LOCKED) just tries the next row
        with factory() as session:
            candidate = session.execute(
                select(Outbox.id, Outbox.attempts)
                .where(
                    Outbox.status == OutboxStatus.PENDING,
                    Outbox.next_attempt_at <= now,
                    Outbox.kind.in_(sorted(kinds)),
                )
                .order_by(Outbox.next_attempt_at, Outbox.id)
                .limit(1)
                # PostgreSQL: FOR UPDATE SKIP LOCKED. SQLite ignores it; BEGIN IMMEDIATE already
                # serialises writers and the guarded UPDATE below decides.
                .with_for_update(skip_locked=True)
            ).first()
            if candidate is None:
                return None
            row_id, seen_attempts = candidate
            claimed = session.execute(
                update(Outbox)
                .where(
                    Outbox.id == row_id,
                    Outbox.status == OutboxStatus.PENDING,
                    Outbox.attempts == seen_attempts,
                    Outbox.next_attempt_at <= now,
                )
                .values(attempts=seen_attempts + 1, next_attempt_at=now + lease)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue
            outbox = session.execute(
                select(Outbox).where(Outbox.id == row_id).execution_options(populate_existing=True)
            ).scalar_one()
            conversation = None
            if outbox.case_id is not None:  # for the log lines of this delivery
                case = session.get(Case, outbox.case_id)
                if case is not None:
                    # A protected sender's conversation id is their channel id (issue 17 item 4):
                    # the log lines name the case instead.
                    conversation = (f"case-{outbox.case_id}" if identity_protected(case)
                                    else case.conversation_id)
            return _row(outbox, conversation)
    return None


def _error_text(result: DeliveryResult) -> str:
    return (result.error or "unknown error")[:MAX_ERROR_CHARS]


def record_result(
    factory: SessionFactory,
    row: OutboxRow,
    result: DeliveryResult,
    *,
    now: datetime,
    options: WorkerOptions,
    rng: Callable[[], float] = random.random,
) -> str:
    """Store the outcome of the attempt that claimed ``row``; returns the row's new state
    (``sent``, ``pending``, ``failed``, ``undeliverable``) or ``lost`` when another claim owns the
    row now (its lease ran out): then nothing is changed."""
    now = ensure_aware(now, "now")
    values: dict[str, Any]
    if result.ok:
        values = {"status": OutboxStatus.SENT, "sent_at": now, "last_error": None}
        state = OutboxStatus.SENT.value
    elif result.waiting:
        after = timedelta(seconds=result.retry_after if result.retry_after is not None else 300)
        # Nothing was tried: give the attempt back so waiting never exhausts max_attempts.
        values = {
            "next_attempt_at": now + after,
            "last_error": _error_text(result),
            "attempts": row.attempts - 1,
        }
        state = OutboxStatus.PENDING.value
    elif result.retryable and row.attempts < options.max_attempts:
        if result.retry_after is not None:
            delay = timedelta(seconds=max(result.retry_after, 0))
        else:
            delay = backoff_delay(row.attempts, options, rng)
        values = {"next_attempt_at": now + delay, "last_error": _error_text(result)}
        state = OutboxStatus.PENDING.value
    elif result.retryable:
        values = {
            "status": OutboxStatus.FAILED,
            "last_error": f"gave up after {row.attempts} attempts: {_error_text(result)}"[
                :MAX_ERROR_CHARS
            ],
        }
        state = OutboxStatus.FAILED.value
    else:
        status = OutboxStatus.UNDELIVERABLE if result.undeliverable else OutboxStatus.FAILED
        values = {"status": status, "last_error": _error_text(result)}
        state = status.value
    with factory() as session:
        changed = session.execute(
            update(Outbox)
            .where(
                Outbox.id == row.id,
                Outbox.status == OutboxStatus.PENDING,
                Outbox.attempts == row.attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:
            log.warning("outbox row %s: lease lost before the result was recorded", row.id)
            return "lost"
    if state != OutboxStatus.SENT.value:
        log.info(
            "outbox row %s (%s) attempt %s: %s, %s",
            row.id,
            row.kind,
            row.attempts,
            state,
            result.error,
        )
    return state


async def _deliver(sender: Sender, row: OutboxRow) -> DeliveryResult:
    try:
        return await sender.send(row)
    except asyncio.CancelledError:
        raise  # the row is claimed; it is delivered again after the lease
    except Exception as exc:  # a sender bug must not stop the worker or lose the row
        log.exception("sender for %s raised on outbox row %s", row.kind, row.id)
        return DeliveryResult.retry(f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class PassReport:
    """One pass: rows claimed and handled, and how many of them were marked sent."""

    handled: int
    sent: int


async def deliver_pass(
    factory: SessionFactory,
    senders: Mapping[str, Sender],
    *,
    now: datetime | None = None,
    options: WorkerOptions | None = None,
    clock: Callable[[], datetime] = utcnow,
    rng: Callable[[], float] = random.random,
    on_result: ResultObserver | None = None,
) -> PassReport:
    """One pass over due rows (at most ``options.batch_limit``); see :func:`deliver_due`.

    Log lines of a row's delivery carry its case's conversation id; ``on_result(row, state)`` is
    called with each recorded outcome (the web service counts them for ``/metrics``).
    """
    options = options or WorkerOptions()

    def current() -> datetime:
        return now if now is not None else clock()

    kinds = frozenset(senders)
    handled = sent = 0
    for _ in range(options.batch_limit):
        row = await asyncio.to_thread(
            claim_next, factory, kinds, now=current(), lease=options.lease
        )
        if row is None:
            break
        handled += 1
        with bind_conversation(row.conversation_id):
            result = await _deliver(senders[row.kind], row)
            state = await asyncio.to_thread(
                record_result, factory, row, result, now=current(), options=options, rng=rng
            )
        if on_result is not None:
            try:
                on_result(row, state)
            except Exception:  # counting must never stop deliveries
                log.exception("outbox result observer failed")
        if state == OutboxStatus.SENT.value:
            sent += 1
    return PassReport(handled=handled, sent=sent)


async def deliver_due(
    factory: SessionFactory,
    senders: Mapping[str, Sender],
    *,
    now: datetime | None = None,
    options: WorkerOptions | None = None,
    clock: Callable[[], datetime] = utcnow,
    rng: Callable[[], float] = random.random,
) -> int:
    """Deliver every row due now whose kind has a sender; returns how many were marked sent.

    ``now`` fixes the time of the whole pass (tests); otherwise ``clock`` is read at each step.
    """
    report = await deliver_pass(factory, senders, now=now, options=options, clock=clock, rng=rng)
    return report.sent


def requeue(session: Session, outbox_id: int, *, now: datetime | None = None) -> bool:
    """Send a ``failed`` or ``undeliverable`` row again (a console "retry" button)."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    result = session.execute(
        update(Outbox)
        .where(
            Outbox.id == outbox_id,
            Outbox.status.in_([OutboxStatus.FAILED.value, OutboxStatus.UNDELIVERABLE.value]),
        )
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


# --------------------------------------------------------------------------- the loop


@contextlib.contextmanager
def _logged(what: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        log.exception("outbox worker: %s failed; trying again later", what)


async def run_worker(
    engine: Engine,
    senders: Mapping[str, Sender] | Callable[[], Mapping[str, Sender]],
    *,
    stop_event: asyncio.Event,
    options: WorkerOptions | None = None,
    poll_interval: float = 2.0,
    overdue_interval: float = 60.0,
    wake_event: asyncio.Event | None = None,
    on_result: ResultObserver | None = None,
) -> None:
    """Deliver due rows until ``stop_event`` is set; scan for overdue cases now and then.

    ``senders`` may be a callable read before each pass (a sender that comes up later, e.g. a
    bot that could not reach Telegram at boot). ``wake_event`` (optional) cuts the wait short
    when the same process has just written a row.
    """
    options = options or WorkerOptions(lease=timedelta(seconds=outbox_lease_seconds()))
    factory = session_factory(engine)
    current = senders if callable(senders) else (lambda: senders)
    missing = sorted({OutboxKind.STAFF_NOTIFY, OutboxKind.CITIZEN_REPLY} - set(current()))
    if missing:
        log.warning("outbox worker: no sender for %s yet; those rows wait in the outbox", missing)
    next_scan = 0.0
    while not stop_event.is_set():
        busy = False
        if time.monotonic() >= next_scan:
            with _logged("overdue scan"):
                await asyncio.to_thread(scan_once, factory)
            next_scan = time.monotonic() + overdue_interval
        with _logged("delivery pass"):
            report = await deliver_pass(factory, current(), options=options, on_result=on_result)
            busy = report.handled >= options.batch_limit
        if busy:
            continue
        await _wait(stop_event, wake_event, poll_interval)


async def _wait(stop: asyncio.Event, wake: asyncio.Event | None, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        if wake is not None:
            wake.clear()
