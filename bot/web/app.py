"""App factory of the web service (the aiohttp ``polls`` demo's shape: factory + cleanup_ctx)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot import staff
from bot.citizen_delivery import RasaCitizenSender
from bot.notify.delivery import DeliveryResult, OutboxRow
from bot.notify.web import outbox_worker_context, telegram_routes
from bot.settings import Settings, get_settings
from bot.web import chat
from bot.web.handoff_monitor import handoff_monitor
from bot.web.keys import HTTP, SETTINGS


class _AppCitizenSender:
    """The outbox worker's citizen sender, using the app's HTTP client once it exists."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    async def send(self, row: OutboxRow) -> DeliveryResult:
        settings = self.app[SETTINGS]
        sender = RasaCitizenSender(settings.rasa_url, self.app[HTTP], token=settings.rasa_token)
        return await sender.send(row)


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    """One HTTP client per process, closed on shutdown."""
    session = aiohttp.ClientSession()
    app[HTTP] = session
    yield
    await session.close()


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/chat")


def create_app(settings: Settings | None = None) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[SETTINGS] = settings or get_settings()
    app.cleanup_ctx.append(_http_client)
    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    chat.setup_routes(app)
    staff.setup(app)  # database engine (app[staff.ENGINE]), console, JSON API
    telegram_routes(app, engine=lambda a: a[staff.ENGINE])  # POST /telegram/webhook
    app.cleanup_ctx.append(
        outbox_worker_context(
            engine=lambda a: a[staff.ENGINE], citizen_sender=_AppCitizenSender(app)
        )
    )
    app.cleanup_ctx.append(handoff_monitor)
    return app
