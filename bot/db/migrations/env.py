"""Alembic environment for the feedback database.

The URL comes from, in order: ``alembic -x url=...``, ``config.attributes["url"]`` (set by
``bot.db.migrate``), the ``sqlalchemy.url`` option, and finally ``get_settings().database_url`` —
so ``alembic upgrade head`` with no arguments migrates the same database the bot uses.

Online migrations run in one transaction holding a migration lock (see
``bot.db.migrate.take_migration_lock``) so two processes starting at once cannot both migrate.
Migration scripts are written by hand with explicit constraint names; they never import the models,
which keeps old revisions stable when the models change.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from bot.db.engine import make_engine
from bot.db.migrate import check_sqlite_foreign_keys, take_migration_lock
from bot.db.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url: str | None = context.get_x_argument(as_dictionary=True).get("url")
    url = url or config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from bot.settings import get_settings

    return get_settings().database_url


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        # The caller owns the connection, its transaction and its locking.
        _configure_and_run(given)
        return
    engine = make_engine(_database_url(), foreign_keys=False)
    try:
        with engine.begin() as connection:
            take_migration_lock(connection)
            _configure_and_run(connection)
            check_sqlite_foreign_keys(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
