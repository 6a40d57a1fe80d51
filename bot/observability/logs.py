"""Log lines every process writes the same way: one record per line, with the conversation id,
and never a citizen's phone number.

Why each piece exists:

* **One format for all processes.** Rasa (stdlib logging, coloredlogs, structlog, Sanic's own
  handlers), rasa_sdk and aiohttp each set up logging their own way; :func:`configure` replaces
  their console handlers with one handler, so a log collector reads every process alike.
  ``LOG_FORMAT=json`` writes one JSON object per line (``time``, ``level``, ``logger``,
  ``message``, ``process``, ``pid``, ``conversation_id`` when known, ``exception``, ``fields``);
  ``text`` (the default, what ``./mttq run`` writes to ``var/logs/``) the same facts readably.
* **The conversation id.** A citizen's problem is found by following one conversation across
  Rasa, the action server and the outbox worker. The id lives in a context variable
  (:data:`CONVERSATION_ID`) that the code handling a conversation binds with
  :func:`bind_conversation`; asyncio tasks and ``asyncio.to_thread`` inherit it, so every line
  logged while handling the message carries it without passing it around.
* **No phone numbers.** Citizens type their phone into the chat (the petition form asks for it)
  and libraries log message texts at DEBUG. :class:`PhoneMaskingFilter` and both formatters
  replace Vietnamese phone numbers with ``<phone>`` in the message, the structured fields and the
  exception text, so the number reaches no file whatever the level. Conversation ids stay as they
  are: they are platform user ids, not phone numbers.
* **No secrets.** The same filter and formatters redact tokens and secrets (:mod:`.redact`): an
  HTTP client logging a Telegram URL or a traceback quoting an ``Authorization`` header must not
  put a credential in a log file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from typing import IO, Any

from bot.observability.redact import redact

__all__ = [
    "CONVERSATION_ID",
    "PHONE_MASK",
    "ContextFilter",
    "JsonFormatter",
    "PhoneMaskingFilter",
    "TextFormatter",
    "adopt_library_loggers",
    "bind_conversation",
    "configure",
    "current_conversation",
    "mask_phones",
    "scrub",
]

#: The conversation being handled in this task (Rasa sender id), or None.
CONVERSATION_ID: ContextVar[str | None] = ContextVar("conversation_id", default=None)

#: What a phone number becomes in a log line.
PHONE_MASK = "<phone>"

#: Vietnamese phone numbers as citizens type them: ``0912345678``, ``0912 345 678``,
#: ``091.234.5678``, ``024-3825-1234``, ``+84 912 345 678``, ``(+84) 912345678``, ``84912345678``,
#: ``0084912345678``. A national number is 0 and 9-10 digits; the first digit after the 0 (or the
#: country code) must follow directly, so a decimal such as ``0.123456789`` in a timing is not
#: taken for one. Longer digit runs (platform user ids) are left alone.
_ZERO, _NONZERO, _PLUS = "[0\uff10]", "[1-9\uff11-\uff19]", "[+\uff0b]"  # also full-width
_PHONE = re.compile(
    rf"(?<![\d+\uff0b])"
    rf"(?:(?:\({_PLUS}84\)|{_PLUS}84|0084|84)[ .\-]?(?:{_ZERO}[ .\-]?)?|{_ZERO})"
    rf"{_NONZERO}(?:[ .\-]?\d){{7,9}}"
    r"(?!\d)"
)

#: Handler name of the console handler :func:`configure` installs (found again on reconfigure).
HANDLER_NAME = "mttq-console"

#: LogRecord attribute holding structured fields (structlog's key-values, or ``extra``).
FIELDS_ATTR = "fields"


#: Terminal colour codes (Rasa colours its warnings); meaningless in a file.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def mask_phones(text: str) -> str:
    """``text`` with every Vietnamese phone number replaced by :data:`PHONE_MASK` (and terminal
    colour codes dropped)."""
    if not text:
        return text
    return _PHONE.sub(PHONE_MASK, _ANSI.sub("", text))


def scrub(text: str) -> str:
    """``text`` as a log line may carry it: secrets redacted (:mod:`.redact`; first, so a bot id
    inside a token is not mistaken for a phone number), then phone numbers masked."""
    return mask_phones(redact(text)) if text else text


def current_conversation() -> str | None:
    return CONVERSATION_ID.get()


@contextlib.contextmanager
def bind_conversation(conversation_id: str | None) -> Iterator[None]:
    """Log lines written inside the block (and in tasks started from it) carry this id.

    ``None`` leaves the current binding as it is, so callers need not check.
    """
    if conversation_id is None:
        yield
        return
    token: Token[str | None] = CONVERSATION_ID.set(str(conversation_id))
    try:
        yield
    finally:
        CONVERSATION_ID.reset(token)


def _masked(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` with every string scrubbed (:func:`scrub`)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return scrub(value)
    if depth >= 6:
        return scrub(str(value))
    if isinstance(value, Mapping):
        return {str(key): _masked(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_masked(item, depth + 1) for item in value]
    if isinstance(value, bytes):
        return scrub(value.decode("utf-8", "replace"))
    return scrub(str(value))


class ContextFilter(logging.Filter):
    """Stamps each record with the process role and the bound conversation id.

    An explicit ``extra={"conversation_id": ...}`` wins over the context variable.
    """

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def filter(self, record: logging.LogRecord) -> bool:
        record.process_role = self.role
        if getattr(record, "conversation_id", None) is None:
            record.conversation_id = CONVERSATION_ID.get()
        return True


class PhoneMaskingFilter(logging.Filter):
    """Masks phone numbers and redacts secrets (:func:`scrub`) in the record itself: message,
    structured fields, exception, stack.

    Runs before any formatter, so every handler the record reaches sees the scrubbed text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it for logging's own error report
            return True
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        fields = getattr(record, FIELDS_ATTR, None)
        if isinstance(fields, Mapping):
            setattr(record, FIELDS_ATTR, _masked(fields))
        return True


