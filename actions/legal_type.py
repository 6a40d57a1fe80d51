"""The legal type of a petition, told to the citizen (issue 17): after a petition is saved the
assistant says in one sentence what will happen to it; when the classifier is unsure it asks
which kind it is, with a button per kind, and the citizen's answer replaces the guess."""

from __future__ import annotations

import asyncio
import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import Events, first_entity, send
from bot.cases import legal_type
from bot.cases.citizen import StoreUnavailable, choose_legal_type, record_legal_type
from bot.knowledge.answers import Reply, payload
from bot.knowledge.replies import reply_text

logger = logging.getLogger(__name__)


async def legal_type_replies(case_id: int, ref_code: str, content: str) -> list[Reply]:
    """What follows the "saved" message of a petition: the explanation of its type, or the
    question when unsure. The case is saved already, so a failure here costs only the sentence."""
    try:
        guess = await asyncio.to_thread(record_legal_type, case_id, content)
    except (StoreUnavailable, legal_type.LegalTypeError) as error:
        logger.error("legal type of %s not recorded: %s", ref_code, error)
        return []
    if guess.unsure:
        options = legal_type.choices(guess)
        text = "\n".join([legal_type.unsure_question(), *(f"• {line}" for _, line in options)])
        buttons = [{"title": legal_type.label(kind),
                    "payload": payload("set_legal_type", legal_type=kind, ref_code=ref_code)}
                   for kind, _ in options]
        return [Reply(text, buttons)]
    return [Reply(legal_type.explain(guess.type))]


class ActionSetLegalType(Action):
    """The citizen picked the kind of their case from the buttons."""

    def name(self) -> str:
        return "action_set_legal_type"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        kind = first_entity(tracker, "legal_type")
        ref_code = first_entity(tracker, "ref_code") or tracker.get_slot("last_ref_code")
        if kind not in legal_type.LEGAL_TYPES or not ref_code:
            send(dispatcher, [Reply(reply_text("legal_type_not_understood"))])
            return []
        try:
            mine = await asyncio.to_thread(choose_legal_type, str(ref_code), tracker.sender_id,
                                           str(kind))
        except StoreUnavailable as error:
            logger.error("legal type of %s not saved: %s", ref_code, error)
            send(dispatcher, [Reply(reply_text("legal_type_not_saved"))])
            return []
        if not mine:
            send(dispatcher, [Reply(reply_text("legal_type_not_your_case", ref=ref_code))])
            return []
        send(dispatcher, [Reply(legal_type.explain(str(kind)))])
        return []
