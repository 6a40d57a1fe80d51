"""Handoff to a person and what staff send back, on real databases and a fake Rasa API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from action_helpers import DOMAIN, entity, make_tracker, slots_set, texts
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.handoff import (
    ActionForwardToStaff,
    ActionHandback,
    ActionRelayStaffReply,
    ActionRelayStatus,
    ActionRequestHuman,
)
from bot.cases.handoff import CITIZEN_HANDBACK, hand_back, idle_handoffs, open_handoff
from bot.cases.service import Actor
from bot.db.engine import session_scope
from bot.db.models import Case, CaseEvent, CaseKind, Outbox
from bot.db.runtime import get_engine
from bot.delivery.citizens import RasaCitizenSender, external_intent
from bot.delivery.senders import OutboxRow
from bot.knowledge.replies import reply_prefix

FORWARDED_ACK = reply_prefix("handoff_forwarded")


async def test_request_human_opens_one_handoff_case_and_says_when(database: str) -> None:
    first = CollectingDispatcher()
    events = await ActionRequestHuman().run(
        first, make_tracker("cho tôi gặp cán bộ", "request_human", sender_id="c1",
                            slots={"unit_code": "p_lang"}), DOMAIN)
    slots = slots_set(events)
    assert slots["handoff_active"] is True and slots["handoff_ref"].startswith("HT-")
    assert "phường Láng" in texts(first)[0] and slots["handoff_ref"] in texts(first)[0]
    again = CollectingDispatcher()
    events = await ActionRequestHuman().run(
        again, make_tracker("gặp cán bộ", "request_human", sender_id="c1"), DOMAIN)
    assert slots_set(events)["handoff_ref"] == slots["handoff_ref"]  # the same open case
    with session_scope(get_engine(database)) as session:
        cases = session.execute(select(Case).where(Case.kind == CaseKind.HANDOFF)).scalars().all()
        assert len(cases) == 1 and cases[0].unit_code == "p_lang"


async def test_messages_during_handoff_reach_staff(database: str) -> None:
    await ActionRequestHuman().run(CollectingDispatcher(),
                                   make_tracker("gặp cán bộ", "request_human", sender_id="c2"),
                                   DOMAIN)
    started = CollectingDispatcher()
    await ActionRequestHuman().run(started, make_tracker("gặp cán bộ", "request_human",
                                                         sender_id="c2"), DOMAIN)
    history = [{"event": "bot", "text": texts(started)[0]}]
    first = CollectingDispatcher()
    await ActionForwardToStaff().run(first, make_tracker(
        "nhà tôi ở ngõ 5, có ai không?", "inform", sender_id="c2", events=history), DOMAIN)
    # Issue 11: the first message after the handoff is acknowledged once...
    assert len(texts(first)) == 1 and texts(first)[0].startswith(FORWARDED_ACK)
    history.append({"event": "bot", "text": texts(first)[0]})
    quiet = CollectingDispatcher()
    await ActionForwardToStaff().run(quiet, make_tracker(
        "còn ai trực không?", "inform", sender_id="c2", events=history), DOMAIN)
    assert texts(quiet) == []  # ...then the assistant stays silent while a person handles it
    with session_scope(get_engine(database)) as session:
        case = open_handoff(session, "web", "c2")
        assert case is not None
        events = session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                         CaseEvent.action == "citizen_message")
                                 ).scalars().all()
        assert [e.detail["text"] for e in events] == ["nhà tôi ở ngõ 5, có ai không?",
                                                      "còn ai trực không?"]
        kinds = [o.kind for o in session.execute(select(Outbox).where(Outbox.case_id == case.id)
                                                 ).scalars()]
        assert "citizen_message" in kinds


async def test_hand_back_and_idle_timeout(database: str) -> None:
    await ActionRequestHuman().run(CollectingDispatcher(),
                                   make_tracker("gặp cán bộ", "request_human", sender_id="c3"),
                                   DOMAIN)
    with session_scope(get_engine(database)) as session:
        case = open_handoff(session, "web", "c3")
        assert case is not None
        assert idle_handoffs(session, timedelta(minutes=30)) == []
        assert [c.id for c in idle_handoffs(session, timedelta(seconds=-1))] == [case.id]
        hand_back(session, case, actor=Actor.system(), reason="idle")
    with session_scope(get_engine(database)) as session:
        assert open_handoff(session, "web", "c3") is None
        (row,) = session.execute(select(Outbox).where(Outbox.kind == CITIZEN_HANDBACK)).scalars()
        assert row.payload["conversation_id"] == "c3"
    back = CollectingDispatcher()
    events = await ActionHandback().run(back, make_tracker("", "EXTERNAL_handback"), DOMAIN)
    assert slots_set(events)["handoff_active"] is False
    assert "trợ lý tự động" in texts(back)[0]


async def test_staff_reply_and_status_are_said_in_vietnamese() -> None:
    reply = CollectingDispatcher()
    await ActionRelayStaffReply().run(reply, make_tracker(
        "", "EXTERNAL_staff_reply",
        [entity("reply_text", "Tổ dân phố sẽ dọn rác sáng mai."), entity("ref_code", "KN-2611-0001")]
    ), DOMAIN)
    assert texts(reply) == [
        "Cán bộ Mặt trận trả lời (hồ sơ KN-2611-0001): Tổ dân phố sẽ dọn rác sáng mai."]
    status = CollectingDispatcher()
    events = await ActionRelayStatus().run(status, make_tracker(
        "", "EXTERNAL_case_status",
        [entity("ref_code", "KN-2611-0001"), entity("case_status", "resolved")]), DOMAIN)
    assert texts(status)[0] == "Hồ sơ KN-2611-0001 đã được cập nhật: Đã giải quyết."
    assert [b["title"] for b in status.messages[1]["buttons"]] == ["1", "2", "3", "4", "5"]
    assert slots_set(events)["rating_ref"] == "KN-2611-0001"


@pytest.mark.parametrize(
    "kind,payload,intent,entities",
    [
        ("citizen_reply", {"text": "Đã dọn", "ref_code": "KN-1"}, "EXTERNAL_staff_reply",
         {"reply_text": "Đã dọn", "ref_code": "KN-1"}),
        ("citizen_status", {"status": "rejected", "reason": "Không thuộc thẩm quyền",
                            "ref_code": "KN-1"}, "EXTERNAL_case_status",
         {"ref_code": "KN-1", "case_status": "rejected", "reply_text": "Không thuộc thẩm quyền"}),
        (CITIZEN_HANDBACK, {"ref_code": "HT-1"}, "EXTERNAL_handback", {"ref_code": "HT-1"}),
    ],
)
def test_outbox_rows_become_external_intents(
    kind: str, payload: dict[str, Any], intent: str, entities: dict[str, str]
) -> None:
    assert external_intent(OutboxRow(1, kind, 1, "web:x", payload)) == (intent, entities)


async def test_rasa_sender_triggers_the_intent_in_the_conversation() -> None:
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    status = {"code": 200}

    async def trigger(request: web.Request) -> web.Response:
        calls.append((request.match_info["conversation"], dict(request.query), await request.json()))
        return web.json_response({"messages": []}, status=status["code"])

    app = web.Application()
    app.router.add_post("/conversations/{conversation}/trigger_intent", trigger)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            sender = RasaCitizenSender(str(server.make_url("")).rstrip("/"), http)
            row = OutboxRow(7, "citizen_reply", 1, "web:web-abc",
                            {"conversation_id": "web-abc", "text": "Chào bạn", "ref_code": "KN-1"})
            assert (await sender.send(row)).ok
            status["code"] = 500
            assert (await sender.send(row)).retryable
            status["code"] = 404
            result = await sender.send(row)
            assert not result.ok and not result.retryable
        assert calls[0] == ("web-abc", {"output_channel": "latest"},
                            {"name": "EXTERNAL_staff_reply",
                             "entities": {"reply_text": "Chào bạn", "ref_code": "KN-1"}})
    finally:
        await server.close()
    async with aiohttp.ClientSession() as http:
        down = RasaCitizenSender("http://127.0.0.1:9", http)
        assert (await down.send(row)).retryable


async def test_a_window_refusal_is_undeliverable_not_retried() -> None:
    """Rasa answers 500 with the channel's window marker: keep the reply visible, no retries."""
    from bot.delivery.errors import WINDOW_MARKER

    async def trigger(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "failure", "message": f"{WINDOW_MARKER}: zalo: error -213"}, status=500
        )

    app = web.Application()
    app.router.add_post("/conversations/{conversation}/trigger_intent", trigger)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            sender = RasaCitizenSender(str(server.make_url("")).rstrip("/"), http)
            result = await sender.send(OutboxRow(1, "citizen_reply", 1, "zalo:u",
                                                 {"conversation_id": "u", "text": "Chào",
                                                  "ref_code": "KN-1"}))
        assert result.undeliverable and not result.retryable
        assert "messaging window" in (result.error or "")
    finally:
        await server.close()


