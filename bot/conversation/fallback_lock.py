"""Conversation locks for when Redis is away: PostgreSQL advisory locks, else this process only.

Issue 14: a 3-second Redis restart failed 99 of 395 messages with "please resend". The Redis lock
store (:mod:`bot.conversation.redis_lock`) now waits a few seconds for Redis to come back; when it
does not, a turn still needs its conversation serialised across replicas, and every replica
already shares a PostgreSQL database in production: ``pg_try_advisory_lock`` on a 64-bit key of
the conversation id, held by one connection for the length of the turn. PostgreSQL releases it
when that connection ends, so a replica that dies cannot leave a conversation locked.

Without PostgreSQL (the embedded default runs one Rasa process) the fallback is a lock inside
this process, which is all a single process needs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["FallbackLocks", "LockTimeout", "advisory_key"]

logger = logging.getLogger(__name__)


class LockTimeout(TimeoutError):
    """The conversation stayed locked by another turn for the whole wait."""


def advisory_key(conversation_id: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (the same on every replica)."""
    digest = hashlib.blake2b(conversation_id.encode("utf-8"), digest_size=8,
                             person=b"mttq-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


class FallbackLocks:
    """Per-conversation locks on PostgreSQL (``database_url`` is ``postgresql://…``) or, for any
    other database, in this process."""

    def __init__(self, database_url: str | None, *, poll: float = 0.05) -> None:
        self.poll = poll
        self._engine: Any = None
        if database_url and database_url.startswith(("postgresql", "postgres")):
            from sqlalchemy import create_engine

            # Small pool: only turns running while Redis is away borrow from it.
            self._engine = create_engine(database_url, future=True, pool_size=4,
                                         max_overflow=16, pool_pre_ping=True)
        self._local: dict[str, asyncio.Lock] = {}

    @property
    def shared(self) -> bool:
        """True when the locks hold across replicas (PostgreSQL)."""
        return self._engine is not None

    @asynccontextmanager
    async def lock(self, conversation_id: str, wait_limit: float) -> AsyncIterator[None]:
        if self._engine is None:
            async with self._local_lock(conversation_id, wait_limit):
                yield
            return
        connection = await self._acquire_advisory(conversation_id, wait_limit)
        try:
            yield
        finally:
            await asyncio.to_thread(self._release_advisory, connection, conversation_id)

    @asynccontextmanager
    async def _local_lock(self, conversation_id: str, wait_limit: float) -> AsyncIterator[None]:
        lock = self._local.setdefault(conversation_id, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), wait_limit)
        except asyncio.TimeoutError as error:
            raise LockTimeout(conversation_id) from error
        try:
            yield
        finally:
            lock.release()
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._local.pop(conversation_id, None)

    async def _acquire_advisory(self, conversation_id: str, wait_limit: float) -> Any:
        from sqlalchemy import text

        key = advisory_key(conversation_id)
        connection = await asyncio.to_thread(self._engine.connect)
        deadline = time.monotonic() + wait_limit
        try:
            while True:
                taken = await asyncio.to_thread(
                    lambda: bool(connection.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()))
                if taken:
                    return connection
                if time.monotonic() > deadline:
                    raise LockTimeout(conversation_id)
                await asyncio.sleep(self.poll)
        except BaseException:
            await asyncio.to_thread(connection.close)
            raise

    def _release_advisory(self, connection: Any, conversation_id: str) -> None:
        from sqlalchemy import text

        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                               {"key": advisory_key(conversation_id)})
            connection.commit()
        except Exception:  # closing the connection releases it anyway
            logger.warning("Could not unlock conversation %s on PostgreSQL; closing the "
                           "connection releases it", conversation_id, exc_info=True)
        finally:
            connection.close()
