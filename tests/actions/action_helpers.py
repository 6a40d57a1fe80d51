"""Helpers for action tests: trackers built by hand and readers of what an action sent."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

DOMAIN: dict[str, Any] = {}


def make_tracker(
    text: str = "",
    intent: str = "",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    sender_id: str = "test-user",
    confidence: float = 0.9,
    ranking: list[dict[str, Any]] | None = None,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
    }
    history = list(events or [])
    history.append({"event": "user", "text": text, "parse_data": latest})
    return Tracker(
        sender_id=sender_id,
        slots=slots or {},
        latest_message=latest,
        events=history,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def user_event(text: str, intent: str) -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def action_event(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


def entity(name: str, value: str) -> dict[str, Any]:
    """An extracted entity (offsets left out: actions must not need them)."""
    return {"entity": name, "value": value}


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("text") or "" for m in dispatcher.messages]


def buttons(dispatcher: CollectingDispatcher) -> list[list[dict[str, str]]]:
    return [m.get("buttons") or [] for m in dispatcher.messages]


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


