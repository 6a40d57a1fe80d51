"""``python -m bot.web [--role all|staff|worker] [--host H] [--port P]``: run the web service.

Defaults: ``WEB_ROLE`` (``all``), ``STAFF_HOST`` and ``STAFF_PORT``. See :mod:`bot.web.app` for
what each role serves.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from bot.observability import logs
from bot.settings import get_settings
from bot.web.app import ROLES, create_app


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m bot.web", description=__doc__)
    parser.add_argument("--role", choices=ROLES, default=None,
                        help=f"what to serve (default: WEB_ROLE, now {settings.web_role!r})")
    parser.add_argument("--host", default=settings.staff_host)
    parser.add_argument("--port", type=int, default=settings.staff_port)
    args = parser.parse_args(argv)
    role = args.role or settings.web_role
    logs.configure("worker" if role == "worker" else "web")
    web.run_app(
        create_app(settings, role=role),
        host=args.host,
        port=args.port,
        print=None,
        shutdown_timeout=10,
    )


if __name__ == "__main__":
    main()
