"""The feedback database: models, engine factory, migrations.

Import what you need from the submodules (``bot.db.models``, ``bot.db.engine``,
``bot.db.migrate``); importing this package does no work and opens no connection.
"""

from bot.db.engine import make_engine, session_scope

__all__ = ["make_engine", "session_scope"]
