"""One send rate per platform, shared by every worker process, kept in the database (GCRA).

The row ``rate_buckets(name)`` holds ``next_at``: the earliest moment the next request to that
platform may leave. A sender *reserves* a slot — under the row lock, ``slot = max(next_at, now)``
and ``next_at = slot + interval`` — then sleeps until its slot. Slots are therefore spaced by at
least ``interval`` however many workers there are, one short transaction per message, and a worker
that dies after reserving only wastes its slot (never lets two requests share one).

``interval`` is ``1 / (rate × SAFETY)``: requests leave on their slots but reach the platform after
a network and scheduling delay that varies, so two consecutive ones can arrive closer than they
left. The sender therefore also gives up a slot it reaches more than :data:`LATE` seconds late and
reserves another; with sends at most ``LATE`` after their slots and slots ``1 / (0.85 · rate)``
apart, no calendar second holds more than ``rate`` of them (``floor(1.1 · 0.85 · rate) + 1 ≤
rate`` for every whole rate from 1 up), as long as the request itself travels in well under
``LATE``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import RateBucket

__all__ = ["LATE", "SAFETY", "lock", "reserve"]

SAFETY = 0.85
#: A slot reached later than this is given up for a fresh one (seconds).
LATE = 0.1


def reserve(
    session: Session, name: str, rate_per_second: float, *, clock: Callable[[], float] = time.time
) -> float:
    """Reserve the next slot of bucket ``name``; returns its time (Unix seconds, ``clock``)."""
    interval = 1.0 / (rate_per_second * SAFETY)
    for _ in range(3):
        bucket = session.execute(
            select(RateBucket).where(RateBucket.name == name).with_for_update()
        ).scalar_one_or_none()
        now = clock()
        if bucket is None:
            try:
                with session.begin_nested():
                    session.add(RateBucket(name=name, next_at=now + interval))
                return now
            except IntegrityError:
                continue  # another worker created it: lock that one
        slot = max(float(bucket.next_at), now)
        bucket.next_at = slot + interval
        session.flush()
        return slot
    raise RuntimeError(f"rate bucket {name!r} could not be reserved")


def lock(session: Session, name: str) -> RateBucket:
    """Lock (creating it if needed) the row ``name`` until the caller's transaction ends: the
    monthly quota check uses one per channel so two workers never both take the last message."""
    for _ in range(3):
        bucket = session.execute(
            select(RateBucket).where(RateBucket.name == name).with_for_update()
        ).scalar_one_or_none()
        if bucket is not None:
            return bucket
        try:
            with session.begin_nested():
                session.add(RateBucket(name=name, next_at=0.0))
        except IntegrityError:
            continue
    raise RuntimeError(f"row {name!r} of rate_buckets could not be locked")
