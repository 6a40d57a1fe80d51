"""Issue 18, attack 5: the Telegram bot token sits in every Bot API URL, and python-telegram-bot's
HTTP client (httpx) logs each URL at INFO. Through the project's log set-up, the token must not
reach the log, whatever the level, while the line itself stays useful."""

from __future__ import annotations

import io
import logging

import pytest
from telegram import Bot

from bot.fakes.telegram import FakeTelegram
from bot.observability import logs

#: Shaped like a real token (bot id, colon, 35 characters) and recognisable in a log.
REAL_LOOKING = "7012345678:AAF-recognisable_token-QwErTyUiOpAsDfGhJk"


@pytest.mark.parametrize("in_environment", [True, False], ids=["configured", "unknown"])
async def test_the_bot_token_never_reaches_the_log(monkeypatch: pytest.MonkeyPatch,
                                                   in_environment: bool) -> None:
    if in_environment:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", REAL_LOOKING)
    else:  # a token this process was never told about is still caught by its shape
        monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    fake = FakeTelegram(token=REAL_LOOKING)
    await fake.start()
    stream = io.StringIO()
    root = logging.getLogger()
    before = list(root.handlers), root.level
    handler = logs.configure("notify", fmt="json", level="DEBUG", stream=stream)
    try:
        async with Bot(REAL_LOOKING, base_url=fake.base_url) as bot:
            await bot.send_message(chat_id=-1001000000001, text="Phản ánh mới")
    finally:
        root.removeHandler(handler)
        root.handlers[:] = before[0]
        root.setLevel(before[1])
        await fake.stop()
    written = stream.getvalue()
    assert "sendMessage" in written  # the client did log its requests...
    assert REAL_LOOKING.split(":")[1] not in written  # ...without the token
