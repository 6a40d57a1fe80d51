"""The webhooks in a real Sanic server (in-process, a fake assistant instead of Rasa's agent):
signatures, fast acknowledgement, redeliveries, batches, order per conversation, numbered
answers, follow / unfollow, malformed bodies."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.channels import facebook, store, zalo
from bot.channels.facebook import FacebookChannel
from bot.channels.zalo import ZaloChannel
from bot.db.engine import session_scope
from bot.db.models import ChannelUser, SeenMessage
from bot.fakes.platforms import FakeGraph, FakeZalo
from bot.settings import FacebookConfig
from tests.channels.conftest import (
    FB_SECRET,
    FB_VERIFY,
    ZALO_APP_ID,
    ZALO_OA_SECRET,
    ChannelServer,
    FakeAssistant,
    payload,
)

FB_USER = "7012345678901234"
ZALO_USER = "2468101214161820222"


@pytest.fixture
async def assistant() -> FakeAssistant:
    return FakeAssistant()


@pytest.fixture
async def server(platform_env: dict, channel_db: Engine,
                 assistant: FakeAssistant) -> AsyncIterator[ChannelServer]:
    channels = [FacebookChannel.from_credentials(None), ZaloChannel.from_credentials(None)]
    running = await ChannelServer(channels, assistant).start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def fb_message(sender: str, mid: str, text: str, *, timestamp: int | None = None) -> dict:
    return {"sender": {"id": sender}, "recipient": {"id": "109876543210987"},
            "timestamp": timestamp or int(time.time() * 1000),
            "message": {"mid": mid, "text": text}}


def fb_body(*events: dict) -> bytes:
    return json.dumps({"object": "page", "entry": [
        {"id": "109876543210987", "time": int(time.time() * 1000), "messaging": list(events)}
    ]}, ensure_ascii=False).encode()


async def post_fb(http: aiohttp.ClientSession, server: ChannelServer, body: bytes, *,
                  signature: str | None = "valid") -> tuple[int, str, float]:
    headers = {"Content-Type": "application/json"}
    if signature == "valid":
        headers["X-Hub-Signature-256"] = facebook.sign(FB_SECRET, body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    started = time.perf_counter()
    async with http.post(f"{server.url}/webhooks/facebook/webhook", data=body,
                         headers=headers) as answer:
        return answer.status, await answer.text(), time.perf_counter() - started


def zalo_body(name: str = "zalo_user_send_text", **changes: Any) -> bytes:
    body = payload(name)
    message = body.get("message")
    for key, value in changes.items():
        if key in ("text", "msg_id") and message is not None:
            message[key] = value
        elif key == "sender":
            body["sender"] = {"id": value}
        else:
            body[key] = value
    return json.dumps(body, ensure_ascii=False).encode()


async def post_zalo(http: aiohttp.ClientSession, server: ChannelServer, body: bytes, *,
                    signature: str | None = "valid") -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if signature == "valid":
        timestamp = str(json.loads(body)["timestamp"])
        headers["X-ZEvent-Signature"] = zalo.sign(ZALO_APP_ID, body, timestamp, ZALO_OA_SECRET)
    elif signature is not None:
        headers["X-ZEvent-Signature"] = signature
    async with http.post(f"{server.url}/webhooks/zalo/webhook", data=body,
                         headers=headers) as answer:
        return answer.status, await answer.text()


def _count(engine: Engine, model: Any) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


# --------------------------------------------------------------------------- Facebook


async def test_facebook_subscription_check(server: ChannelServer,
                                           http: aiohttp.ClientSession) -> None:
    url = f"{server.url}/webhooks/facebook/webhook"
    good = {"hub.mode": "subscribe", "hub.verify_token": FB_VERIFY, "hub.challenge": "1158201444"}
    async with http.get(url, params=good) as answer:
        assert (answer.status, await answer.text()) == (200, "1158201444")
    for bad in ({**good, "hub.verify_token": "guess"}, {**good, "hub.mode": "unsubscribe"},
                {"hub.challenge": "1"}):
        async with http.get(url, params=bad) as answer:
            assert answer.status == 403


async def test_facebook_message_is_acknowledged_then_answered_once(
        server: ChannelServer, http: aiohttp.ClientSession, assistant: FakeAssistant,
        graph: FakeGraph) -> None:
    status, text, _ = await post_fb(http, server, fb_body(fb_message(FB_USER, "m-1", "xin chao")))
    assert (status, text) == (200, "EVENT_RECEIVED")
    await assistant.wait_for(1)
    (message,) = assistant.messages
    assert (message.sender_id, message.text, message.input_channel, message.message_id) == (
        FB_USER, "xin chao", "facebook", "m-1")
    assert message.metadata["attachments"] == []
    (reply,) = graph.to(FB_USER)
    assert reply["messaging_type"] == "RESPONSE"
    assert [q["payload"] for q in reply["message"]["quick_replies"]] == [
        "/ask_programme", "/submit_petition", "/request_human"]


async def test_facebook_acknowledges_before_the_assistant_finishes(
        server: ChannelServer, http: aiohttp.ClientSession, assistant: FakeAssistant) -> None:
    assistant.gate = asyncio.Event()  # the assistant cannot finish until the test lets it
    status, _, _ = await post_fb(http, server, fb_body(fb_message(FB_USER, "m-slow", "chậm")))
    assert status == 200
    assert assistant.finished == [] and len(assistant.messages) <= 1
    assistant.gate.set()
    await assistant.wait_for(1)


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "forged"],
                         ids=["missing", "wrong", "garbage"])
async def test_facebook_forged_or_missing_signature_is_refused_and_nothing_kept(
        server: ChannelServer, http: aiohttp.ClientSession, assistant: FakeAssistant,
        channel_db: Engine, graph: FakeGraph, signature: str | None) -> None:
    status, _, _ = await post_fb(http, server, fb_body(fb_message(FB_USER, "m-x", "xin chao")),
                                 signature=signature)
    assert status == 403
    await asyncio.sleep(0.1)
    assert assistant.messages == [] and graph.sent == []
    assert _count(channel_db, SeenMessage) == 0 and _count(channel_db, ChannelUser) == 0


async def test_facebook_signature_of_another_body_is_refused(
        server: ChannelServer, http: aiohttp.ClientSession, assistant: FakeAssistant) -> None:
    signed = fb_body(fb_message(FB_USER, "m-a", "xin chao"))
    status, _, _ = await post_fb(http, server, fb_body(fb_message(FB_USER, "m-b", "chuyển tiền")),
                                 signature=facebook.sign(FB_SECRET, signed))
    assert status == 403 and assistant.messages == []


async def test_facebook_batch_every_event_once(server: ChannelServer, http: aiohttp.ClientSession,
                                               assistant: FakeAssistant, graph: FakeGraph) -> None:
    body = json.dumps(payload("facebook_batch"), ensure_ascii=False).encode()
    status, _, _ = await post_fb(http, server, body)
    assert status == 200
    await assistant.wait_for(3)
    assert sorted((m.sender_id, m.text) for m in assistant.messages) == [
        ("7012345678900001", "xin chào"), ("7012345678900002", "/submit_petition"),
        ("7012345678900003", "/greet")]
    assert sorted(b["recipient"]["id"] for b in graph.to_all()) == [
        "7012345678900001", "7012345678900002", "7012345678900003"]


async def test_facebook_redelivery_is_acknowledged_and_ignored(
        server: ChannelServer, http: aiohttp.ClientSession, assistant: FakeAssistant,
        graph: FakeGraph) -> None:
    body = fb_body(fb_message(FB_USER, "m-dup", "xin chao"))
    answers = await asyncio.gather(*(post_fb(http, server, body) for _ in range(5)))
    assert [a[0] for a in answers] == [200] * 5
    status, _, _ = await post_fb(http, server, body)
    assert status == 200
    await assistant.wait_for(1)
    await asyncio.sleep(0.2)
    assert len(assistant.messages) == 1 and len(graph.to(FB_USER)) == 1


async def test_one_conversation_in_order_different_ones_concurrently(
        server: ChannelServer, http: aiohttp.ClientSession, assistant: FakeAssistant) -> None:
    assistant.delay = 0.2
    for n in range(4):  # four deliveries of one person, the assistant slower than they arrive
        await post_fb(http, server, fb_body(fb_message("order-a", f"a-{n}", f"tin {n}")))
    await post_fb(http, server, fb_body(*(fb_message(f"other-{n}", f"o-{n}", "xin chao")
                                          for n in range(4))))
    await assistant.wait_for(8, timeout=10)
    assert assistant.texts("order-a") == ["tin 0", "tin 1", "tin 2", "tin 3"]
    # One person's messages never overlap; the four other people were answered side by side, not
    # one after another (read from what was in flight together, not from a wall-clock bound).
    assert all(snapshot.count("order-a") <= 1 for snapshot in assistant.overlaps)
    others = [m for m in assistant.messages if m.sender_id.startswith("other-")]
    assert len(others) == 4
    assert max(sum(s.startswith("other-") for s in snapshot)
               for snapshot in assistant.overlaps) >= 2


async def test_facebook_attachments_reach_the_assistant_as_metadata(
        server: ChannelServer, http: aiohttp.ClientSession, assistant: FakeAssistant) -> None:
    body = json.dumps(payload("facebook_attachments"), ensure_ascii=False).encode()
    assert (await post_fb(http, server, body))[0] == 200
    await assistant.wait_for(4)
    kinds = [[a["kind"] for a in m.metadata["attachments"]] for m in assistant.messages]
    assert kinds == [["image"], ["location"], ["file"], []]
    assert [m.text for m in assistant.messages] == ["", "", "đơn kiến nghị kèm theo", "👍"]


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b"[1, 2, 3]", b'{"object": "page"}', b'{"object": "user", "entry": []}',
     b"[" * 100_000 + b"]" * 100_000, "xin chào".encode("utf-16")],
    ids=["text", "list", "no-entry", "not-page", "deeply-nested", "not-utf8"],
)
async def test_facebook_malformed_signed_body_is_400(
        server: ChannelServer, http: aiohttp.ClientSession, assistant: FakeAssistant,
        body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        status, _, _ = await post_fb(http, server, body)
    assert status == 400
    assert "malformed webhook body refused (400)" in caplog.text
    assert assistant.messages == []


async def test_huge_bodies_are_413(server: ChannelServer, http: aiohttp.ClientSession,
                                   assistant: FakeAssistant) -> None:
    huge = fb_body(fb_message(FB_USER, "m-huge", "x" * 1_100_000))
    status, _, _ = await post_fb(http, server, huge)
    assert status == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the stream is counted
        for _ in range(20):
            yield b" " * 100_000

    for path in ("facebook", "zalo"):
        async with http.post(f"{server.url}/webhooks/{path}/webhook", data=chunks()) as answer:
            assert answer.status == 413
    # The server still works afterwards.
    assert (await post_fb(http, server, fb_body(fb_message(FB_USER, "m-ok", "xin chao"))))[0] == 200
    await assistant.wait_for(1)
    assert [m.message_id for m in assistant.messages] == ["m-ok"]


async def test_database_down_means_503_and_a_later_redelivery_is_processed(
        server: ChannelServer, http: aiohttp.ClientSession, assistant: FakeAssistant,
        monkeypatch: pytest.MonkeyPatch) -> None:
    body = fb_body(fb_message(FB_USER, "m-db", "xin chao"))
    real_admit = store.admit

    def down(*args: Any, **kwargs: Any) -> list[bool]:
        raise RuntimeError("database is down")

    monkeypatch.setattr(store, "admit", down)
    assert (await post_fb(http, server, body))[0] == 503
    await asyncio.sleep(0.1)
    assert assistant.messages == []
    monkeypatch.setattr(store, "admit", real_admit)
    assert (await post_fb(http, server, body))[0] == 200
    await assistant.wait_for(1)


async def test_unconfigured_channel_refuses_with_a_log_line(
        channel_db: Engine, http: aiohttp.ClientSession, assistant: FakeAssistant,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("FACEBOOK_APP_SECRET", "FACEBOOK_VERIFY_TOKEN", "FACEBOOK_PAGE_ACCESS_TOKEN",
                 "ZALO_APP_ID", "ZALO_OA_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    channels = [FacebookChannel(FacebookConfig.load()), ZaloChannel.from_credentials(None)]
    with caplog.at_level(logging.WARNING):
        running = await ChannelServer(channels, assistant).start()
    try:
        assert "facebook channel is not configured" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            body = fb_body(fb_message(FB_USER, "m-1", "xin chao"))
            assert (await post_fb(http, running, body))[0] == 503
            assert (await post_zalo(http, running, zalo_body()))[0] == 503
            async with http.get(f"{running.url}/webhooks/facebook/webhook",
                                params={"hub.mode": "subscribe", "hub.verify_token": ""}) as a:
                assert a.status == 503
        assert "facebook channel refused a webhook: FACEBOOK_VERIFY_TOKEN, FACEBOOK_APP_SECRET" \
            in caplog.text
        assert "zalo channel refused a webhook: ZALO_APP_ID, ZALO_OA_SECRET_KEY" in caplog.text
        assert assistant.messages == []
    finally:
        await running.stop()


# --------------------------------------------------------------------------- Zalo


async def test_zalo_message_and_numbered_answer(server: ChannelServer,
                                                http: aiohttp.ClientSession,
                                                assistant: FakeAssistant,
                                                zalo_api: FakeZalo) -> None:
    assert (await post_zalo(http, server, zalo_body()))[0] == 200
    await assistant.wait_for(1)
    (reply,) = zalo_api.to(ZALO_USER)
    assert reply["message"]["text"].endswith("2. Gửi phản ánh, kiến nghị\n3. Gặp cán bộ\n"
                                             "Nhắn số để chọn.")
    # "2" right after the numbered choices is the second choice's payload...
    assert (await post_zalo(http, server, zalo_body(text="2", msg_id="z-2")))[0] == 200
    await assistant.wait_for(2)
    chosen = assistant.messages[1]
    assert chosen.text == "/submit_petition"
    assert chosen.metadata["chosen"] == {"number": "2", "title": "Gửi phản ánh, kiến nghị"}
    # ...and after an answer without choices, "2" is just "2".
    assert (await post_zalo(http, server, zalo_body(text="2", msg_id="z-3")))[0] == 200
    await assistant.wait_for(3)
    assert assistant.messages[2].text == "2"


@pytest.mark.parametrize("signature", [None, "mac=" + "0" * 64, "not-a-mac"],
                         ids=["missing", "wrong", "garbage"])
async def test_zalo_forged_or_missing_signature(server: ChannelServer,
                                                http: aiohttp.ClientSession,
                                                assistant: FakeAssistant, channel_db: Engine,
                                                signature: str | None) -> None:
    assert (await post_zalo(http, server, zalo_body(), signature=signature))[0] == 403
    await asyncio.sleep(0.1)
    assert assistant.messages == [] and _count(channel_db, SeenMessage) == 0


async def test_zalo_signature_is_bound_to_the_body(server: ChannelServer,
                                                   http: aiohttp.ClientSession,
                                                   assistant: FakeAssistant) -> None:
    original = zalo_body()
    header = zalo.sign(ZALO_APP_ID, original, "1763776800123", ZALO_OA_SECRET)
    changed = zalo_body(text="chuyển khoản cho tôi")
    assert (await post_zalo(http, server, changed, signature=header))[0] == 403
    assert (await post_zalo(http, server, original, signature=header))[0] == 200
    await assistant.wait_for(1)


async def test_zalo_follow_greets_unfollow_is_only_recorded(server: ChannelServer,
                                                            http: aiohttp.ClientSession,
                                                            assistant: FakeAssistant,
                                                            zalo_api: FakeZalo,
                                                            channel_db: Engine) -> None:
    follower = "2468101214161820333"
    assert (await post_zalo(http, server, zalo_body("zalo_follow")))[0] == 200
    await assistant.wait_for(1)
    assert (assistant.messages[0].sender_id, assistant.messages[0].text) == (follower, "/greet")
    assert len(zalo_api.to(follower)) == 1
    assert (await post_zalo(http, server, zalo_body("zalo_unfollow")))[0] == 200
    await asyncio.sleep(0.2)
    assert len(assistant.messages) == 1
    with session_scope(channel_db) as session:
        row = session.execute(select(ChannelUser).where(ChannelUser.user_id == follower)
                              ).scalar_one()
        assert row.unfollowed_at is not None


async def test_zalo_echo_and_other_events_are_ignored(server: ChannelServer,
                                                      http: aiohttp.ClientSession,
                                                      assistant: FakeAssistant) -> None:
    status, text = await post_zalo(http, server, zalo_body("zalo_oa_send_text"))
    assert status == 200 and "ignored" in text
    await asyncio.sleep(0.1)
    assert assistant.messages == []


async def test_zalo_image_redelivered(server: ChannelServer, http: aiohttp.ClientSession,
                                      assistant: FakeAssistant) -> None:
    body = zalo_body("zalo_user_send_image")
    for _ in range(3):
        assert (await post_zalo(http, server, body))[0] == 200
    await assistant.wait_for(1)
    await asyncio.sleep(0.2)
    (message,) = assistant.messages
    assert message.text == "ảnh ống cống bị vỡ"
    assert message.metadata["attachments"] == [
        {"kind": "image", "url": "https://photo-stal-1.zdn.vn/ong-cong.jpg", "payload": None}]


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[]", 403), (zalo_body(msg_id=None), 400)],
    ids=["not-json", "no-timestamp", "no-msg-id"],
)
async def test_zalo_malformed(server: ChannelServer, http: aiohttp.ClientSession,
                              assistant: FakeAssistant, body: bytes, status: int) -> None:
    headers = {}
    try:
        timestamp = str(json.loads(body)["timestamp"])
        headers["X-ZEvent-Signature"] = zalo.sign(ZALO_APP_ID, body, timestamp, ZALO_OA_SECRET)
    except (ValueError, TypeError, KeyError):
        headers["X-ZEvent-Signature"] = "mac=" + "0" * 64
    async with http.post(f"{server.url}/webhooks/zalo/webhook", data=body,
                         headers=headers) as answer:
        assert answer.status == status
    assert assistant.messages == []


async def test_a_write_lock_held_by_another_process_does_not_stall_the_server(
        server: ChannelServer, http: aiohttp.ClientSession, assistant: FakeAssistant,
        channel_db: Engine) -> None:
    import sqlite3

    other = sqlite3.connect(str(channel_db.url.database), isolation_level=None, timeout=5)
    other.execute("BEGIN IMMEDIATE")  # e.g. the action server saving a case
    try:
        delivery = asyncio.create_task(
            post_fb(http, server, fb_body(fb_message(FB_USER, "m-locked", "xin chao"))))
        await asyncio.sleep(0.3)
        assert not delivery.done()  # its id is not recorded yet, so no 200 yet...
        async def health() -> int:
            async with http.get(f"{server.url}/webhooks/facebook/") as answer:
                return answer.status
        # ...but the loop is free: another request is answered while the delivery still waits
        # (judged by order of events, not by a wall-clock bound that a loaded machine can miss).
        assert await asyncio.wait_for(health(), timeout=3) == 200
        assert not delivery.done()
    finally:
        other.execute("COMMIT")
        other.close()
    status, _, _ = await delivery
    assert status == 200
    await assistant.wait_for(1)
    assert [m.message_id for m in assistant.messages] == ["m-locked"]
