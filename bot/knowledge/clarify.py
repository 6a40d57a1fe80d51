"""What to offer when the assistant is not sure what the citizen meant.

Below the tuned confidence the assistant never guesses: it offers the most likely topics as
buttons, and a person. Labels are data (``content/intent_labels.yml``) so trainers can reword
them without touching Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.knowledge.replies import reply_text
from bot.settings import get_settings

HUMAN_PAYLOAD = "/request_human"


@dataclass(frozen=True)
class Option:
    """A button: what the citizen sees and the payload Rasa receives when it is pressed."""

    title: str
    payload: str

    def as_button(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class Labels:
    labels: Mapping[str, str]
    not_offered: frozenset[str]


@lru_cache(maxsize=4)
def load_labels(path: Path | None = None) -> Labels:
    """Read the intent labels file (cached per process; edit, then restart the action server)."""
    path = path or get_settings().content_dir / "intent_labels.yml"
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    labels = data.get("labels") or {}
    if not isinstance(labels, dict):
        raise ValueError(f"{path}: 'labels' must be a mapping of intent -> label")
    return Labels(
        {str(k): str(v) for k, v in labels.items()},
        frozenset(str(x) for x in data.get("not_offered") or []),
    )


def clarification_options(
    intent_ranking: Iterable[Mapping[str, Any]], labels: Labels, *, limit: int = 2
) -> list[Option]:
    """The ``limit`` most likely intents a citizen could have meant, then a person."""
    options: list[Option] = []
    for entry in intent_ranking:
        name = str(entry.get("name") or "")
        if (
            not name
            or name == "nlu_fallback"
            or name in labels.not_offered
            or name == HUMAN_PAYLOAD[1:]
            or name not in labels.labels
        ):
            continue
        options.append(Option(labels.labels[name], f"/{name}"))
        if len(options) == limit:
            break
    options.append(Option(reply_text("button_person"), HUMAN_PAYLOAD))
    return options


def likely_programmes(message: Mapping[str, Any]) -> list[str]:
    """Programmes a message the assistant is unsure about most likely asks about: when its most
    likely intent (the fallback aside) is a programme question, the programme the NLU found, else
    the two it hesitated between (``programme_candidates``); otherwise none.

    Issue 11: a need-shaped question ("nhà tôi dột nát, có được hỗ trợ không") often has a clear
    programme but a shaky intent; offering that programme by name answers it in one tap, where a
    "Hỏi về chương trình" button led to the thirteen-programme menu."""
    ranking = [r for r in message.get("intent_ranking") or []
               if str(r.get("name") or "") != "nlu_fallback"]
    if not ranking or ranking[0].get("name") != "ask_programme":
        return []
    found = [str(e.get("value")) for e in message.get("entities") or []
             if e.get("entity") == "programme" and e.get("value")]
    if found:
        return found[:1]
    return [str(c) for c in message.get("programme_candidates") or []][:2]


def programme_options(names: Iterable[str], titles: Mapping[str, str]) -> list[Option]:
    """A button per programme (``titles``: programme -> button title), asking about it directly."""
    from bot.knowledge.answers import payload

    return [Option(titles[name], payload("ask_programme", programme=name))
            for name in names if name in titles]


def clarification_menu(message: Mapping[str, Any], labels: Labels,
                       programme_titles: Mapping[str, str]) -> list[Option]:
    """What to offer for a message below the confidence threshold: the likely programmes by name
    (when it reads as a programme question), then the likely intents, then a person."""
    programmes = programme_options(likely_programmes(message), programme_titles)
    ranking = message.get("intent_ranking") or []
    if programmes:  # the generic programme button would only lead to the full list
        ranking = [r for r in ranking if r.get("name") != "ask_programme"]
    limit = 3 - len(programmes) if programmes else 2  # at most three topics and a person
    intents = clarification_options(ranking, labels, limit=limit)
    return programmes + intents
