"""Where is my case: by reference code, or the citizen's last one; only for its own filer."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.cases import channel_of
from actions.common import Events, first_entity, latest_text, send
from bot.answers import Reply
from bot.cases import get_case_status, last_case_for, normalise_ref_code
from bot.db.engine import session_scope
from bot.db.runtime import get_engine
from bot.status import NO_CASES, NOT_FOUND, describe, last_public_reply

logger = logging.getLogger(__name__)
UNAVAILABLE = "Xin lỗi, hệ thống tra cứu đang gặp sự cố. Bạn vui lòng thử lại sau ít phút."


class ActionCheckStatus(Action):
    def name(self) -> str:
        return "action_check_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        code = normalise_ref_code(first_entity(tracker, "ref_code") or latest_text(tracker) or "")
        channel, user = channel_of(tracker), tracker.sender_id
        try:
            with session_scope(get_engine(), read_only=True) as session:
                view = (
                    get_case_status(session, code, channel, user)
                    if code
                    else last_case_for(session, channel, user)
                )
                reply = last_public_reply(session, view.ref_code) if view else None
        except SQLAlchemyError as error:
            logger.error("status lookup failed: %s", error)
            send(dispatcher, [Reply(UNAVAILABLE)])
            return []
        if view is None:
            # Same words whether the code does not exist or belongs to someone else.
            send(dispatcher, [Reply(NOT_FOUND if code else NO_CASES)])
            return []
        send(dispatcher, [Reply(describe(view, reply))])
        return []
