"""Returns idle handoffs to the assistant (a ``cleanup_ctx`` of the web service).

An officer may forget to hand a conversation back; after ``HANDOFF_IDLE_MINUTES`` without a
message either way the conversation returns to the assistant and the citizen is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.cases.handoff import hand_back, idle_handoffs
from bot.cases.service import Actor
from bot.db.engine import session_scope
from bot.staff import ENGINE
from bot.web.keys import SETTINGS

logger = logging.getLogger(__name__)
CHECK_EVERY_SECONDS = 60.0


def return_idle(engine, idle: timedelta) -> int:  # type: ignore[no-untyped-def]
    """One pass: hand back every handoff idle for ``idle``; returns how many."""
    with session_scope(engine) as session:
        cases = idle_handoffs(session, idle)
        for case in cases:
            hand_back(session, case, actor=Actor.system(), reason="idle")
        return len(cases)


async def handoff_monitor(app: web.Application) -> AsyncIterator[None]:
    idle = timedelta(minutes=app[SETTINGS].handoff_idle_minutes)

    async def loop() -> None:
        while True:
            try:
                count = await asyncio.to_thread(return_idle, app[ENGINE], idle)
                if count:
                    logger.info("returned %d idle handoff(s) to the assistant", count)
            except SQLAlchemyError as error:
                logger.error("idle handoff check failed: %s", error)
            await asyncio.sleep(CHECK_EVERY_SECONDS)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
