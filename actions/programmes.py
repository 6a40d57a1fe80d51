"""Questions about Front programmes, answered from the knowledge base (content/programmes/)."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import Events, first_entity, latest_text, send
from bot.cases.citizen import QuestionKind, StoreUnavailable, note_question
from bot.knowledge.answers import (
    Reply,
    candidates_menu,
    canonical_programme,
    helpful_buttons,
    honest_overview,
    no_answer,
    payload,
    programme_answer,
    programme_menu,
    programme_overview,
    unanswered_question,
)
from bot.knowledge.content import knowledge_base, unit_tree
from bot.knowledge.programmes import ASPECTS
from bot.knowledge.replies import reply_text

AWAITING_HELPFUL = "helpful"
logger = logging.getLogger(__name__)


async def note(kind: str, tracker: Tracker, **fields: Any) -> None:
    """Record the question for the digest's trainers' section; a database that cannot take it
    costs the record, never the citizen's answer."""
    try:
        await asyncio.to_thread(note_question, kind, unit_code=tracker.get_slot("unit_code"),
                                **fields)
    except StoreUnavailable as error:
        logger.warning("question not recorded: %s", error)
    except Exception:  # noqa: BLE001 - a record for the trainers must never cost an answer
        logger.exception("question not recorded")


def answer_programme(
    dispatcher: CollectingDispatcher,
    programme_value: str,
    aspect: str | None,
    unit_code: str | None,
    *,
    unanswerable: bool = False,
) -> Events:
    """Send the answer for (programme, aspect) and return the slot events that remember it."""
    kb = knowledge_base()
    programme = kb.get(programme_value)
    unit = unit_tree().get(unit_code)
    events: Events = [SlotSet("programme", programme.programme), SlotSet("aspect", aspect)]
    if aspect is None:
        send(dispatcher, honest_overview(programme, unit) if unanswerable
             else [programme_overview(programme)])
        return events + [SlotSet("awaiting", None)]
    reply = programme_answer(programme, aspect, unit)
    if reply is None:
        send(dispatcher, [no_answer(programme, aspect, unit)])
        return events + [SlotSet("awaiting", None)]
    send(dispatcher, [reply, Reply(reply_text("helpful_question"), helpful_buttons())])
    return events + [SlotSet("awaiting", AWAITING_HELPFUL)]


def guessed_only(tracker: Tracker) -> bool:
    """Whether the latest message's programme came only from the programme classifier (the
    citizen described a need; no name was found in the text)."""
    found = [e for e in (tracker.latest_message or {}).get("entities") or []
             if e.get("entity") == "programme"]
    return bool(found) and all(e.get("extractor") == "ProgrammeClassifier" for e in found)


#: A message of at most this many words that names an aspect ("thế ai được hỗ trợ?", "vậy đăng
#: ký ở đâu") is a follow-up on the programme being talked about; a longer one describes a need
#: of its own ("lam the nao de giam sat viec lam duong trong ngo"), whatever came before.
FOLLOW_UP_WORDS = 8
#: A follow-up still moves to another programme when the classifier is at least this sure of it
#: (short follow-ups were guessed at 0.48-0.80 in a check of stop 39; a described need at 0.91).
SURE_GUESS = 0.9


def follow_up(tracker: Tracker) -> bool:
    """Whether the latest message is short enough to be a follow-up (:data:`FOLLOW_UP_WORDS`).

    Why: the programme of the previous answer used to win over the classifier's reading of
    every message that named an aspect, so a citizen's second, different question ("dai bieu
    hdnd hua ma ko lam thi mat tran co theo doi dc ko" after a question about 18/11) got the
    first programme's answer (found on the chat page, stop 39)."""
    return len(re.findall(r"\w+", latest_text(tracker))) <= FOLLOW_UP_WORDS


def guess_confidence(tracker: Tracker) -> float:
    """The programme classifier's confidence in the programme it found (0 when it found none)."""
    return max((float(e.get("confidence_entity") or 0.0)
                for e in (tracker.latest_message or {}).get("entities") or []
                if e.get("entity") == "programme" and e.get("extractor") == "ProgrammeClassifier"),
               default=0.0)


class ActionAnswerProgramme(Action):
    """ask_programme, with or without programme and aspect; follow-ups keep the programme."""

    def name(self) -> str:
        return "action_answer_programme"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> Events:
        kb = knowledge_base()
        said = canonical_programme(first_entity(tracker, "programme"), kb)
        aspect = first_entity(tracker, "aspect")
        aspect = aspect if aspect in ASPECTS else None
        context = tracker.get_slot("programme") if follow_up(tracker) else None
        if said is not None and aspect is not None and guessed_only(tracker) and context \
                and guess_confidence(tracker) < SURE_GUESS:
            # "thế ai được hỗ trợ?" right after an answer: the programme being talked about,
            # not the classifier's guess from a few words.
            said = None
        programme = said
        if programme is None and aspect is not None and context:
            # "thế ai được hỗ trợ?" right after a programme answer: same programme. A longer
            # question the classifier hesitates on gets its two programmes offered instead.
            programme = canonical_programme(context, kb)
        if programme is None:
            candidates = [str(c) for c in
                          (tracker.latest_message or {}).get("programme_candidates") or []]
            offered = candidates_menu(kb, candidates, aspect)
            menu = offered or programme_menu(kb)
            if aspect is not None and offered is None:
                menu = Reply(
                    reply_text("programme_which"),
                    [
                        {"title": p.button_title,
                         "payload": payload("ask_programme", programme=p.programme, aspect=aspect)}
                        for p in kb.programmes
                    ],
                )
            send(dispatcher, [menu])
            return [SlotSet("awaiting", None)]
        span = next(
            ((int(e["start"]), int(e["end"]))
             for e in (tracker.latest_message or {}).get("entities") or []
             if e.get("entity") == "programme" and "start" in e and "end" in e),
            None,
        )
        unanswerable = aspect is None and unanswered_question(
            latest_text(tracker), span, kb.get(programme)
        )
        answered = not unanswerable and (
            aspect is None or kb.get(programme).answer(aspect) is not None)
        await note(QuestionKind.ANSWERED if answered else QuestionKind.UNANSWERED, tracker,
                   programme=kb.get(programme).programme, aspect=aspect,
                   text=latest_text(tracker))
        return answer_programme(dispatcher, programme, aspect, tracker.get_slot("unit_code"),
                                unanswerable=unanswerable)
