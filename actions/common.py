"""Small helpers shared by the action modules (reading the tracker, sending replies)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.answers import Reply


def entity_values(tracker: Tracker, entity: str) -> list[str]:
    """Values of ``entity`` in the latest message, in the order they were found."""
    return [
        str(e.get("value"))
        for e in (tracker.latest_message or {}).get("entities") or []
        if e.get("entity") == entity and e.get("value") not in (None, "")
    ]


def first_entity(tracker: Tracker, *entities: str) -> str | None:
    for entity in entities:
        values = entity_values(tracker, entity)
        if values:
            return values[0]
    return None


def previous_action(tracker: Tracker) -> str | None:
    """The last action the assistant ran before the citizen's latest message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
            continue
        if seen_user and event.get("event") == "action":
            name = event.get("name")
            if name not in ("action_listen", None):
                return str(name)
    return None


def send(dispatcher: CollectingDispatcher, replies: Iterable[Reply]) -> None:
    for reply in replies:
        if reply.buttons:
            dispatcher.utter_message(text=reply.text, buttons=reply.buttons)
        else:
            dispatcher.utter_message(text=reply.text)


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


Events = list[dict[str, Any]]
