"""Where is my case: by reference code, or the citizen's last one; only for its own filer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import Events, channel_of, first_entity, latest_text, send
from bot.cases.citizen import StoreUnavailable, look_up_status
from bot.cases.status import describe
from bot.db.refcodes import code_like, normalise_ref_code
from bot.knowledge.answers import Reply
from bot.knowledge.replies import reply_text

logger = logging.getLogger(__name__)
#: Look-ups by code that found nothing, per conversation, before the code look-up pauses.
MAX_MISSES = 5
MISS_WINDOW_SECONDS = 600.0
#: Wall clock, replaceable in tests (tracker event timestamps are wall-clock seconds).
clock: Callable[[], float] = time.time


def recent_misses(events: list[dict[str, Any]], now: float) -> int:
    """Code look-ups of this conversation answered "not found" in the last window: read from the
    conversation itself, so every action server replica sees the same count."""
    not_found = reply_text("status_not_found")
    return sum(
        1 for event in events
        if event.get("event") == "bot" and event.get("text") == not_found
        and now - float(event.get("timestamp") or 0) < MISS_WINDOW_SECONDS
    )


class ActionCheckStatus(Action):
    def name(self) -> str:
        return "action_check_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        code = normalise_ref_code(first_entity(tracker, "ref_code") or latest_text(tracker) or "")
        channel, user = channel_of(tracker), tracker.sender_id
        if not code:
            wrong = code_like(first_entity(tracker, "ref_code") or latest_text(tracker))
            if wrong:  # issue 11: "MT-2611-0042" was ignored and the last case shown instead
                send(dispatcher, [Reply(reply_text("status_invalid_code", code=wrong[:40]))])
                return []
        if code and recent_misses(tracker.events, clock()) >= MAX_MISSES:
            # Codes follow a pattern; guessing them one after another (13 a second were tried)
            # is slowed down, though a look-up only ever shows a case to the one who filed it.
            logger.warning("status look-up by code paused: %d misses", MAX_MISSES)
            send(dispatcher, [Reply(reply_text("status_too_many_misses"))])
            return []
        try:
            found = await asyncio.to_thread(look_up_status, code, channel, user)
        except StoreUnavailable as error:
            logger.error("status lookup failed: %s", error)
            send(dispatcher, [Reply(reply_text("status_unavailable"))])
            return []
        if found is None:
            # Same words whether the code does not exist or belongs to someone else.
            send(dispatcher, [Reply(reply_text("status_not_found") if code else reply_text("status_no_cases"))])
            return []
        send(dispatcher, [Reply(describe(found.view, found.staff_reply))])
        return []
