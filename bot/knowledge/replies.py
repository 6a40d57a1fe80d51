"""What the assistant says to citizens, kept in ``content/replies.yml`` rather than in code.

Wording is the trainers' work, not a programmer's: a text is fixed by editing the content file,
and the action server picks the edit up at the next message (the file is reloaded when it
changes, as the knowledge base is; see :class:`bot.knowledge.content.Reloading`). Each text
has a key; the code asks for it by key and supplies its ``{placeholders}``, so the file and the
code can be checked against each other (tests/unit/test_replies.py): every key the code uses
exists, every placeholder is supplied, and no text in the file is dead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from string import Formatter
from typing import Any

import yaml

from bot.knowledge.content import Reloading
from bot.settings import get_settings

#: The functions the code calls with a key; the checks find their uses by these names.
REPLY_FUNCTIONS = ("reply_text", "reply_prefix")


class RepliesError(ValueError):
    """``content/replies.yml`` is broken (the file and the entry are named)."""


def replies_file() -> Path:
    return get_settings().content_dir / "replies.yml"


def placeholders(text: str) -> set[str]:
    """The names of the ``{placeholders}`` in a text (``{when:%d/%m}`` is ``when``)."""
    return {field for _, field, _, _ in Formatter().parse(text) if field is not None}


def load_replies(path: Path) -> dict[str, str]:
    """Every text by key; a text that is not a string, or whose braces do not parse, is an
    error naming the file and the key (a broken edit must not reach a citizen half-worded)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RepliesError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise RepliesError(f"{path}: expected keys with their texts")
    texts: dict[str, str] = {}
    for key, text in data.items():
        if not isinstance(key, str) or not isinstance(text, str):
            raise RepliesError(f"{path}: {key!r} must be a key with one text")
        try:
            fields = placeholders(text)
        except ValueError as error:
            raise RepliesError(f"{path}: {key}: {error} (write {{{{ for a brace)") from error
        if any(not f.isidentifier() for f in fields):
            raise RepliesError(f"{path}: {key}: a placeholder must be a name, like {{ref}}")
        texts[key] = text
    return texts


_replies = Reloading(lambda: [replies_file()], lambda: load_replies(replies_file()))


def replies() -> Mapping[str, str]:
    """Every text by key, as the content file holds it now."""
    return _replies.get()


def reply_text(key: str, **values: Any) -> str:
    """The text ``key`` with its placeholders filled from ``values``."""
    try:
        text = replies()[key]
    except KeyError:
        raise KeyError(f"{replies_file()} has no text {key!r}") from None
    return text.format(**values)


def reply_prefix(key: str) -> str:
    """The fixed words the text ``key`` starts with, up to its first placeholder: how the
    assistant recognises in a conversation that it already said this text."""
    try:
        text = replies()[key]
    except KeyError:
        raise KeyError(f"{replies_file()} has no text {key!r}") from None
    literal, _, _, _ = next(iter(Formatter().parse(text)), ("", None, None, None))
    return literal
