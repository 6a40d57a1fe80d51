"""The process-wide engine for the feedback DB, created on first use (never at import).

The first caller in a process brings the schema to the newest migration and the ``units`` table
in line with the unit file, so every process that needs the DB (action server, web service,
worker, commands) is ready without a separate step. A failure (database down) raises to the caller and is retried on the next call.
"""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from bot.db.engine import make_engine
from bot.db.migrate import upgrade_to_head
from bot.settings import get_settings

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            upgrade_to_head(url)
            engine = make_engine(url)
            _sync_units(engine)
            _engines[url] = engine
        return engine


def _sync_units(engine: Engine) -> None:
    """Cases refer to units by code: the table must match the unit file this process reads."""
    from bot.db.engine import session_scope
    from bot.knowledge.content import unit_tree
    from bot.knowledge.unit_sync import sync_units

    with session_scope(engine) as session:
        sync_units(session, unit_tree())


def dispose_all() -> None:
    """Close every pooled connection (tests, shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