def _structlog_json(message: str) -> dict[str, Any] | None:
    """The event dict of a line structlog already rendered as JSON (Rasa's renderer), or None."""
    if not (message.startswith("{") and message.endswith("}")):
        return None
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if isinstance(data, dict) and "event" in data and "level" in data:
        return data
    return None


def _message_and_fields(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    message = record.getMessage()
    fields = dict(getattr(record, FIELDS_ATTR, None) or {})
    rendered = _structlog_json(message)
    if rendered is not None:
        message = str(rendered.pop("event"))
        for key in ("level", "timestamp", "logger"):
            rendered.pop(key, None)
        fields = {**rendered, **fields}
    return message, fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line; phone numbers masked in every string value."""

    def format(self, record: logging.LogRecord) -> str:
        message, fields = _message_and_fields(record)
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "process": getattr(record, "process_role", None),
            "pid": record.process,
        }
        conversation = getattr(record, "conversation_id", None)
        if conversation:
            line["conversation_id"] = str(conversation)
        if fields:
            line["fields"] = fields
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(_masked(line), ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-11-22 04:12:15,123 INFO    rasa rasa.core.processor [web-…] message``, masked."""

    def format(self, record: logging.LogRecord) -> str:
        message, fields = _message_and_fields(record)
        conversation = getattr(record, "conversation_id", None)
        parts = [
            self.formatTime(record),
            f"{record.levelname:<7}",
            str(getattr(record, "process_role", "") or "-"),
            record.name,
        ]
        if conversation:
            parts.append(f"[{conversation}]")
        parts.append(message)
        if fields:
            parts.append(json.dumps(_masked(fields), ensure_ascii=False, default=str))
        text = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + record.exc_text
        if record.stack_info:
            text += "\n" + record.stack_info
        return scrub(text)


def _is_console(handler: logging.Handler) -> bool:
    consoles = {id(s) for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)}
    return (
        handler.get_name() == HANDLER_NAME
        or (isinstance(handler, logging.StreamHandler) and id(handler.stream) in consoles)
    )


#: Loggers Rasa and rasa_sdk leave with ``propagate = False``: with no handler of their own they
#: would print through logging's bare "last resort" handler.
SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access", "sanic.server")


def adopt_library_loggers() -> None:
    """Route loggers that print to the console themselves (Sanic's, as Rasa sets them up), or
    that do not propagate (Sanic's, as rasa_sdk leaves them), through the root handler, so their
    lines get the same format and masking.

    Rasa configures Sanic's loggers again while it starts; its process calls this once more
    from a ``before_server_start`` listener (:mod:`bot.observability.rasa_ops`).
    """
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        consoles = [h for h in logger.handlers if _is_console(h)]
        for handler in consoles:
            logger.removeHandler(handler)
        if (consoles or name in SANIC_LOGGERS) and not logger.handlers:
            logger.propagate = True


def _to_stdlib(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> tuple[tuple[str], dict[str, Any]]:
    """structlog's last processor: hand the event to stdlib logging, key-values as fields."""
    event = event_dict.pop("event", "")
    exc_info = event_dict.pop("exc_info", None)
    for key in ("level", "timestamp", "logger"):
        event_dict.pop(key, None)
    kwargs: dict[str, Any] = {"extra": {FIELDS_ATTR: dict(event_dict)}}
    if exc_info:
        kwargs["exc_info"] = exc_info
    return (str(event),), kwargs


def configure_structlog() -> None:
    """Route structlog (Rasa 3.6 logs some events through it) into stdlib logging.

    Rasa renders structlog events itself, as JSON or with colours depending on the terminal; here
    its events become ordinary records whose key-values are the record's ``fields``. Loggers Rasa
    used before this (structlog caches them) still emit rendered JSON strings, which the
    formatters unpack.
    """
    try:
        import structlog
    except ImportError:  # pragma: no cover - installed with Rasa
        return
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            structlog.dev.set_exc_info,
            _to_stdlib,
        ],
        context_class=dict,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
        cache_logger_on_first_use=True,
    )


def configure(
    role: str,
    *,
    fmt: str | None = None,
    level: str | int | None = None,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Set up this process's logging: one console handler (JSON or text) on the root logger.

    ``role`` names the process in every line (``rasa``, ``actions``, ``web``, ``proxy``…).
    ``fmt`` and ``level`` default to ``LOG_FORMAT`` and ``LOG_LEVEL`` (:mod:`bot.settings`).
    Console handlers installed by others (coloredlogs, ``basicConfig``, Sanic) are replaced;
    other handlers (a log file Rasa was asked for, pytest's capture) stay.
    """
    from bot.settings import get_settings

    settings = get_settings()
    fmt = (fmt or settings.log_format).lower()
    if fmt not in ("json", "text"):
        fmt = "text"
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter(role))
    handler.addFilter(PhoneMaskingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if _is_console(h)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_level(level if level is not None else settings.log_level))
    adopt_library_loggers()
    configure_structlog()
    logging.captureWarnings(True)
    return handler


def _level(value: str | int) -> int:
    if isinstance(value, int):
        return value
    number = logging.getLevelName(value.strip().upper())
    return number if isinstance(number, int) else logging.INFO
