"""An announcement as each channel shows it: the platform-native message bodies the sender posts,
and what the console's preview draws from the same bodies (so the preview cannot drift from what
is sent).

The text is the author's, then the link on a line of its own, then the footer from
``content/replies.yml`` (``announcement_footer``: the unit, and how to stop). Messenger and Zalo
take at most 2,000 characters a message (the channels split there too); an image goes first, as
its own message.
"""

from __future__ import annotations

from typing import Any

from bot.knowledge.replies import reply_text

__all__ = ["MAX_CHARS", "compose_text", "messages_for", "split_text"]

MAX_CHARS = 2000


def compose_text(text: str, link_url: str | None, unit_name: str) -> str:
    body = text.strip()
    if link_url:
        body = f"{body}\n{link_url.strip()}"
    return f"{body}\n\n{reply_text('announcement_footer', unit=unit_name)}"


def split_text(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at a line break or space when there is one."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def messages_for(
    channel: str, *, text: str, image_url: str | None, link_url: str | None, unit_name: str
) -> list[dict[str, Any]]:
    """The ``message`` objects, in order, that carry the announcement on ``channel``."""
    full = compose_text(text, link_url, unit_name)
    if channel == "facebook":
        image = [
            {"attachment": {"type": "image", "payload": {"url": image_url, "is_reusable": True}}}
        ]
        return (image if image_url else []) + [{"text": p} for p in split_text(full)]
    if channel == "zalo":
        media = [
            {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "media",
                        "elements": [{"media_type": "image", "url": image_url}],
                    },
                }
            }
        ]
        return (media if image_url else []) + [{"text": p} for p in split_text(full)]
    # The chat page: how it would draw it (one bubble); it is never pushed (no push channel).
    return [{"text": full, "image": image_url}]
