"""Delivering announcements: the sender of ``announcement`` outbox rows, and its worker.

:class:`AnnouncementSender` posts straight to the platforms' send APIs (the Graph Send API, the
Zalo OA message API) — not through Rasa, since an announcement answers no conversation turn — at
the rate ``content/platform_rules.yml`` sets, shared by every worker through
``bot.announcements.ratelimit``. For each row it:

1. asks ``plan_delivery`` what to do now (settled already / unsubscribed / not allowed / blocked /
   quiet hours → wait / send these messages as this kind);
2. per message part still to go: reserves a rate slot and sleeps until it, checks once more that
   the subscriber has not withdrawn meanwhile and marks the request in flight (one transaction),
   takes a fresh slot if that made it late for this one, posts, and records the part;
3. records the outcome. Platform answers map as follows (documented codes, see README):

   ===========================================  ==========================================
   Messenger 551, or subcode 1545041            blocked (they blocked the page)
   Messenger 10 / 2018278, 2018108              not allowed (outside the window)
   Zalo -213                                    blocked (not / no longer a follower)
   Zalo -217 -227 -230 -232 -234 -244           not allowed (the OA may not write now)
   5xx, 429, Messenger 1 2 4 17 32 613,         retried with backoff, the recipient stays
   Zalo -32 -100, token errors                  pending; failed after the last attempt
   anything else                                failed
   ===========================================  ==========================================

   A worker that dies (or times out) between posting and hearing the answer leaves the
   recipient marked in flight; the next attempt settles it as failed ("interrupted") rather than
   post again, since the platform may already have it. Delivery is therefore at most once: a crash
   can cost a recipient their message (counted as failed in the report), never give them two.

:func:`run_announcement_worker` runs ``concurrency`` delivery loops over ``announcement`` rows
only (the outbox worker's claim/lease/record, ``bot.notify.outbox``), plus the scan that starts
due announcements and closes finished ones. ``python -m bot.notify.announcements`` runs it alone
(the bench starts and kills it). The outbox lease must stay well above the longest wait for a rate
slot (about loops × workers / rate seconds: 12 / 8.5 in the bench against a 15 s lease there, 2
minutes by default); otherwise a second worker could take a row whose request is still waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.engine import Engine

from bot.announcements import delivery
from bot.announcements.ratelimit import LATE, reserve
from bot.announcements.rules import ChannelRules, load_rules
from bot.db.engine import session_scope
from bot.db.models import OutboxKind, RecipientStatus
from bot.db.types import utcnow
from bot.delivery.senders import DeliveryResult, OutboxRow
from bot.notify.outbox import WorkerOptions, deliver_pass, session_factory
from bot.settings import FacebookConfig, ZaloConfig

__all__ = [
    "AnnouncementSender",
    "PlatformAnswer",
    "announcement_worker_context",
    "run_announcement_worker",
]

log = logging.getLogger(__name__)

FB_BLOCKED_CODES = {551}
FB_BLOCKED_SUBCODES = {1545041}
FB_WINDOW_CODES = {10}
FB_WINDOW_SUBCODES = {2018278, 2018108}
FB_RETRY_CODES = {1, 2, 4, 17, 32, 190, 613}
ZALO_BLOCKED = {-213}
ZALO_NOT_ALLOWED = {-217, -227, -230, -232, -234, -244}
ZALO_RETRY = {-32, -100, -124, -201, -216}


class PlatformAnswer(Exception):
    """A refused post: ``outcome`` is blocked | not_allowed | retry | failed."""

    def __init__(self, outcome: str, detail: str) -> None:
        self.outcome = outcome
        self.detail = detail[:300]
        super().__init__(f"{outcome}: {self.detail}")


def facebook_outcome(status: int, data: Any) -> PlatformAnswer | None:
    if status == 200 and isinstance(data, Mapping) and "error" not in data:
        return None
    error = data.get("error") if isinstance(data, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    code, sub = error.get("code"), error.get("error_subcode")
    detail = f"facebook {code}/{sub}: {error.get('message') or status}"
    if code in FB_BLOCKED_CODES or sub in FB_BLOCKED_SUBCODES:
        return PlatformAnswer("blocked", detail)
    if code in FB_WINDOW_CODES or sub in FB_WINDOW_SUBCODES:
        return PlatformAnswer("not_allowed", detail)
    if status >= 500 or status == 429 or code in FB_RETRY_CODES:
        return PlatformAnswer("retry", detail)
    return PlatformAnswer("failed", detail)


def zalo_outcome(status: int, data: Any) -> PlatformAnswer | None:
    code = data.get("error") if isinstance(data, Mapping) else None
    if status == 200 and code == 0:
        return None
    detail = f"zalo {code}: {data.get('message') if isinstance(data, Mapping) else status}"
    if code in ZALO_BLOCKED:
        return PlatformAnswer("blocked", detail)
    if code in ZALO_NOT_ALLOWED:
        return PlatformAnswer("not_allowed", detail)
    if status >= 500 or status == 429 or code in ZALO_RETRY:
        return PlatformAnswer("retry", detail)
    return PlatformAnswer("failed", detail)


class AnnouncementSender:
    """Implements the outbox ``Sender`` protocol for ``announcement`` rows (see module doc)."""

    def __init__(
        self,
        engine: Engine,
        http: aiohttp.ClientSession,
        *,
        facebook: FacebookConfig,
        zalo: ZaloConfig,
        rules: Mapping[str, ChannelRules],
        tz: tzinfo,
        max_attempts: int = 10,
        timeout: float = 20.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.http = http
        self.facebook = facebook
        self.zalo = zalo
        self.rules = rules
        self.tz = tz
        self.max_attempts = max_attempts
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.clock = clock

    # -- database steps (each its own short transaction, in a thread) --------------------------

    def _db(self, work: Callable[[Any], Any]) -> Any:
        with session_scope(self.engine) as session:
            return work(session)

    async def _call(self, work: Callable[[Any], Any]) -> Any:
        return await asyncio.to_thread(self._db, work)

    async def _settle(
        self,
        rid: int,
        status: RecipientStatus,
        *,
        kind: str | None = None,
        reason: str | None = None,
    ) -> None:
        now = self.clock()
        await self._call(
            lambda s: delivery.record_outcome(s, rid, status, now=now, kind=kind, reason=reason)
        )

    # -- the platforms ----------------------------------------------------------------------

    async def _post(
        self, channel: str, sender_id: str, kind: str | None, message: Mapping[str, Any]
    ) -> None:
        if channel == "facebook":
            body = {
                "recipient": {"id": sender_id},
                "messaging_type": kind,
                "message": dict(message),
            }
            async with self.http.post(
                self.facebook.messages_url,
                json=body,
                timeout=self.timeout,
                params={"access_token": self.facebook.page_access_token},
            ) as answer:
                data = await answer.json(content_type=None)
                failure = facebook_outcome(answer.status, data)
        elif channel == "zalo":
            token = await self._call(lambda s: delivery.token_for(s, "zalo"))
            body = {"recipient": {"user_id": sender_id}, "message": dict(message)}
            async with self.http.post(
                f"{self.zalo.api_base}/v3.0/oa/message/cs",
                json=body,
                timeout=self.timeout,
                headers={"access_token": token or self.zalo.access_token},
            ) as answer:
                data = await answer.json(content_type=None)
                failure = zalo_outcome(answer.status, data)
        else:
            raise PlatformAnswer("not_allowed", f"no sending to {channel}")
        if failure is not None:
            raise failure

    async def _slot(self, rule: ChannelRules) -> float | None:
        """Reserve the platform's next send slot and sleep until it (None: no limit)."""
        if not rule.rate_per_second:
            return None
        rate = float(rule.rate_per_second)
        slot = float(await self._call(partial(reserve, name=rule.channel, rate_per_second=rate)))
        wait = slot - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        return slot

    # -- the Sender protocol --------------------------------------------------------------------

    async def send(self, row: OutboxRow) -> DeliveryResult:
        rid = int(row.payload["recipient_id"])
        now = self.clock()
        plan = await self._call(
            lambda s: delivery.plan_delivery(s, rid, rules=self.rules, now=now, tz=self.tz)
        )
        if plan.action == "done":
            if plan.status == RecipientStatus.SENT.value:
                return DeliveryResult.sent()
            if plan.status == RecipientStatus.FAILED.value:
                return DeliveryResult.fail("recipient failed")
            return DeliveryResult.refused(f"recipient {plan.status}")
        if plan.action == "defer":
            wait = max((plan.until - now).total_seconds(), 1.0) if plan.until else 300.0
            return DeliveryResult.later("quiet hours", after=wait)
        rule = self.rules[plan.channel]
        for index in range(plan.parts_sent, len(plan.messages)):
            slot = await self._slot(rule)
            if index == plan.parts_sent:
                begun = await self._call(
                    partial(
                        delivery.begin_send,
                        recipient_id=rid,
                        channel=plan.channel,
                        sender_id=plan.sender_id,
                        topic=plan.topic,
                        now=self.clock(),
                        monthly_quota=rule.monthly_quota,
                        tz=self.tz,
                    )
                )
                if begun != "ok":
                    return DeliveryResult.refused(f"not sent: {begun}")
            else:
                await self._call(partial(delivery.mark_sending, recipient_id=rid, now=self.clock()))
            for _ in range(10):  # late for the slot (a slow step): take a fresh one
                if slot is None or time.time() - slot <= LATE:
                    break
                slot = await self._slot(rule)
            try:
                await self._post(plan.channel, plan.sender_id, plan.kind, plan.messages[index])
            except PlatformAnswer as answer:
                await self._call(lambda s: delivery.mark_sending(s, rid, now=None))
                return await self._refused(rid, row, answer)
            except aiohttp.ClientConnectionError as error:
                # Not connected: the request never reached the platform.
                await self._call(lambda s: delivery.mark_sending(s, rid, now=None))
                return await self._refused(rid, row, PlatformAnswer("retry", repr(error)))
            # A timeout or an unreadable answer leaves the mark: the platform may have it, so the
            # next attempt settles the recipient as interrupted instead of sending again.
            done = index + 1
            stamp = self.clock()
            await self._call(
                partial(delivery.record_part, recipient_id=rid, parts_sent=done, now=stamp)
            )
        await self._settle(rid, RecipientStatus.SENT, kind=plan.kind)
        return DeliveryResult.sent()

    async def _refused(self, rid: int, row: OutboxRow, answer: PlatformAnswer) -> DeliveryResult:
        if answer.outcome == "retry":
            if row.attempts < self.max_attempts:
                return DeliveryResult.retry(answer.detail)
            await self._settle(
                rid,
                RecipientStatus.FAILED,
                reason=f"gave up after {row.attempts} attempts: {answer.detail}",
            )
            return DeliveryResult.fail(answer.detail)
        status = {
            "blocked": RecipientStatus.BLOCKED,
            "not_allowed": RecipientStatus.NOT_ALLOWED,
        }.get(answer.outcome, RecipientStatus.FAILED)
        await self._settle(rid, status, reason=answer.detail)
        if status == RecipientStatus.FAILED:
            return DeliveryResult.fail(answer.detail)
        return DeliveryResult.refused(answer.detail)


