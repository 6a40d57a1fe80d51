"""Readiness checks shared by the processes' ``/ready`` endpoints.

``/health`` says the process runs; ``/ready`` says it can serve now: each dependency it needs
answered a trivial request within :data:`CHECK_TIMEOUT` seconds. A load balancer or an
orchestrator takes a replica out of rotation on ``503`` and puts it back when it recovers,
instead of letting citizens' messages fail one by one.

Checks are plain callables; blocking ones (SQL, Redis) run in a worker thread so a hanging
database never stalls the event loop that also serves citizens.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

__all__ = ["CHECK_TIMEOUT", "Check", "describe", "redis_ping", "run_checks", "sql_ping"]

#: Seconds one check may take before it counts as failed.
CHECK_TIMEOUT = 3.0

#: A check returns normally when the dependency is fine and raises otherwise (sync or async).
Check = Callable[[], "Awaitable[Any] | Any"]


def describe(error: BaseException) -> str:
    """A short, single-line reason for the response body (no stack, no connection string)."""
    if isinstance(error, asyncio.TimeoutError):
        return f"no answer within {CHECK_TIMEOUT:.0f} s"
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(error).__name__}: {first}"[:200]


def sql_ping(engine: Engine) -> None:
    """``SELECT 1`` on a connection of ``engine``.

    On our SQLite engines a transaction normally starts with ``BEGIN IMMEDIATE`` (the write lock);
    a probe must never queue behind writers, so it asks for a deferred one.
    """
    from bot.db.engine import SQLITE_BEGIN_OPTION

    with engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"}).connect() as connection:
        connection.execute(text("SELECT 1"))


def redis_ping(client: Any) -> None:
    """``PING`` on a redis-py client (raises when Redis is unreachable)."""
    if not client.ping():
        raise ConnectionError("Redis did not answer PING")


async def _run_one(check: Check, timeout: float) -> str:
    try:
        if inspect.iscoroutinefunction(check):
            await asyncio.wait_for(check(), timeout)
        else:
            result = await asyncio.wait_for(asyncio.to_thread(check), timeout)
            if inspect.isawaitable(result):
                await asyncio.wait_for(result, timeout)
    except Exception as error:
        return describe(error)
    return "ok"


async def run_checks(
    checks: Mapping[str, Check], *, timeout: float = CHECK_TIMEOUT
) -> tuple[bool, dict[str, Any]]:
    """Run every check concurrently; returns (all ok, the response body).

    The body is ``{"status": "ready" | "not ready", "checks": {name: "ok" | reason}}``.
    """
    names = list(checks)
    results = await asyncio.gather(*(_run_one(checks[name], timeout) for name in names))
    outcome = dict(zip(names, results, strict=True))
    ready = all(result == "ok" for result in results)
    return ready, {"status": "ready" if ready else "not ready", "checks": outcome}
