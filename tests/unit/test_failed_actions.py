"""Issue 18, attack 6: a custom action that could not run tells the citizen so (nothing was
saved, try again) and ends the turn, where Rasa answered nothing; a form's rejection still
passes through as Rasa designed it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, FollowupAction
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.conversation import rasa_patches


@pytest.fixture(autouse=True)
def patched() -> None:
    rasa_patches.install()


@pytest.fixture
async def action_server() -> AsyncIterator[TestServer]:
    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        if body["next_action"] == "validate_petition_form":  # a form refusing the input
            return web.json_response({"error": "no", "action_name": body["next_action"]},
                                     status=400)
        return web.json_response({"error": "boom"}, status=500)

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def run(action: str, url: str) -> list:
    domain = Domain.empty()
    remote = RemoteAction(action, EndpointConfig(url))
    return await remote.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}),
                            DialogueStateTracker("citizen", []), domain)


@pytest.mark.parametrize("where", ["refused", "error"])
async def test_an_action_that_did_not_run_says_not_saved(action_server: TestServer,
                                                         where: str) -> None:
    url = ("http://127.0.0.1:1/webhook" if where == "refused"
           else str(action_server.make_url("/webhook")))
    events = await run("action_submit_petition", url)
    assert isinstance(events[0], BotUttered) and "CHƯA được lưu" in (events[0].text or "")
    assert events[1] == FollowupAction("action_listen")  # one apology, not one per retry


async def test_a_form_rejection_is_still_a_rejection(action_server: TestServer) -> None:
    with pytest.raises(ActionExecutionRejection):
        await run("validate_petition_form", str(action_server.make_url("/webhook")))
