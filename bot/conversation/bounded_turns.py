"""Bounded work per sender, so no single sender can stall or silence the assistant.

Issue 18 measured it: 20 parallel 19,999-character messages held the Facebook webhook
acknowledgements for 16 s, because Rasa 3.6 runs NLU (underthesea's tokenizer, the featurizers,
DIET) synchronously on the event loop, about one second per such message, and nothing limited how
much one sender could send. Three bounds, applied in the Rasa process by :mod:`bot.conversation.rasa_patches`:

* **Length before NLU.** Only the first :data:`MAX_NLU_CHARS` characters are parsed: the intent of
  a message is in its opening, and NLU cost grows with length. The whole text is still what the
  conversation (and so a case) keeps: Rasa stores ``UserMessage.text``, not the parsed copy.
  Each channel has its own ceiling on what it keeps (:data:`MAX_KEPT_CHARS`): Messenger and Zalo
  limit what a person can type; the chat page takes up to 20,000.
* **NLU off the event loop.** Parsing runs in one dedicated worker thread (one, because the
  TensorFlow graphs are shared and a single thread keeps them serial, as they were); the event loop
  stays free to acknowledge webhooks and answer other conversations meanwhile.
* **A short GIL switch interval.** The NLU thread runs Python code (underthesea, scikit-learn's
  vectorisers) that holds the interpreter lock; each time the event loop comes back from a socket
  or a database call it must wait for the NLU thread to hand the lock over, by default up to
  5 ms, and one acknowledgement makes dozens of such calls. :data:`GIL_SWITCH_SECONDS` shortens
  the wait (``sys.setswitchinterval``) in the Rasa process only.
* **A per-sender rate limit.** Past :data:`RATE_LIMIT_MESSAGES` messages in
  :data:`RATE_LIMIT_WINDOW_SECONDS`, a sender's messages are not parsed; the first one over the
  limit in a window gets ``rate_limit_reply`` (content/replies.yml), the rest are logged and not answered (a flood
  answered message for message would be a flood the other way). The count is per process: each
  replica bounds its own work, which is the point.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TypeVar

from bot.settings import env_float, env_int

__all__ = [
    "MAX_KEPT_CHARS",
    "MAX_NLU_CHARS",
    "SenderRateLimiter",
    "cut_for_nlu",
    "kept_text",
    "run_nlu",
    "sender_limiter",
]

T = TypeVar("T")

#: Characters of a message NLU reads (``MAX_NLU_CHARS`` overrides).
MAX_NLU_CHARS = env_int("MAX_NLU_CHARS", 1000, minimum=1)
#: Characters of a message a conversation keeps, per input channel (others: ``"default"``).
MAX_KEPT_CHARS: dict[str, int] = {"facebook": 2_000, "zalo": 2_000, "rest": 20_000,
                                  "default": 20_000}
#: The interpreter's switch interval in the Rasa process (Python's default is 0.005 s).
GIL_SWITCH_SECONDS = env_float("GIL_SWITCH_SECONDS", 0.0005)
#: Messages one sender may send in the window before they are held back.
RATE_LIMIT_MESSAGES = env_int("SENDER_RATE_LIMIT_MESSAGES", 30, minimum=1)
RATE_LIMIT_WINDOW_SECONDS = env_float("SENDER_RATE_LIMIT_WINDOW_SECONDS", 60.0)


def kept_text(text: str, channel: str | None) -> str:
    """``text`` within what its channel keeps (:data:`MAX_KEPT_CHARS`)."""
    limit = MAX_KEPT_CHARS.get(channel or "default", MAX_KEPT_CHARS["default"])
    return text if len(text) <= limit else text[:limit]


def cut_for_nlu(text: str, limit: int | None = None) -> str:
    """The part of ``text`` NLU reads: the first ``limit`` characters, cut at a word boundary
    when one is near, so the tokenizer does not see half a word."""
    limit = MAX_NLU_CHARS if limit is None else limit
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return head[:space] if space > limit * 0.8 else head


@lru_cache(maxsize=1)
def _nlu_executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")


async def run_nlu(parse: Callable[[], T]) -> T:
    """Run ``parse`` (a synchronous NLU call) in the NLU thread; the conversation id and other
    context variables go with it, so its log lines still name the conversation."""
    import contextvars

    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_nlu_executor(), context.run, parse)


class SenderRateLimiter:
    """Sliding-window message count per sender; pure, with an injectable clock."""

    def __init__(self, limit: int = RATE_LIMIT_MESSAGES,
                 window_seconds: float = RATE_LIMIT_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic, max_senders: int = 50_000) -> None:
        self.limit, self.window, self.clock = limit, window_seconds, clock
        self.max_senders = max_senders
        self._seen: dict[str, deque[float]] = {}
        self._told: dict[str, float] = {}

    def check(self, sender: str) -> str:
        """``"ok"`` (counted), ``"tell"`` (over the limit: say so once) or ``"drop"``."""
        now = self.clock()
        times = self._seen.setdefault(sender, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            self._forget_idle(now)
            return "ok"
        told = self._told.get(sender)
        if told is not None and now - told < self.window:
            return "drop"
        self._told[sender] = now
        return "tell"

    def _forget_idle(self, now: float) -> None:
        if len(self._seen) <= self.max_senders:
            return
        for sender in [s for s, t in self._seen.items() if not t or now - t[-1] >= self.window]:
            self._seen.pop(sender, None)
            self._told.pop(sender, None)


@lru_cache(maxsize=1)
def sender_limiter() -> SenderRateLimiter:
    """This process's limiter."""
    return SenderRateLimiter()
