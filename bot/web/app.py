"""App factory of the web service (the aiohttp ``polls`` demo's shape: factory + cleanup_ctx).

One code base, three roles (``WEB_ROLE`` or ``python -m bot.web --role``):

* ``all`` (default, `./mttq run`): everything in one process.
* ``staff``: chat page, staff console and API, Telegram webhook — no background work, so any
  number of these can run behind a load balancer.
* ``worker``: the outbox worker and the idle-handoff monitor, with only ``/health`` (and the
  operational endpoints) on its own port. Run one: both loops are safe to run twice (outbox rows
  are claimed in the database), but one is enough.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot import staff
from bot.delivery.citizens import RasaCitizenSender
from bot.delivery.senders import DeliveryResult, OutboxRow
from bot.notify.announcements import announcement_worker_context
from bot.notify.web import outbox_worker_context, telegram_routes
from bot.observability import web_ops as observability
from bot.settings import Settings, get_settings
from bot.staff.context import database_ctx
from bot.web import chat
from bot.web.handoff_monitor import handoff_monitor
from bot.web.keys import HTTP, ROLE, SETTINGS


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
    """Liveness: the process answers (dependencies are ``/ready``'s business)."""
    return web.json_response({"status": "ok"})


async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/chat")


ROLES = ("all", "staff", "worker")


def create_app(settings: Settings | None = None, *, role: str | None = None) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[SETTINGS] = settings or get_settings()
    role = (role or app[SETTINGS].web_role).lower()
    if role not in ROLES:
        raise ValueError(f"WEB_ROLE must be one of {', '.join(ROLES)}, not {role!r}")
    app[ROLE] = role
    app.cleanup_ctx.append(_http_client)
    if role != "worker":
        app.router.add_get("/", index)
    app.router.add_get("/health", health)
    # /ready, /metrics and the HTTP metrics middleware (first, so it times the others too).
    observability.setup(app, engine=lambda: app.get(staff.ENGINE),
                        token=app[SETTINGS].metrics_token,
                        trusted_proxies=app[SETTINGS].trusted_proxies)
    if role == "worker":
        app.cleanup_ctx.append(database_ctx)  # app[staff.ENGINE] without the console's routes
        telegram_routes(app, engine=lambda a: a[staff.ENGINE], webhook=False)  # sending only
    else:
        chat.setup_routes(app)
        staff.setup(app)  # database engine (app[staff.ENGINE]), console, JSON API
        telegram_routes(app, engine=lambda a: a[staff.ENGINE])  # POST /telegram/webhook
    if role == "staff":
        return app
    app.cleanup_ctx.append(
        outbox_worker_context(
            engine=lambda a: a[staff.ENGINE], citizen_sender=_AppCitizenSender(app),
            on_result=observability.delivery_observer(app),
        )
    )
    # Announcements to subscribers (issue 16): due ones started, their rows delivered.
    app.cleanup_ctx.append(
        announcement_worker_context(engine=lambda a: a[staff.ENGINE], http=lambda a: a[HTTP])
    )
    app.cleanup_ctx.append(handoff_monitor)
    return app
