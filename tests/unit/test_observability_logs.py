"""Log lines: phone numbers masked, the conversation id bound per task, one JSON object per line,
and configure() taking over the console from Rasa's, Sanic's and structlog's set-ups."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from bot.observability import logs
from bot.observability.logs import (
    PHONE_MASK,
    ContextFilter,
    JsonFormatter,
    PhoneMaskingFilter,
    TextFormatter,
    bind_conversation,
    mask_phones,
)


@pytest.mark.parametrize(
    "text",
    [
        "0912345678",
        "0912 345 678",
        "091.234.5678",
        "0912-345-678",
        "024 3825 1234",
        "02438251234",
        "+84 912 345 678",
        "+84912345678",
        "(+84) 912345678",
        "(+84) 0912345678",
        "84912345678",
        "0084912345678",
        "sđt:0912345678",
        "０９１２３４５６７８",
    ],
)
def test_phone_numbers_are_masked(text: str) -> None:
    masked = mask_phones(f"số của tôi là {text} ạ")
    assert PHONE_MASK in masked
    assert not any(ch.isdigit() for ch in masked), masked


@pytest.mark.parametrize(
    "text",
    [
        "KN-2611-0042",
        "GY-2611-00421",
        "took 0.123456789 s",
        "2026-11-22T04:12:15.123+00:00",
        "127.0.0.1:5005",
        "psid 5678901234567890",  # a platform user id: longer than any phone
        "zalo 8432109876543210987",
        "web-3f1c2a9e-4b7d-4e21-9a3c-1d2e3f4a5b6c",
        "12345",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_phones(text) == text


def test_terminal_colour_codes_are_dropped() -> None:
    assert mask_phones("\x1b[93mUserWarning: x\x1b[0m") == "UserWarning: x"


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("test.logger", logging.INFO, __file__, 1, message, args or None,
                               None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def _json_line(record: logging.LogRecord, role: str = "rasa") -> dict[str, object]:
    ContextFilter(role).filter(record)
    PhoneMaskingFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def test_json_line_has_the_documented_keys_and_the_bound_conversation() -> None:
    with bind_conversation("web-abc"):
        line = _json_line(_record("turn for %s: %s", "web-abc", "gọi 0912 345 678"))
    assert line["message"] == f"turn for web-abc: gọi {PHONE_MASK}"
    assert line["conversation_id"] == "web-abc"
    assert (line["level"], line["logger"], line["process"]) == ("INFO", "test.logger", "rasa")
    assert str(line["time"]).endswith("+00:00") and "T" in str(line["time"])
    assert isinstance(line["pid"], int)


def test_json_line_without_a_conversation_has_no_conversation_key() -> None:
    assert "conversation_id" not in _json_line(_record("start-up"))


def test_explicit_conversation_id_wins_over_the_context() -> None:
    with bind_conversation("outer"):
        line = _json_line(_record("row", conversation_id="from-extra"))
    assert line["conversation_id"] == "from-extra"


def test_exception_and_fields_are_masked() -> None:
    try:
        raise ValueError("bad phone 0987654321 in form")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None,
                                   sys.exc_info())
    record.fields = {"text": "gọi +84 987 654 321", "nested": [{"phone": "0987654321"}], "n": 3}
    line = _json_line(record)
    assert "0987654321" not in json.dumps(line) and "987 654 321" not in json.dumps(line)
    assert "ValueError: bad phone <phone> in form" in str(line["exception"])
    assert line["fields"] == {"text": f"gọi {PHONE_MASK}", "nested": [{"phone": PHONE_MASK}],
                              "n": 3}


def test_structlog_json_rendered_by_rasa_is_unpacked() -> None:
    rendered = json.dumps({"event": "processor.message.parse", "level": "debug",
                           "parse_data_text": "0912345678"})
    line = _json_line(_record(rendered))
    assert line["message"] == "processor.message.parse"
    assert line["fields"] == {"parse_data_text": PHONE_MASK}


def test_text_line_is_readable_and_masked() -> None:
    record = _record("saved %s", "0912345678")
    with bind_conversation("conv-7"):
        ContextFilter("actions").filter(record)
    text = TextFormatter().format(record)
    assert " INFO    actions test.logger [conv-7] saved <phone>" in text


async def test_binding_reaches_tasks_and_threads_and_does_not_leak() -> None:
    seen: dict[str, str | None] = {}

    async def in_task() -> None:
        seen["task"] = logs.current_conversation()

    def in_thread() -> None:
        seen["thread"] = logs.current_conversation()

    with bind_conversation("zalo-42"):
        await asyncio.create_task(in_task())
        await asyncio.to_thread(in_thread)
        with bind_conversation("inner"):
            seen["inner"] = logs.current_conversation()
        seen["after_inner"] = logs.current_conversation()
    seen["outside"] = logs.current_conversation()
    assert seen == {"task": "zalo-42", "thread": "zalo-42", "inner": "inner",
                    "after_inner": "zalo-42", "outside": None}


def test_binding_none_keeps_the_current_id() -> None:
    with bind_conversation("a"), bind_conversation(None):
        assert logs.current_conversation() == "a"


# --------------------------------------------------------------------------- configure()


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Restore the root logger, Sanic's loggers and structlog after a test reconfigures them."""
    import structlog

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    sanic = logging.getLogger("sanic.error")
    saved_sanic = (list(sanic.handlers), sanic.propagate)
    saved_structlog = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        sanic.handlers[:] = saved_sanic[0]
        sanic.propagate = saved_sanic[1]
        structlog.configure(**saved_structlog)
        logging.captureWarnings(False)


def test_configure_takes_over_the_console_and_structlog(clean_logging: None) -> None:
    import structlog

    root = logging.getLogger()
    console = logging.StreamHandler(sys.stderr)  # what coloredlogs / basicConfig leave
    root.addHandler(console)
    sanic = logging.getLogger("sanic.error")  # Sanic's own console handler, not propagating
    sanic.addHandler(logging.StreamHandler(sys.stdout))
    sanic.propagate = False
    keep = logging.NullHandler()  # e.g. a log file Rasa was asked for: stays
    root.addHandler(keep)

    out = io.StringIO()
    logs.configure("rasa", fmt="json", level="DEBUG", stream=out)
    assert console not in root.handlers and keep in root.handlers
    assert sanic.propagate and not sanic.handlers

    with bind_conversation("fb-1"):
        logging.getLogger("rasa.core.processor").info("Received 0912345678")
        structlog.get_logger().debug("processor.message.parse", parse_data_text="0912 345 678")
        sanic.error("sanic says %s", "hi")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        "Received <phone>", "processor.message.parse", "sanic says hi"]
    assert all(line["conversation_id"] == "fb-1" and line["process"] == "rasa" for line in lines)
    assert lines[1]["fields"] == {"parse_data_text": PHONE_MASK}


def test_configure_text_is_the_default_format(clean_logging: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import get_settings

    monkeypatch.delenv("LOG_FORMAT", raising=False)
    get_settings.cache_clear()
    out = io.StringIO()
    try:
        logs.configure("web", stream=out)
        logging.getLogger("bot.web").warning("hello")
    finally:
        get_settings.cache_clear()
    assert " WARNING web bot.web hello" in out.getvalue()
