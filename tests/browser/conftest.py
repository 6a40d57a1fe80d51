"""Fixtures of the browser tests: the staff tests' world (the real app on 127.0.0.1 over SQLite
and PostgreSQL, ``tests/staff``), here with the app's outbox worker delivering citizen messages
to a fake Rasa server, so a test sees what reaches the citizen's conversation."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import Engine

# tests/staff's helpers are imported as a top-level module there (``from staff_helpers …``).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "staff"))

from staff_helpers import World, seed_case, seed_staff, settings_for  # noqa: E402

from actions.handoff import ActionRelayStaffReply  # noqa: E402
from bot.db.models import StaffRole  # noqa: E402
from bot.web.app import create_app  # noqa: E402
from tests.browser_support import browser_ready  # noqa: E402,F401 (fixture)


class FakeRasa:
    """Rasa's ``trigger_intent`` endpoint: a staff reply runs the action the domain's rule runs
    for it (``action_relay_staff_reply``) and keeps what the citizen's chat would show."""

    def __init__(self) -> None:
        self.shown: dict[str, list[str]] = {}
        self.calls: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/conversations/{conversation}/trigger_intent", self._trigger)
        return app

    async def _trigger(self, request: web.Request) -> web.Response:
        body = await request.json()
        conversation = request.match_info["conversation"]
        self.calls.append({"conversation": conversation, **body})
        if body.get("name") != "EXTERNAL_staff_reply":
            return web.json_response({"tracker": {}, "messages": []})
        entities = [{"entity": k, "value": v} for k, v in body["entities"].items()]
        tracker = Tracker(
            sender_id=conversation,
            slots={},
            latest_message={"intent": {"name": body["name"]}, "entities": entities, "text": ""},
            events=[],
            paused=False,
            followup_action=None,
            active_loop={},
            latest_action_name="action_listen",
        )
        dispatcher = CollectingDispatcher()
        await ActionRelayStaffReply().run(dispatcher, tracker, {})
        self.shown.setdefault(conversation, []).extend(
            m.get("text") or "" for m in dispatcher.messages
        )
        return web.json_response({"tracker": {}, "messages": dispatcher.messages})


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    fake = FakeRasa()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
async def world(
    db_url: str, tmp_path: Path, seeded_engine: Engine, fake_rasa: FakeRasa
) -> AsyncIterator[World]:
    settings = dataclasses.replace(settings_for(db_url, tmp_path), rasa_url=fake_rasa.url)  # type: ignore[attr-defined]
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()  # migrates and syncs the units (cleanup_ctx)
    engine = seeded_engine
    staff = {"lan": seed_staff(engine, "lan", "p_lang", StaffRole.OFFICER, "Nguyễn Thị Lan")}
    world = World(server=server, engine=engine, staff=staff, cases={"lang": seed_case(engine)})
    try:
        yield world
    finally:
        for client in world.clients:
            await client.close()
        await server.close()
