"""Sending to Messenger against a local fake Graph API: quick replies, splitting, images, window
rules for staff messages, and retries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.engine import Engine

from bot.channels import store
from bot.channels.facebook import FacebookOutput, GraphClient
from bot.channels.webhook import HttpClients
from bot.delivery.errors import ChannelSendError, OutsideMessagingWindow
from bot.fakes.platforms import FakeGraph
from bot.settings import FacebookConfig
from tests.channels.conftest import GREETING_BUTTONS

PSID = "7012345678901234"


def _output(*, proactive: bool = False) -> tuple[FacebookOutput, HttpClients]:
    http = HttpClients()
    return FacebookOutput(GraphClient(FacebookConfig.load(), http, backoff=0.01),
                          proactive=proactive), http


async def test_answer_with_quick_replies(platform_env: dict, graph: FakeGraph,
                                         channel_db: Engine) -> None:
    output, http = _output()
    try:
        await output.send_response(PSID, {"text": "Xin chào!", "buttons": GREETING_BUTTONS})
    finally:
        await http.close()
    (call,) = graph.sent
    assert call["query"] == {"access_token": "PAGE-TOKEN"}
    assert call["body"] == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "Xin chào!", "quick_replies": [
            {"content_type": "text", "title": "Hỏi về chương trình", "payload": "/ask_programme"},
            {"content_type": "text", "title": "Gửi phản ánh, kiến…", "payload": "/submit_petition"},
            {"content_type": "text", "title": "Gặp cán bộ", "payload": "/request_human"},
        ]},
    }
    assert store.get_options(channel_db, "facebook", PSID) == []  # quick replies need no numbers


async def test_long_text_is_split_and_image_is_an_attachment(platform_env: dict, graph: FakeGraph,
                                                            channel_db: Engine) -> None:
    text = "Quỹ Vì người nghèo hỗ trợ hộ nghèo xây nhà. " * 100  # ~4,400 characters
    output, http = _output()
    try:
        await output.send_response(PSID, {"text": text, "image": "https://example.org/a.jpg"})
    finally:
        await http.close()
    bodies = graph.to(PSID)
    texts = [b["message"].get("text") for b in bodies[:-1]]
    assert len(texts) == 3 and all(len(t) <= 2000 for t in texts)
    assert " ".join(texts) == text.strip()
    assert bodies[-1]["message"] == {"attachment": {"type": "image", "payload": {
        "url": "https://example.org/a.jpg", "is_reusable": True}}}


async def test_fourteen_choices_are_numbered_and_remembered(platform_env: dict, graph: FakeGraph,
                                                            channel_db: Engine) -> None:
    buttons = [{"title": f"Phường {n}", "payload": f"/inform{{\"n\":{n}}}"} for n in range(14)]
    output, http = _output()
    try:
        await output.send_response(PSID, {"text": "Chọn phường:", "buttons": buttons})
    finally:
        await http.close()
    (body,) = graph.to(PSID)
    assert "quick_replies" not in body["message"]
    assert body["message"]["text"].endswith("14. Phường 13\nNhắn số để chọn.")
    assert len(store.get_options(channel_db, "facebook", PSID)) == 14


@pytest.mark.parametrize(
    ("age", "expected"),
    [(timedelta(hours=1), {"messaging_type": "RESPONSE"}),
     (timedelta(days=3), {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"})],
)
async def test_staff_message_type_follows_the_last_message(
        platform_env: dict, graph: FakeGraph, channel_db: Engine, age: timedelta,
        expected: dict[str, str]) -> None:
    now = datetime.now(timezone.utc)
    store.admit(channel_db, "facebook", [store.Arrival("m-old", PSID, now - age)])
    output, http = _output(proactive=True)
    try:
        await output.send_response(PSID, {"text": "Cán bộ Mặt trận trả lời: đã xử lý."})
    finally:
        await http.close()
    (body,) = graph.to(PSID)
    assert {k: v for k, v in body.items() if k in ("messaging_type", "tag")} == expected


async def test_staff_message_beyond_seven_days_is_refused_without_calling_facebook(
        platform_env: dict, graph: FakeGraph, channel_db: Engine) -> None:
    now = datetime.now(timezone.utc)
    store.admit(channel_db, "facebook", [store.Arrival("m-8d", PSID, now - timedelta(days=8))],
                now=now - timedelta(days=8))
    output, http = _output(proactive=True)
    try:
        with pytest.raises(OutsideMessagingWindow):
            await output.send_response(PSID, {"text": "Cán bộ Mặt trận trả lời: ..."})
    finally:
        await http.close()
    assert graph.sent == []


async def test_platform_window_error_is_not_retried(platform_env: dict, graph: FakeGraph,
                                                    channel_db: Engine) -> None:
    graph.window_closed.add(PSID)
    output, http = _output()
    try:
        with pytest.raises(OutsideMessagingWindow) as refused:
            await output.send_response(PSID, {"text": "..."})
    finally:
        await http.close()
    assert refused.value.code == 10 and len(graph.sent) == 1


async def test_rate_limits_are_retried(platform_env: dict, graph: FakeGraph,
                                       channel_db: Engine) -> None:
    limit = {"message": "Calls to this api have exceeded the rate limit.", "code": 613}
    graph.fail_next = [(400, limit), (500, {"message": "temporary", "code": 2})]
    output, http = _output()
    try:
        await output.send_response(PSID, {"text": "xin chào"})
        graph.fail_next = [(400, limit)] * 3
        with pytest.raises(ChannelSendError) as failed:
            await output.send_response(PSID, {"text": "lần hai"})
    finally:
        await http.close()
    assert failed.value.retryable and failed.value.code == 613
    assert len(graph.sent) == 3 + 3 and len(graph.to(PSID)) == 1


async def test_invalid_page_token_fails_at_once(platform_env: dict, graph: FakeGraph,
                                                channel_db: Engine,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEBOOK_PAGE_ACCESS_TOKEN", "revoked")
    output, http = _output()
    try:
        with pytest.raises(ChannelSendError) as failed:
            await output.send_response(PSID, {"text": "x"})
    finally:
        await http.close()
    assert (failed.value.code, failed.value.retryable, len(graph.sent)) == (190, False, 1)


async def test_custom_platform_message_is_sent_as_is(platform_env: dict, graph: FakeGraph,
                                                     channel_db: Engine) -> None:
    native = {"attachment": {"type": "template", "payload": {
        "template_type": "button", "text": "Liên hệ", "buttons": [
            {"type": "phone_number", "title": "Gọi", "payload": "+842412345678"}]}}}
    output, http = _output()
    try:
        await output.send_response(PSID, {"custom": {"facebook": native}})
    finally:
        await http.close()
    assert graph.to(PSID)[0]["message"] == native
