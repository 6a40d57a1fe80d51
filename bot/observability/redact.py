"""Keep secrets out of log lines.

Secrets reach logs by accident, never on purpose: an HTTP client logs the URL it called (the
Telegram Bot API puts the bot token in the path, Facebook and Zalo take ``access_token=`` in the
query), a traceback prints the ``Authorization`` header it failed to parse, a database error prints
its connection URL. So every log line is scrubbed twice over:

* by **value**: every environment variable whose name says it holds a secret (``*TOKEN*``,
  ``*SECRET*``, ``*PASSWORD*``, ``*_KEY``) is replaced wherever its value appears, whatever the
  surrounding text; values shorter than :data:`MIN_SECRET_CHARS` are too likely to be ordinary
  words to be replaced safely, and the set-up never generates such short secrets;
* by **shape**: Telegram bot tokens, ``token=``/``access_token=``/``secret=`` query parameters,
  bearer credentials and passwords inside connection URLs, which catches secrets this process was
  never told about (a token pasted into a request by a caller, a rotated one).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

__all__ = ["MIN_SECRET_CHARS", "REDACTED", "redact", "secret_values"]

#: What a secret is replaced with.
REDACTED = "[đã ẩn]"
#: Shorter environment values are not treated as secrets (see the module docstring).
MIN_SECRET_CHARS = 8

_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY)",
                          re.IGNORECASE)

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # https://api.telegram.org/bot123456:AA…/sendMessage
    (re.compile(r"\bbot\d{3,}:[A-Za-z0-9_\-]{20,}"), "bot" + REDACTED),
    # ?access_token=…&token=…&secret=…&password=…&api_key=…
    (re.compile(r"(?i)\b((?:access_|refresh_|verify_|auth_|api_)?(?:token|secret|key|password)"
                r"|hub\.verify_token|appsecret_proof)=([^&\s\"'<>]+)"), r"\1=" + REDACTED),
    # Authorization: Bearer …, Basic …, a malformed "Bearer" header in a traceback
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{6,}"), r"\1 " + REDACTED),
    # postgresql://user:password@host, redis://:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^@/\s]+@"), r"\1" + REDACTED + "@"),
    # "X-Action-Server-Secret: …", "x-telegram-bot-api-secret-token: …" in dumped headers
    (re.compile(r"(?i)(secret[\w\-]*['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]{6,}"), r"\1" + REDACTED),
)


def secret_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The values of the secret-named variables in ``environ`` (default: this process's),
    longest first so a secret containing another is replaced whole."""
    environ = os.environ if environ is None else environ
    values = {value for name, value in environ.items()
              if _SECRET_NAME.search(name) and len(value) >= MIN_SECRET_CHARS}
    return tuple(sorted(values, key=len, reverse=True))


@lru_cache(maxsize=8)
def _by_value(values: tuple[str, ...]) -> re.Pattern[str] | None:
    if not values:
        return None
    return re.compile("|".join(re.escape(value) for value in values))


def redact(text: str, values: Iterable[str] | None = None) -> str:
    """``text`` without any secret: the known ``values`` (default: :func:`secret_values`) and
    anything shaped like a credential."""
    if not text:
        return text
    known = _by_value(tuple(values) if values is not None else secret_values())
    if known is not None:
        text = known.sub(REDACTED, text)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text
