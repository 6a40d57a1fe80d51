"""``python -m bot.web``: run the web service on STAFF_HOST:STAFF_PORT."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.settings import get_settings
from bot.web.app import create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    web.run_app(
        create_app(settings),
        host=settings.staff_host,
        port=settings.staff_port,
        print=None,
        shutdown_timeout=10,
    )


if __name__ == "__main__":
    main()
