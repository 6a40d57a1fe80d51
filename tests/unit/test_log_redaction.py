"""No secret in any log line: by value (every secret-named environment variable) and by shape
(Telegram bot URLs, token query parameters, bearer headers, passwords in connection URLs)."""

from __future__ import annotations

import io
import logging

import pytest

from bot.observability import logs
from bot.observability.redact import REDACTED, redact, secret_values

TELEGRAM = "8412345678:AAHk9-ZyXw_recognisable-telegram-token"


def test_secret_named_variables_are_redacted_wherever_their_value_appears() -> None:
    env = {"ZALO_APP_SECRET": "zalo-app-secret-VALUE", "RASA_TOKEN": "rasa-token-VALUE",
           "HOME": "/root/home-is-not-secret", "METRICS_TOKEN": "short"}
    values = secret_values(env)
    assert set(values) == {"zalo-app-secret-VALUE", "rasa-token-VALUE"}  # "short" is too short
    text = redact("sig=zalo-app-secret-VALUE at /root/home-is-not-secret;rasa-token-VALUE!", values)
    assert "VALUE" not in text and "/root/home-is-not-secret" in text


@pytest.mark.parametrize("line", [
    f"HTTP Request: POST https://api.telegram.org/bot{TELEGRAM}/sendMessage \"HTTP/1.1 200 OK\"",
    "GET https://graph.facebook.com/v19.0/me/messages?access_token=EAAGm0PX4ZCpsBAtok3n&x=1",
    "GET /webhooks/facebook/webhook?hub.verify_token=verify-me-please&hub.challenge=1",
    "ValueError: bad Authorization header 'Bearer eyJhbGciOi.payload.sig'",
    "could not connect to postgresql://mttq:pg-pass-w0rd@db:5432/mttq",
    "headers: {'X-Action-Server-Secret': 'action-secret-1234'}",
])
def test_credentials_are_redacted_by_shape(line: str) -> None:
    text = redact(line, values=())
    for secret in (TELEGRAM.split(":")[1], "EAAGm0PX4ZCpsBAtok3n", "verify-me-please",
                   "eyJhbGciOi", "pg-pass-w0rd", "action-secret-1234"):
        assert secret not in text
    assert REDACTED in text


def test_ordinary_text_is_left_alone() -> None:
    line = "Người dân gửi phản ánh về đường ngập, mã PA-2611-0042, tổ 5 phường Láng"
    assert redact(line, values=()) == line


def test_every_log_line_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TELEGRAM)
    monkeypatch.setenv("FACEBOOK_APP_SECRET", "fb-app-secret-recognisable")
    stream = io.StringIO()
    root = logging.getLogger()
    before = list(root.handlers), root.level
    handler = logs.configure("test", fmt="text", level="DEBUG", stream=stream)
    try:
        log = logging.getLogger("httpx")
        log.info("HTTP Request: POST https://api.telegram.org/bot%s/getMe", TELEGRAM)
        log.info("signature checked with %s", "fb-app-secret-recognisable")
        try:
            raise ValueError(f"token {TELEGRAM} rejected")
        except ValueError:
            log.exception("failed")
    finally:
        root.removeHandler(handler)
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    written = stream.getvalue()
    assert "getMe" in written and "failed" in written
    assert TELEGRAM not in written and TELEGRAM.split(":")[1] not in written
    assert "fb-app-secret-recognisable" not in written
