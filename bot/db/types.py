"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has no time zones and PostgreSQL's ``timestamptz`` hands values back in the session's
zone; :class:`UTCDateTime` hides both so Python code only ever sees timezone-aware UTC datetimes.
:class:`JSONText` stores JSON as plain text (readable Vietnamese, no ``\\uXXXX``), so both databases
hold byte-identical payloads and nothing depends on PostgreSQL's ``json`` operators.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, Text, TypeDecorator

UTC = timezone.utc


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only kind this package stores)."""
    return datetime.now(UTC)


def ensure_aware(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` in UTC; refuse naive datetimes, whose zone would be a guess."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator):  # type: ignore[type-arg]
    """A timestamp stored in UTC and always returned timezone-aware (UTC).

    PostgreSQL: ``timestamp with time zone``. SQLite: naive UTC text, re-tagged as UTC on load.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = ensure_aware(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(TypeDecorator):  # type: ignore[type-arg]
    """JSON serialised to ``TEXT`` with ``ensure_ascii=False`` (see module docstring)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)
