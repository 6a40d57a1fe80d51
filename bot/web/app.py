"""App factory of the web service (the aiohttp ``polls`` demo's shape: factory + cleanup_ctx)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot import staff
from bot.settings import Settings, get_settings
from bot.web import chat
from bot.web.keys import HTTP, SETTINGS


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
    staff.setup(app)
    return app
