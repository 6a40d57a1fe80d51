"""The web chat page and its proxy to Rasa's REST channel, on the real aiohttp app with a fake
Rasa on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.knowledge.replies import reply_text
from bot.settings import Settings
from bot.web.app import create_app


async def _fake_rasa(received: list[dict[str, Any]]) -> TestServer:
    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        received.append(body)
        return web.json_response([{"recipient_id": body["sender"], "text": "Xin chào!",
                                   "buttons": [{"title": "Gặp cán bộ", "payload": "/request_human"}]}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def _client(rasa_url: str) -> TestClient:
    settings = dataclasses.replace(Settings(), rasa_url=rasa_url)
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
    await client.start_server()
    return client


async def test_chat_page_is_served_in_vietnamese() -> None:
    client = await _client("http://127.0.0.1:9")
    try:
        response = await client.get("/chat")
        assert response.status == 200
        html = await response.text()
        script = html.split("<script>")[1]
        assert '<html lang="vi">' in html and ".textContent = " in script and ".innerHTML" not in script
    finally:
        await client.close()


async def test_message_is_forwarded_to_rasa_and_replies_returned() -> None:
    received: list[dict[str, Any]] = []
    rasa = await _fake_rasa(received)
    client = await _client(str(rasa.make_url("")).rstrip("/"))
    sender = str(uuid.uuid4())
    try:
        response = await client.post("/chat/api/message", json={"sender": sender, "message": "xin chao"})
        assert response.status == 200
        assert (await response.json())[0]["buttons"][0]["payload"] == "/request_human"
        assert received == [{"sender": f"web-{sender}", "message": "xin chao"}]
    finally:
        await client.close()
        await rasa.close()


async def test_the_message_id_is_passed_on_and_a_malformed_one_refused() -> None:
    received: list[dict[str, Any]] = []
    rasa = await _fake_rasa(received)
    client = await _client(str(rasa.make_url("")).rstrip("/"))
    sender = str(uuid.uuid4())
    try:
        ok = await client.post("/chat/api/message",
                               json={"sender": sender, "message": "hi", "message_id": "a1-b2"})
        assert ok.status == 200
        for bad in ("", "x" * 65, "a b", 7, "<script>"):
            refused = await client.post("/chat/api/message",
                                        json={"sender": sender, "message": "hi", "message_id": bad})
            assert refused.status == 400, bad
        assert received == [{"sender": f"web-{sender}", "message": "hi", "message_id": "a1-b2"}]
    finally:
        await client.close()
        await rasa.close()


async def test_bad_requests_get_clear_vietnamese_errors() -> None:
    client = await _client("http://127.0.0.1:9")
    try:
        not_json = await client.post("/chat/api/message", data=b"{not json")
        assert not_json.status == 400 and "không hợp lệ" in (await not_json.json())["error"]
        bad_sender = await client.post("/chat/api/message", json={"sender": "x", "message": "hi"})
        assert bad_sender.status == 400
        huge = await client.post(
            "/chat/api/message", json={"sender": str(uuid.uuid4()), "message": "a" * 20_001}
        )
        assert huge.status == 413
    finally:
        await client.close()


async def test_rasa_down_is_said_plainly() -> None:
    client = await _client("http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        response = await client.post(
            "/chat/api/message", json={"sender": str(uuid.uuid4()), "message": "xin chào"}
        )
        assert response.status == 502
        assert (await response.json()) == [{"text": reply_text("chat_unavailable")}]
    finally:
        await client.close()


def test_only_replies_to_external_intents_are_polled() -> None:
    from bot.web.chat import external_replies

    events = [
        {"event": "user", "parse_data": {"intent": {"name": "greet"}}, "timestamp": 1},
        {"event": "bot", "text": "Xin chào!", "timestamp": 2},
        {"event": "user", "parse_data": {"intent": {"name": "EXTERNAL_staff_reply"}}, "timestamp": 3},
        {"event": "bot", "text": "Cán bộ Mặt trận: đã dọn", "timestamp": 4,
         "data": {"buttons": []}},
        {"event": "user", "parse_data": {"intent": {"name": "thank"}}, "timestamp": 5},
        {"event": "bot", "text": "Dạ, không có gì ạ.", "timestamp": 6},
    ]
    assert [r["text"] for r in external_replies(events, after=0)] == ["Cán bộ Mặt trận: đã dọn"]
    assert external_replies(events, after=4) == []