# --------------------------------------------------------------------------- the worker


def _scan(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        for announcement_id, count in delivery.start_due(session, now=now):
            log.info("announcement %s: %s recipients queued", announcement_id, count)
    with session_scope(engine) as session:
        for announcement_id in delivery.finish_done(session, now=now):
            log.info("announcement %s: every recipient settled", announcement_id)


async def run_announcement_worker(
    engine: Engine,
    sender: AnnouncementSender,
    *,
    stop_event: asyncio.Event,
    concurrency: int = 4,
    options: WorkerOptions | None = None,
    poll_interval: float = 1.0,
) -> None:
    """Start due announcements and deliver their rows until ``stop_event`` is set."""
    options = options or WorkerOptions()
    factory = session_factory(engine)
    senders = {OutboxKind.ANNOUNCEMENT: sender}

    async def scanner() -> None:
        while not stop_event.is_set():
            try:
                await asyncio.to_thread(_scan, engine)
            except Exception:
                log.exception("announcement scan failed; trying again")
            await _sleep(stop_event, poll_interval)

    async def loop() -> None:
        while not stop_event.is_set():
            try:
                report = await deliver_pass(factory, senders, options=options)
            except Exception:
                log.exception("announcement delivery pass failed; trying again")
                report = None
            if report is None or report.handled == 0:
                await _sleep(stop_event, poll_interval)

    await asyncio.gather(scanner(), *(loop() for _ in range(max(1, concurrency))))


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def announcement_worker_context(
    *,
    engine: Callable[[Any], Engine],
    http: Callable[[Any], aiohttp.ClientSession],
    concurrency: int = 2,
) -> Callable[[Any], Any]:
    """A ``cleanup_ctx`` running the announcement worker inside the staff service (roles ``all``
    and ``worker``), with the platforms' settings from the environment."""
    from contextlib import suppress

    from bot.settings import get_settings

    async def context(app: Any) -> Any:
        settings = get_settings()
        stop = asyncio.Event()
        sender = AnnouncementSender(
            engine(app),
            http(app),
            facebook=FacebookConfig.load(None),
            zalo=ZaloConfig.load(None),
            rules=load_rules(),
            tz=ZoneInfo(settings.timezone),
        )
        task = asyncio.create_task(
            run_announcement_worker(
                engine(app), sender, stop_event=stop, concurrency=concurrency, poll_interval=2.0
            )
        )
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, timeout=30)
            except asyncio.TimeoutError:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    return context


async def _main(args: argparse.Namespace) -> None:
    from bot.db.engine import make_engine
    from bot.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    options = WorkerOptions(
        lease=timedelta(seconds=args.lease_seconds),
        backoff_base=timedelta(seconds=args.backoff_seconds),
    )
    connector = aiohttp.TCPConnector(limit=max(8, args.concurrency * 2))
    async with aiohttp.ClientSession(connector=connector) as http:
        sender = AnnouncementSender(
            engine,
            http,
            facebook=FacebookConfig.load(None),
            zalo=ZaloConfig.load(None),
            rules=load_rules(),
            tz=ZoneInfo(settings.timezone),
            max_attempts=options.max_attempts,
        )
        log.info("announcement worker: %s loops", args.concurrency)
        await run_announcement_worker(
            engine,
            sender,
            stop_event=stop,
            concurrency=args.concurrency,
            options=options,
            poll_interval=args.poll,
        )
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Deliver approved announcements.")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--lease-seconds", type=float, default=120.0)
    parser.add_argument("--backoff-seconds", type=float, default=30.0)
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    started = time.monotonic()
    asyncio.run(_main(args))
    log.info("announcement worker stopped after %.0f s", time.monotonic() - started)


if __name__ == "__main__":
    main()
