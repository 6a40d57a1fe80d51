"""Why a message to a citizen's Facebook or Zalo conversation did not leave, in a form callers map.

The output channels raise these; they import neither Rasa nor aiohttp, so the staff side
(``bot.delivery.citizens``) can import them too.

A staff reply reaches the citizen through Rasa's ``trigger_intent`` (``output_channel=latest``):
when our output channel raises, Rasa answers that request with HTTP 500 and the exception's text in
the JSON ``message``, and does not save the turn. :class:`OutsideMessagingWindow` therefore always
starts its text with :data:`WINDOW_MARKER`, and :func:`classify_trigger_failure` turns such an
answer back into "refused" (undeliverable: keep the message, tell staff, never retry).
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "WINDOW_MARKER",
    "ChannelDeliveryError",
    "ChannelNotConfigured",
    "ChannelSendError",
    "OutsideMessagingWindow",
    "classify_trigger_failure",
]

#: Stable text at the start of every window refusal (survives Rasa's HTTP 500 wrapping).
WINDOW_MARKER = "OUTSIDE_MESSAGING_WINDOW"


class ChannelDeliveryError(Exception):
    """A message could not be delivered through ``channel``.

    ``retryable``: the same request may succeed later (rate limit, platform 5xx, network);
    ``code``: the platform's error code when it gave one.
    """

    retryable: bool = False

    def __init__(self, channel: str, detail: str, *, code: int | None = None,
                 retryable: bool | None = None) -> None:
        self.channel = channel
        self.detail = detail
        self.code = code
        if retryable is not None:
            self.retryable = retryable
        super().__init__(self._text())

    def _text(self) -> str:
        code = f" (error {self.code})" if self.code is not None else ""
        return f"{self.channel}: {self.detail}{code}"


class ChannelSendError(ChannelDeliveryError):
    """The platform refused or failed the request (see ``retryable``)."""


class ChannelNotConfigured(ChannelDeliveryError):
    """The channel's tokens or secrets are not set: nothing was tried."""

    retryable = True


class OutsideMessagingWindow(ChannelDeliveryError):
    """The platform no longer lets the page / OA write to this person (Facebook: more than 7 days
    since their last message, or 24 h for an automated message; Zalo: errors -213, -217, -227,
    -230, -232, -234, -244, including the 22:00–06:00 quiet period). Never retried: the message
    stays with staff, marked undeliverable, until the citizen writes again."""

    retryable = False

    def _text(self) -> str:
        return f"{WINDOW_MARKER}: {super()._text()}"


def classify_trigger_failure(status: int, body: str) -> Literal["refused", "retry", "fail"]:
    """What a failed ``POST /conversations/<id>/trigger_intent`` means for the outbox row.

    ``refused``: the citizen's channel is outside its messaging window (→ undeliverable);
    ``retry``: Rasa or the platform failed for now (5xx, 409 conflict); ``fail``: anything else.
    """
    if WINDOW_MARKER in body:
        return "refused"
    if status >= 500 or status == 409:
        return "retry"
    return "fail"