async def test_handoff_goes_to_the_ward_of_the_citizens_last_case(database: str) -> None:
    """Issue 11, item 4: "tôi muốn gặp cán bộ" right after a petition to phường Láng went to the
    city committee; the ward of the last case is known, so it goes there."""
    from actions.cases import ActionSubmitCase

    slots = {"case_kind": "petition", "case_key": "key-ward", "case_unit": "p_lang",
             "case_content": "Cống đầu ngõ 7 tắc ba ngày nay", "case_location": "ngõ 7",
             "case_category": "moi_truong", "case_consent": False, "case_confirm": "confirm"}
    await ActionSubmitCase().run(CollectingDispatcher(), make_tracker(
        "/affirm", "affirm", slots=slots, sender_id="ward-citizen"), DOMAIN)
    said = CollectingDispatcher()
    await ActionRequestHuman().run(said, make_tracker(
        "tôi muốn gặp cán bộ", "request_human", sender_id="ward-citizen"), DOMAIN)
    assert "phường Láng" in texts(said)[0]
    with session_scope(get_engine(database)) as session:
        handoff = session.execute(select(Case).where(Case.kind == CaseKind.HANDOFF,
                                                     Case.channel_user_id == "ward-citizen")
                                  ).scalars().one()
        assert handoff.unit_code == "p_lang"
    # Nothing known about a newcomer: the city (province-level) committee takes it.
    newcomer = CollectingDispatcher()
    await ActionRequestHuman().run(newcomer, make_tracker(
        "gặp cán bộ", "request_human", sender_id="newcomer"), DOMAIN)
    assert "phường Láng" not in texts(newcomer)[0]
