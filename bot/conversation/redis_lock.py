"""A Rasa lock store that is atomic across processes: one Redis mutex per conversation.

Rasa 3.6's ``RedisLockStore`` reads the ticket list, changes it in Python and writes it back
(GET then SET): two replicas handling two messages of one conversation at the same moment both
"acquire" it and one of the tracker updates is lost (RasaHQ/rasa#9213). Here acquiring is a single
``SET key token NX PX lifetime`` and releasing a compare-and-delete script, so exactly one holder
exists at a time, whichever process asks. The lifetime bounds how long a crashed holder can block
a conversation.

When Redis is away (a restart, a network blink) a turn waits up to ``outage_wait`` seconds for it
to come back, then falls back to :mod:`bot.conversation.fallback_lock` (PostgreSQL advisory locks
when the replicas share PostgreSQL), so a blink costs a short delay, not a failed message
(issue 14). A Redis that restarts empty holds no mutex, so a turn that held one before the blink
and a turn that takes the fallback may overlap once; the tracker store's own retries and the
case idempotency keys cover that window.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

from bot.conversation.fallback_lock import FallbackLocks, LockTimeout

logger = logging.getLogger(__name__)

#: Delete the key only if it still holds our token (a lock that expired and was taken by another
#: process must not be released by us).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

#: Extend the key's expiry only while it still holds our token.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

#: How long a message waits for its conversation's lock before giving up (seconds).
DEFAULT_WAIT_LIMIT = 60.0
#: The mutex's expiry, renewed every third of it while the turn runs. A replica that dies in
#: the middle of a turn blocks that conversation for at most this long (the load test's killed
#: replica made a citizen wait 55 s under Rasa's fixed 60 s lock lifetime).
DEFAULT_LEASE = 10.0
#: How long a turn waits for an unreachable Redis before taking the fallback lock (seconds).
DEFAULT_OUTAGE_WAIT = 8.0
_POLL_INTERVAL = 0.01
_OUTAGE_POLL = 0.25


class RedisMutexLockStore(LockStore):
    """Conversation locks as Redis mutexes (``SET NX PX`` + checked release)."""

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "mttq:lock:",
        wait_limit: float = DEFAULT_WAIT_LIMIT,
        lease: float = DEFAULT_LEASE,
        outage_wait: float | None = None,
        fallback_url: str | None = None,
    ) -> None:
        import redis

        from bot.settings import env_float, get_settings

        # Short timeouts: a Redis call runs on the event loop, and a dead Redis must not hold it.
        self.red = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)
        self.key_prefix = key_prefix
        self.wait_limit = wait_limit
        self.lease = lease
        self.outage_wait = (outage_wait if outage_wait is not None
                            else env_float("REDIS_OUTAGE_WAIT", DEFAULT_OUTAGE_WAIT))
        if fallback_url is None:
            settings = get_settings()
            fallback_url = (settings.tracker_store_url
                            if settings.tracker_store_url.startswith("postgres")
                            else settings.database_url)
        self._fallback_url = fallback_url
        self._fallback: FallbackLocks | None = None
        self._release = self.red.register_script(_RELEASE)
        self._renew = self.red.register_script(_RENEW)
        super().__init__()

    def _key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}{conversation_id}"

    def try_acquire(self, conversation_id: str, token: str, lifetime: float) -> bool:
        """One atomic attempt; True when this token now holds the conversation."""
        return bool(
            self.red.set(
                self._key(conversation_id), token, nx=True, px=max(1, int(lifetime * 1000))
            )
        )

    def release(self, conversation_id: str, token: str) -> bool:
        """Release only our own hold; False when it had expired (and maybe moved on)."""
        return bool(self._release(keys=[self._key(conversation_id)], args=[token]))

    def renew(self, conversation_id: str, token: str, lifetime: float) -> bool:
        """Push our hold's expiry ``lifetime`` seconds ahead; False when it is no longer ours."""
        ms = max(1, int(lifetime * 1000))
        return bool(self._renew(keys=[self._key(conversation_id)], args=[token, ms]))

    async def _keep_alive(self, conversation_id: str, token: str, lease: float) -> None:
        """Renew the lease while the turn runs, so a long turn keeps its conversation and a
        dead process's lock still expires within one lease."""
        import redis

        while True:
            await asyncio.sleep(lease / 3)
            try:
                if not self.renew(conversation_id, token, lease):
                    logger.warning("Lock of conversation %s was lost mid-turn", conversation_id)
                    return
            except redis.RedisError as error:  # Redis away: the next round tries again
                logger.warning("Could not renew the lock of %s: %s", conversation_id, error)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = _POLL_INTERVAL,
    ) -> AsyncGenerator[TicketLock, None]:
        token = secrets.token_hex(16)
        poll = min(max(wait_time_in_seconds, 0.005), 0.05)
        # Rasa asks for a fixed 60 s lifetime; a short lease renewed while the turn runs gives the
        # same protection to long turns and frees a crashed replica's conversations sooner.
        lease = min(lock_lifetime, self.lease)
        if not await self._acquire(conversation_id, token, lease, poll):
            async with self._fallback_lock(conversation_id) as ticket:
                yield ticket
            return
        keeper = asyncio.create_task(self._keep_alive(conversation_id, token, lease))
        try:
            yield TicketLock(conversation_id)
        finally:
            keeper.cancel()
            self._release_after_turn(conversation_id, token, lease)

    async def _acquire(self, conversation_id: str, token: str, lease: float, poll: float) -> bool:
        """Take the Redis mutex: True when held, False when Redis stayed unreachable for
        ``outage_wait`` seconds (the caller takes the fallback lock); LockError when another turn
        held the conversation for the whole ``wait_limit``."""
        import redis

        deadline = time.monotonic() + self.wait_limit
        away_since: float | None = None
        while True:
            try:
                if self.try_acquire(conversation_id, token, lease):
                    if away_since is not None:
                        logger.info("Redis is back after %.1f s", time.monotonic() - away_since)
                    return True
                away_since = None
            except redis.RedisError as error:
                now = time.monotonic()
                if away_since is None:
                    away_since = now
                    logger.warning("Redis unreachable (%s); the turn of %s waits up to %.0f s",
                                   error, conversation_id, self.outage_wait)
                if now - away_since >= self.outage_wait:
                    return False
                await asyncio.sleep(_OUTAGE_POLL)
                continue
            if time.monotonic() > deadline:
                raise LockError(
                    f"Could not acquire the lock of conversation '{conversation_id}' "
                    f"within {self.wait_limit:.0f} s."
                )
            await asyncio.sleep(poll)

    @asynccontextmanager
    async def _fallback_lock(self, conversation_id: str) -> AsyncGenerator[TicketLock, None]:
        if self._fallback is None:
            self._fallback = FallbackLocks(self._fallback_url)
        logger.warning("Redis still unreachable: conversation %s is locked on %s", conversation_id,
                       "PostgreSQL" if self._fallback.shared else "this process only")
        try:
            async with self._fallback.lock(conversation_id, self.wait_limit):
                yield TicketLock(conversation_id)
        except LockTimeout as error:
            raise LockError(
                f"Could not acquire the lock of conversation '{conversation_id}' "
                f"within {self.wait_limit:.0f} s (fallback lock)."
            ) from error

    def _release_after_turn(self, conversation_id: str, token: str, lifetime: float) -> None:
        """Release, never raise: the turn is done and saved by now.

        If Redis went away during the turn, raising here would turn a finished turn (events
        stored, maybe a case saved) into an error for the citizen, who would then be told to
        retry something that already happened (seen in the fault run: a case saved, its code
        never told). The mutex expires by itself after ``lifetime`` seconds, and a Redis that
        restarted empty holds no mutex at all.
        """
        import redis

        try:
            released = self.release(conversation_id, token)
        except redis.RedisError as error:
            logger.warning(
                "Could not release the lock of conversation %s (%s); it expires within %.0f s",
                conversation_id, error, lifetime,
            )
            return
        if not released:
            logger.warning(
                "Lock of conversation %s expired before it was released", conversation_id
            )

    # The ticket API of the base class is not used by this store; these keep it well-defined.
    def get_lock(self, conversation_id: str) -> TicketLock | None:
        return None

    def delete_lock(self, conversation_id: str) -> None:
        self.red.delete(self._key(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:  # pragma: no cover - not used
        raise NotImplementedError("RedisMutexLockStore does not store ticket locks")
