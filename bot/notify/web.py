"""The notification side inside the aiohttp staff service: the Telegram webhook and the worker.

The lead's app factory mounts both::

    from bot.notify.web import outbox_worker_context, telegram_routes

    telegram_routes(app, engine=lambda app: app[DB_ENGINE])
    app.cleanup_ctx.append(
        outbox_worker_context(engine=lambda app: app[DB_ENGINE], citizen_sender=rasa_sender)
    )

``telegram_routes`` adds ``POST /telegram/webhook``: it refuses (403) any request whose
``X-Telegram-Bot-Api-Secret-Token`` does not equal ``TELEGRAM_WEBHOOK_SECRET`` (compared with
``hmac.compare_digest``; no secret configured means every request is refused), parses the body with
``telegram.Update.de_json`` and hands it to :class:`~bot.notify.telegram.TelegramService`. Without
``TELEGRAM_BOT_TOKEN`` nothing starts and the route answers 503 after the secret check.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TypeAlias

from aiohttp import web
from sqlalchemy.engine import Engine
from telegram import Bot, Update
from telegram.error import TelegramError

from bot.delivery.senders import Sender, senders_for
from bot.knowledge.units import UnitTree
from bot.notify.outbox import ResultObserver, WorkerOptions, run_worker
from bot.notify.telegram import TelegramService, make_bot
from bot.settings import NotifyConfig

__all__ = [
    "DEFAULT_WEBHOOK_PATH",
    "SECRET_HEADER",
    "TELEGRAM_STATE",
    "TelegramState",
    "outbox_worker_context",
    "telegram_routes",
]

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_WEBHOOK_PATH = "/telegram/webhook"

#: First wait before trying again to start a bot whose start-up (getMe) failed; doubles to 5 min.
START_RETRY_SECONDS = 5.0


@dataclass
class TelegramState:
    """Held in the app under :data:`TELEGRAM_STATE`; ``service`` is None while Telegram is off."""

    config: NotifyConfig
    service: TelegramService | None = None


TELEGRAM_STATE = web.AppKey("telegram_state", TelegramState)


EngineSource: TypeAlias = "Engine | Callable[[web.Application], Engine] | None"


def _engine_for(app: web.Application, source: EngineSource) -> tuple[Engine, bool]:
    """The engine to use and whether this module created it (and so disposes of it)."""
    if isinstance(source, Engine):
        return source, False
    if source is not None:
        return source(app), False
    from bot.db.engine import make_engine

    return make_engine(), True


async def _webhook(request: web.Request) -> web.StreamResponse:
    state = request.app[TELEGRAM_STATE]
    expected = state.config.telegram_webhook_secret
    given = request.headers.get(SECRET_HEADER)
    if (
        not expected
        or given is None
        or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
    ):
        raise web.HTTPForbidden(text="forbidden")
    service = state.service
    if service is None:
        raise web.HTTPServiceUnavailable(text="telegram is not configured")
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="invalid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise web.HTTPBadRequest(text="not a Telegram update")
    try:
        update = Update.de_json(data, service.bot)
    except Exception:
        raise web.HTTPBadRequest(text="not a Telegram update") from None
    try:
        await service.process_update(update)
    except Exception:  # answered 200 anyway: a redelivery would fail the same way
        log.exception("Telegram update %s failed", data.get("update_id"))
    return web.Response(text="ok")


def telegram_routes(
    app: web.Application,
    *,
    engine: EngineSource = None,
    config: NotifyConfig | None = None,
    tree: UnitTree | Callable[[], UnitTree] | None = None,
    path: str = DEFAULT_WEBHOOK_PATH,
    bot: Bot | None = None,
    webhook: bool = True,
) -> None:
    """Mount the webhook at ``path`` (POST) and start/stop the bot with the app.

    ``engine``: an Engine, a callable taking the app (read at start-up, e.g. from the lead's own
    app key), or None to create one from settings. Without a token the route answers 503 after
    the secret check, and nothing else starts. ``webhook=False`` (the outbox worker process)
    starts the bot for sending only and mounts no route.
    """
    config = config or NotifyConfig()
    state = TelegramState(config=config)
    app[TELEGRAM_STATE] = state
    if webhook:
        app.router.add_post(path, _webhook)
    if not config.telegram_enabled and bot is None:
        log.info("TELEGRAM_BOT_TOKEN is not set: Telegram is off, staff notifications wait")
        return

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        db, owned = _engine_for(app, engine)
        the_bot = bot or make_bot(config)
        assert the_bot is not None
        service = TelegramService(the_bot, db, config=config, tree=tree)
        retry: asyncio.Task[None] | None = None
        try:
            await service.start()
            state.service = service
        except TelegramError as exc:
            # Telegram unreachable at boot must not stop the staff service: keep trying.
            log.warning("Telegram bot failed to start (%s); retrying in the background", exc)
            retry = asyncio.create_task(_keep_starting(service, state))
        try:
            yield
        finally:
            if retry is not None:
                retry.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retry
            state.service = None
            await service.stop()
            if owned:
                db.dispose()

    app.cleanup_ctx.append(lifecycle)


async def _keep_starting(service: TelegramService, state: TelegramState) -> None:
    delay = START_RETRY_SECONDS
    while True:
        await asyncio.sleep(delay)
        try:
            await service.start()
        except TelegramError as exc:
            log.warning("Telegram bot still failing to start: %s", exc)
            delay = min(delay * 2, 300.0)
            continue
        state.service = service
        log.info("Telegram bot started")
        return


def outbox_worker_context(
    *,
    engine: EngineSource = None,
    citizen_sender: Sender | None = None,
    options: WorkerOptions | None = None,
    poll_interval: float = 2.0,
    on_result: ResultObserver | None = None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` running the outbox worker inside the staff service.

    Staff kinds go to the app's :class:`TelegramService` when a token is configured (call
    :func:`telegram_routes` first); citizen kinds to ``citizen_sender`` when given. Kinds without
    a sender wait in the outbox. ``on_result`` is told each recorded attempt (metrics).
    """

    async def context(app: web.Application) -> AsyncIterator[None]:
        db, owned = _engine_for(app, engine)
        state = app.get(TELEGRAM_STATE)

        def senders() -> dict[str, Sender]:
            # Read each pass: staff rows are claimed only while the bot is up.
            return senders_for(state.service if state is not None else None, citizen_sender)

        stop = asyncio.Event()
        task = asyncio.create_task(
            run_worker(db, senders, stop_event=stop, options=options, poll_interval=poll_interval,
                       on_result=on_result)
        )
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, timeout=30)
            except asyncio.TimeoutError:
                task.cancel()
            if owned:
                db.dispose()

    return context
