"""Issue 17 item 5 in the conversation: a rating of 1–2 offers to reopen the case (a button,
or typed "mở lại hồ sơ …"), within REOPEN_DAYS; the citizen's own cases only. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from action_helpers import DOMAIN, buttons, entity, make_tracker, texts
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.cases import ActionSubmitCase
from actions.handoff import ActionRecordRating, ActionReopenCase
from bot.cases import casework
from bot.cases.outcome import record_outcome
from bot.cases.service import Actor
from bot.db.engine import session_scope
from bot.db.models import Case, CaseStatus
from bot.db.runtime import get_engine
from bot.db.types import utcnow
from bot.knowledge.replies import reply_text

SLOTS = {
    "case_kind": "petition",
    "case_key": "key-reopen",
    "case_content": "Rác thải ùn ứ ở đầu ngõ 5 phố Láng Hạ cả tuần nay",
    "case_unit": "p_lang",
    "case_category": "moi_truong",
    "case_consent": False,
    "case_confirm": "confirm",
}


async def _resolved_case(database: str, sender: str) -> str:
    await ActionSubmitCase().run(
        CollectingDispatcher(),
        make_tracker("/affirm", "affirm", slots=SLOTS, sender_id=sender),
        DOMAIN,
    )
    with session_scope(get_engine(database)) as session:
        case = session.execute(select(Case)).scalar_one()
        record_outcome(
            session,
            case.id,
            action_text="Đã thu gom rác.",
            done_by="Tổ dân phố",
            done_on=(utcnow() - timedelta(days=1)).date(),
            actor=Actor.system(),
        )
        casework.change_status(session, case.id, CaseStatus.RESOLVED, actor=Actor.system())
        return str(case.ref_code)


async def _rate(sender: str, ref: str, rating: int) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    await ActionRecordRating().run(
        dispatcher,
        make_tracker(
            "/rate",
            "rate",
            sender_id=sender,
            entities=[entity("rating", str(rating)), entity("ref_code", ref)],
        ),
        DOMAIN,
    )
    return dispatcher


async def test_a_poor_rating_offers_a_reopen_which_the_owner_can_take(database: str) -> None:
    ref = await _resolved_case(database, "rater")
    rated = await _rate("rater", ref, 2)
    assert texts(rated) == [
        reply_text("rating_thanks", rating="2"),
        reply_text("reopen_offer", ref=ref, days=14),
    ]
    [button] = buttons(rated)[1]
    assert button["title"] == reply_text("reopen_button")
    assert button["payload"].startswith("/reopen_case")
    assert json.loads(button["payload"][len("/reopen_case") :]) == {"ref_code": ref}

    stranger = CollectingDispatcher()
    await ActionReopenCase().run(
        stranger,
        make_tracker(
            "/reopen_case",
            "reopen_case",
            sender_id="someone-else",
            entities=[entity("ref_code", ref)],
        ),
        DOMAIN,
    )
    assert texts(stranger) == [reply_text("reopen_refused", ref=ref, days=14)]

    owner = CollectingDispatcher()
    await ActionReopenCase().run(
        owner,
        make_tracker(
            "mở lại hồ sơ " + ref,
            "reopen_case",
            sender_id="rater",
            entities=[entity("ref_code", ref)],
        ),
        DOMAIN,
    )
    assert texts(owner) == [reply_text("reopen_done", ref=ref)]
    with session_scope(get_engine(database)) as session:
        assert session.execute(select(Case.status)).scalar_one() == CaseStatus.IN_PROGRESS


async def test_a_good_rating_offers_nothing_and_a_reopen_is_refused(database: str) -> None:
    ref = await _resolved_case(database, "happy")
    rated = await _rate("happy", ref, 5)
    assert texts(rated) == [reply_text("rating_thanks", rating="5")]
    refused = CollectingDispatcher()
    await ActionReopenCase().run(
        refused,
        make_tracker(
            "/reopen_case", "reopen_case", sender_id="happy", entities=[entity("ref_code", ref)]
        ),
        DOMAIN,
    )
    assert texts(refused) == [reply_text("reopen_refused", ref=ref, days=14)]


async def test_without_a_code_the_citizen_is_asked_which_case(database: str) -> None:
    dispatcher = CollectingDispatcher()
    await ActionReopenCase().run(
        dispatcher, make_tracker("mở lại hồ sơ", "reopen_case", sender_id="nobody"), DOMAIN
    )
    assert texts(dispatcher) == [reply_text("reopen_which")]
