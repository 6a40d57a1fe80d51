"""Sending to Zalo against a local fake OA API and OAuth server: formats, token refresh persisted,
retries, and window errors without a retry storm."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.engine import Engine

from bot.channels import store
from bot.channels.webhook import HttpClients
from bot.channels.zalo import ZaloClient, ZaloOutput, ZaloTokens
from bot.delivery.errors import ChannelNotConfigured, ChannelSendError, OutsideMessagingWindow
from bot.fakes.platforms import FakeZalo
from bot.settings import ZaloConfig
from tests.channels.conftest import GREETING_BUTTONS

USER = "2468101214161820222"


def _client(config: ZaloConfig, engine: Engine, **kwargs: object) -> tuple[ZaloClient, HttpClients]:
    http = HttpClients()
    tokens = ZaloTokens(config, http, engine=lambda: engine)
    return ZaloClient(config, http, tokens, backoff=0.01, **kwargs), http  # type: ignore[arg-type]


async def test_text_choices_and_image_formats(platform_env: dict, zalo_api: FakeZalo,
                                              channel_db: Engine) -> None:
    client, http = _client(ZaloConfig.load(), channel_db)
    output = ZaloOutput(client)
    try:
        await output.send_response(USER, {"text": "Xin chào!", "buttons": GREETING_BUTTONS})
        await output.send_response(USER, {"image": "https://example.org/so-do.png"})
    finally:
        await http.close()
    text, image = zalo_api.to(USER)
    assert text == {"recipient": {"user_id": USER}, "message": {"text": (
        "Xin chào!\n\n1. Hỏi về chương trình\n2. Gửi phản ánh, kiến nghị\n3. Gặp cán bộ\n"
        "Nhắn số để chọn.")}}
    assert image["message"] == {"attachment": {"type": "template", "payload": {
        "template_type": "media",
        "elements": [{"media_type": "image", "url": "https://example.org/so-do.png"}]}}}
    assert zalo_api.sent[0]["token"] == "ZALO-ACCESS-1"
    # The numbered choices are remembered for a later "2".
    assert [o.payload for o in store.get_options(channel_db, "zalo", USER)] == [
        b["payload"] for b in GREETING_BUTTONS]
    assert output.offered


async def test_expired_token_is_refreshed_once_persisted_and_reused(
        platform_env: dict, zalo_api: FakeZalo, channel_db: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZALO_ACCESS_TOKEN", "ZALO-ACCESS-EXPIRED")
    config = ZaloConfig.load()
    client, http = _client(config, channel_db)
    try:
        await client.send({"recipient": {"user_id": USER}, "message": {"text": "một"}})
        await client.send({"recipient": {"user_id": USER}, "message": {"text": "hai"}})
    finally:
        await http.close()
    assert [c["token"] for c in zalo_api.sent] == ["ZALO-ACCESS-EXPIRED", "ZALO-ACCESS-2",
                                                   "ZALO-ACCESS-2"]
    (refresh,) = zalo_api.refreshes
    assert refresh["secret_key"] == "ZALO-APP-SECRET"
    assert refresh["form"] == {"app_id": "1234567890", "grant_type": "refresh_token",
                               "refresh_token": "ZALO-REFRESH-1"}
    stored = store.load_token(channel_db, "zalo")
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("ZALO-ACCESS-2", "ZALO-REFRESH-2")
    assert stored.expires_at is not None and stored.expires_at > datetime.now(timezone.utc) + \
        timedelta(hours=24)

    # A restart (new objects, same environment) uses the stored pair, not the spent one.
    client, http = _client(ZaloConfig.load(), channel_db)
    try:
        await client.send({"recipient": {"user_id": USER}, "message": {"text": "ba"}})
    finally:
        await http.close()
    assert zalo_api.sent[-1]["token"] == "ZALO-ACCESS-2"
    assert len(zalo_api.refreshes) == 1


async def test_token_about_to_expire_is_refreshed_before_sending(
        platform_env: dict, zalo_api: FakeZalo, channel_db: Engine) -> None:
    config = ZaloConfig.load()
    seed = ZaloTokens(config, HttpClients()).seed_hash
    store.save_token(channel_db, "zalo", store.StoredToken(
        "ZALO-ACCESS-1", "ZALO-REFRESH-1", datetime.now(timezone.utc) + timedelta(minutes=1),
        seed))
    client, http = _client(config, channel_db)
    try:
        await client.send({"recipient": {"user_id": USER}, "message": {"text": "x"}})
    finally:
        await http.close()
    assert [c["token"] for c in zalo_api.sent] == ["ZALO-ACCESS-2"]


async def test_new_tokens_in_the_environment_replace_stored_ones(
        platform_env: dict, zalo_api: FakeZalo, channel_db: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store.save_token(channel_db, "zalo", store.StoredToken("OLD-ACCESS", "OLD-REFRESH", None,
                                                           "hash-of-an-older-seed"))
    client, http = _client(ZaloConfig.load(), channel_db)
    try:
        await client.send({"recipient": {"user_id": USER}, "message": {"text": "x"}})
    finally:
        await http.close()
    assert zalo_api.sent[0]["token"] == "ZALO-ACCESS-1"
    stored = store.load_token(channel_db, "zalo")
    assert stored is not None and stored.refresh_token == "ZALO-REFRESH-1"


async def test_refused_refresh_is_a_clear_error(platform_env: dict, zalo_api: FakeZalo,
                                                channel_db: Engine,
                                                monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ZALO_ACCESS_TOKEN", "EXPIRED")
    monkeypatch.setenv("ZALO_APP_SECRET", "wrong-secret")
    client, http = _client(ZaloConfig.load(), channel_db)
    try:
        with caplog.at_level(logging.ERROR), pytest.raises(ChannelSendError) as failed:
            await client.send({"recipient": {"user_id": USER}, "message": {"text": "x"}})
    finally:
        await http.close()
    assert not failed.value.retryable
    assert "refresh" in str(failed.value)
    assert "reconnect the OA" in caplog.text
    assert len(zalo_api.sent) == 1 and len(zalo_api.refreshes) == 1


@pytest.mark.parametrize("code", [-213, -217, -227, -230, -232, -234, -244])
async def test_window_errors_are_not_retried(platform_env: dict, zalo_api: FakeZalo,
                                             channel_db: Engine, code: int) -> None:
    zalo_api.window_closed[USER] = code
    client, http = _client(ZaloConfig.load(), channel_db)
    try:
        with pytest.raises(OutsideMessagingWindow) as refused:
            await client.send({"recipient": {"user_id": USER}, "message": {"text": "x"}})
    finally:
        await http.close()
    assert refused.value.code == code
    assert len(zalo_api.sent) == 1


async def test_retryable_errors_are_retried_with_backoff(platform_env: dict, zalo_api: FakeZalo,
                                                        channel_db: Engine) -> None:
    zalo_api.fail_next = [-32, -100]
    client, http = _client(ZaloConfig.load(), channel_db)
    try:
        await client.send({"recipient": {"user_id": USER}, "message": {"text": "x"}})
        zalo_api.fail_next = [-32, -32, -32, -32]
        with pytest.raises(ChannelSendError) as failed:
            await client.send({"recipient": {"user_id": USER}, "message": {"text": "y"}})
    finally:
        await http.close()
    assert failed.value.retryable and failed.value.code == -32
    assert len(zalo_api.sent) == 3 + 3
    assert len(zalo_api.to(USER)) == 1


async def test_other_errors_fail_at_once(platform_env: dict, zalo_api: FakeZalo,
                                        channel_db: Engine) -> None:
    zalo_api.fail_next = [-201]
    client, http = _client(ZaloConfig.load(), channel_db)
    try:
        with pytest.raises(ChannelSendError) as failed:
            await client.send({"recipient": {"user_id": USER}, "message": {"text": "x"}})
    finally:
        await http.close()
    assert (failed.value.code, failed.value.retryable, len(zalo_api.sent)) == (-201, False, 1)


async def test_unreachable_api_is_retryable(platform_env: dict, channel_db: Engine,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZALO_API_BASE", "http://127.0.0.1:9")
    client, http = _client(ZaloConfig.load(), channel_db, attempts=2)
    try:
        with pytest.raises(ChannelSendError) as failed:
            await client.send({"recipient": {"user_id": USER}, "message": {"text": "x"}})
    finally:
        await http.close()
    assert failed.value.retryable


async def test_no_token_anywhere(channel_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ZALO_ACCESS_TOKEN", "ZALO_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    client, http = _client(ZaloConfig.load({"app_id": "1", "oa_secret_key": "k"}), channel_db)
    try:
        with pytest.raises(ChannelNotConfigured):
            await client.send({"recipient": {"user_id": USER}, "message": {"text": "x"}})
    finally:
        await http.close()
