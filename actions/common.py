"""Small helpers shared by the action modules (reading the tracker, sending replies)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.knowledge.answers import Reply, payload
from bot.knowledge.content import unit_tree


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


_PLACE_GAP = set(" \t.,-/")


def first_place(tracker: Tracker, *entities: str) -> str | None:
    """The first place the latest message names (``entities`` in order of preference), with the
    neighbouring place entities it was cut from joined back: the entity extractor often splits
    an abbreviation from its name ("p." | "Cầu Giấy"), and "p" alone names no ward."""
    latest = tracker.latest_message or {}
    text = str(latest.get("text") or "")
    found = [e for e in latest.get("entities") or []
             if e.get("entity") in entities and "start" in e and "end" in e]
    found.sort(key=lambda e: int(e["start"]))
    runs: list[tuple[int, int, str]] = []
    for entity in found:
        start, end = int(entity["start"]), int(entity["end"])
        if runs and set(text[runs[-1][1]:start]) <= _PLACE_GAP:
            runs[-1] = (runs[-1][0], max(end, runs[-1][1]), runs[-1][2])
        else:
            runs.append((start, end, str(entity["entity"])))
    for kind in entities:
        for start, end, entity in runs:
            if entity == kind and text[start:end].strip():
                return text[start:end].strip()
    return first_entity(tracker, *entities)


def resolve_ward(
    dispatcher: CollectingDispatcher, value: Any, ambiguous: str
) -> tuple[str | None, str]:
    """The unit code a form's ward answer names, and how it resolved: ``"one"``, ``"ambiguous"``
    (the candidates were offered as buttons under the text ``ambiguous``) or ``"none"``.

    Shared by the petition and subscription forms so both read a ward, and offer the same
    candidates for a name several wards share, in one way; what "none" means is each form's."""
    tree = unit_tree()
    if value in tree:
        return str(value), "one"
    result = tree.resolve(str(value or ""))
    if result.status == "one" and result.unit is not None:
        return result.unit.code, "one"
    if result.status == "ambiguous":
        dispatcher.utter_message(
            text=ambiguous,
            buttons=[
                {"title": (u.short_name or u.name)[:20],
                 "payload": payload("inform", location=u.code)}
                for u in result.candidates[:10]
            ],
        )
        return None, "ambiguous"
    return None, "none"


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


def latest_intent(tracker: Tracker) -> str:
    """The intent of the latest message ("" when there is none)."""
    return str(((tracker.latest_message or {}).get("intent") or {}).get("name") or "")


def channel_of(tracker: Tracker) -> str:
    """Our channel name for the case record (web chat arrives on Rasa's REST/socket.io)."""
    name = tracker.get_latest_input_channel() or "web"
    return "web" if name in ("rest", "socketio", "cmdline", "callback") else name


Events = list[dict[str, Any]]
