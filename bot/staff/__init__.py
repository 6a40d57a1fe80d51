"""The staff side of the web service: the console under ``/staff`` and the JSON API under
``/api/v1``.

``bot.web.app.create_app`` calls :func:`setup` once. It registers the database resource
(migrate, engine, unit sync on start-up; dispose on shutdown), the security headers and the
routes. Other parts of the staff service (the outbox worker, Telegram) may reuse the engine as
``app[bot.staff.context.ENGINE]`` once the app has started.

The console is one module per group of pages (``login``, ``case_queue``, ``case_page``,
``case_actions``, ``overview``, ``digest_page``, ``admin``, ``quarantine``, ``announcements``), each with its own ``setup_routes``;
:func:`setup` is the one list of them.
"""

from __future__ import annotations

from aiohttp import web

from bot.staff import (
    admin,
    announcements,
    api,
    case_actions,
    case_page,
    case_queue,
    digest_page,
    login,
    overview,
    quarantine,
)
from bot.staff.context import CATEGORIES, ENGINE, UNITS, database_ctx
from bot.staff.security import security_headers

__all__ = ["CATEGORIES", "ENGINE", "UNITS", "setup"]


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(database_ctx)
    app.middlewares.append(security_headers)
    login.setup_routes(app)
    case_queue.setup_routes(app)
    case_page.setup_routes(app)
    case_actions.setup_routes(app)
    overview.setup_routes(app)
    digest_page.setup_routes(app)
    admin.setup_routes(app)
    quarantine.setup_routes(app)
    announcements.setup_routes(app)
    api.setup_routes(app)
