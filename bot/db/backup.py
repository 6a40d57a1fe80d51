"""Backup and restore of the feedback DB, the same on SQLite and PostgreSQL.

A backup is one gzip'd JSON-lines file: a header (schema revision, time, tables) then one line per
row, tables in foreign-key order. It is made in one read transaction, so it is consistent, and a
restore goes into an EMPTY database migrated to the same revision, in one transaction, so it
either restores everything or nothing. The format is plain text on purpose: an officer can move a
backup between SQLite (a ward laptop) and PostgreSQL (the city server).
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine

from bot.db.migrate import current_revision, upgrade_to
from bot.db.models import metadata

FORMAT = "mttq-feedback-backup/1"


class BackupError(RuntimeError):
    """A backup that cannot be restored here, with the reason."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    revision: str
    rows: dict[str, int]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode()}
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value  # enums
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
        if "$date" in value:
            return date.fromisoformat(value["$date"])
        if "$b64" in value:
            return base64.b64decode(value["$b64"])
    return value


def backup(engine: Engine, path: Path) -> BackupReport:
    """Write every table to ``path`` (gzip'd JSON lines) from one consistent read."""
    counts: dict[str, int] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".partial")
    with engine.connect() as connection, gzip.open(tmp, "wt", encoding="utf-8") as out:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        revision = current_revision(connection) or ""
        tables = list(metadata.sorted_tables)
        out.write(json.dumps({"format": FORMAT, "revision": revision,
                              "tables": [t.name for t in tables]}) + "\n")
        for table in tables:
            counts[table.name] = 0
            for row in connection.execute(select(table)).mappings():
                record = {k: _encode(v) for k, v in row.items()}
                out.write(json.dumps({"t": table.name, "r": record}, ensure_ascii=False) + "\n")
                counts[table.name] += 1
    tmp.replace(path)
    return BackupReport(path, revision, counts)


def restore(engine: Engine, path: Path) -> BackupReport:
    """Load ``path`` into an empty database (migrated here to the backup's revision)."""
    with gzip.open(path, "rt", encoding="utf-8") as source:
        header = json.loads(source.readline() or "{}")
        if header.get("format") != FORMAT:
            raise BackupError(f"{path}: not a feedback backup (format {header.get('format')!r})")
        revision = str(header.get("revision") or "")
        if revision:
            upgrade_to(engine.url.render_as_string(hide_password=False), revision)
        tables = {t.name: t for t in metadata.sorted_tables}
        counts: dict[str, int] = {name: 0 for name in tables}
        with engine.begin() as connection:
            for table in tables.values():
                existing = connection.execute(select(func.count()).select_from(table)).scalar_one()
                if existing:
                    raise BackupError(
                        f"the database is not empty (table {table.name} has {existing} rows): "
                        "restore only into a new, empty database"
                    )
            batch: dict[str, list[dict[str, Any]]] = {}
            for line in source:
                item = json.loads(line)
                name = item["t"]
                if name not in tables:
                    raise BackupError(f"{path}: unknown table {name!r}")
                batch.setdefault(name, []).append({k: _decode(v) for k, v in item["r"].items()})
                counts[name] += 1
                if len(batch[name]) >= 500:
                    connection.execute(insert(tables[name]), batch.pop(name))
            for name, rows in batch.items():
                connection.execute(insert(tables[name]), rows)
            if connection.dialect.name == "postgresql":
                # Keep identity sequences ahead of the restored ids.
                for table in tables.values():
                    for column in table.primary_key.columns:
                        if column.autoincrement is True or (
                            column.autoincrement == "auto" and column.type.python_type is int
                        ):
                            connection.execute(text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                                f"'{column.name}'), COALESCE((SELECT MAX({column.name}) FROM "
                                f"{table.name}), 0) + 1, false)"
                            ))
    return BackupReport(path, revision, counts)
