"""One way to show a response on every channel, so responses are written once in the domain.

A response (Rasa's bot message: ``text``, ``buttons`` or ``quick_replies``, ``image``,
``elements``) becomes a list of :class:`Part` for a channel described by its
:class:`Capabilities`:

* choices become quick replies where the channel has them and all of them fit (Facebook: up to
  13, titles cut to 20 characters);
* otherwise they become numbered text ("1. …\\n2. …" and "Nhắn số để chọn.") and are returned as
  ``options``, so the channel can remember them and map a later "2" to the second payload
  (:func:`resolve_number`);
* text is split at the channel's length limit, on paragraph, line or word boundaries;
* an image is its own part (sent as an attachment, never as its URL in the text).

Pure functions; no Rasa, no I/O. The web chat can use :data:`WEB` when it wants the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.knowledge.replies import reply_text

__all__ = [
    "FACEBOOK",
    "WEB",
    "ZALO",
    "Capabilities",
    "Choice",
    "Part",
    "Rendered",
    "choices_from",
    "cut_title",
    "numbered_text",
    "render",
    "resolve_number",
    "split_text",
]



@dataclass(frozen=True)
class Choice:
    """A button: what the citizen sees, and what the assistant receives when it is chosen."""

    title: str
    payload: str


@dataclass(frozen=True)
class Capabilities:
    """What a channel can show. ``max_quick_replies=0``: no quick replies, numbers instead."""

    max_text: int
    max_quick_replies: int = 0
    quick_reply_title: int = 20


#: Messenger: 2,000 characters per text, up to 13 quick replies of 20 characters.
FACEBOOK = Capabilities(max_text=2000, max_quick_replies=13, quick_reply_title=20)
#: Zalo OA consultation messages: 2,000 characters, no quick replies (numbered text).
ZALO = Capabilities(max_text=2000, max_quick_replies=0)
#: The web chat shows every button and any length.
WEB = Capabilities(max_text=100_000, max_quick_replies=1000, quick_reply_title=1000)


@dataclass(frozen=True)
class Part:
    """One platform message: text (optionally with quick replies), or an image."""

    text: str = ""
    quick_replies: tuple[Choice, ...] = ()
    image: str | None = None


@dataclass(frozen=True)
class Rendered:
    parts: tuple[Part, ...] = ()
    #: Choices shown as numbered text (remember them for :func:`resolve_number`).
    options: tuple[Choice, ...] = field(default_factory=tuple)


def choices_from(buttons: Iterable[Mapping[str, Any]] | None) -> list[Choice]:
    """Rasa buttons / quick replies → choices (a URL button keeps its URL as payload)."""
    choices = []
    for button in buttons or []:
        if not isinstance(button, Mapping):
            continue
        title = str(button.get("title") or "").strip()
        payload = str(button.get("payload") or button.get("url") or title).strip()
        if title or payload:
            choices.append(Choice(title or payload, payload))
    return choices


def cut_title(title: str, limit: int) -> str:
    """``title`` in at most ``limit`` characters, ending in "…" when it was cut."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    return title[: max(1, limit - 1)].rstrip(" ,;:-") + "…"


def numbered_text(text: str, choices: Sequence[Choice]) -> str:
    """``text``, then "1. …" per choice, then ``choice_number_hint``."""
    lines = [f"{n}. {choice.title}" for n, choice in enumerate(choices, start=1)]
    head = text.strip()
    body = "\n".join(lines) + "\n" + reply_text("choice_number_hint")
    return f"{head}\n\n{body}" if head else body


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at a paragraph, line or word when possible."""
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        piece = text[:cut].rstrip()
        if piece:
            pieces.append(piece)
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


_NUMBER = re.compile(r"\s*(?:số\s*)?(\d{1,2})\s*[.)]?\s*", re.IGNORECASE)


def resolve_number(text: str | None, options: Sequence[Choice]) -> Choice | None:
    """The option a bare number ("2", "2.", "số 2") picks, or None."""
    if not text or not options:
        return None
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    number = int(match.group(1))
    if 1 <= number <= len(options):
        return options[number - 1]
    return None


def _element_text(elements: Iterable[Any]) -> tuple[str, list[Choice]]:
    lines: list[str] = []
    choices: list[Choice] = []
    for element in elements:
        if not isinstance(element, Mapping):
            continue
        title = str(element.get("title") or "").strip()
        subtitle = str(element.get("subtitle") or "").strip()
        lines.append(" – ".join(p for p in (title, subtitle) if p))
        choices.extend(choices_from(element.get("buttons")))
    return "\n".join(line for line in lines if line), choices


def render(message: Mapping[str, Any], caps: Capabilities) -> Rendered:
    """Turn one bot message into the parts ``caps`` can show (see the module docstring)."""
    text = str(message.get("text") or "").strip()
    choices = choices_from(message.get("quick_replies") or message.get("buttons"))
    if message.get("elements"):
        extra, element_choices = _element_text(message["elements"])
        text = "\n\n".join(p for p in (text, extra) if p)
        choices += element_choices
    attachment = message.get("attachment")
    if isinstance(attachment, str) and attachment.strip():
        text = "\n\n".join(p for p in (text, attachment.strip()) if p)

    parts: list[Part] = []
    options: tuple[Choice, ...] = ()
    if choices and len(choices) <= caps.max_quick_replies:
        quick = tuple(Choice(cut_title(c.title, caps.quick_reply_title), c.payload)
                      for c in choices)
        pieces = split_text(text, caps.max_text) or [reply_text("choice_prompt")]
        parts += [Part(p) for p in pieces[:-1]]
        parts.append(Part(pieces[-1], quick_replies=quick))
    elif choices:
        options = tuple(choices)
        parts += [Part(p) for p in split_text(numbered_text(text, choices), caps.max_text)]
    elif text:
        parts += [Part(p) for p in split_text(text, caps.max_text)]

    image = message.get("image")
    if isinstance(image, str) and image.strip():
        parts.append(Part(image=image.strip()))
    return Rendered(parts=tuple(parts), options=options)
