"""The per-process replacements in bot.conversation.rasa_patches behave exactly like Rasa's originals."""

from __future__ import annotations

from typing import Any

import pytest
import rasa
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core import events
from rasa.utils.endpoints import EndpointConfig

from bot.conversation import rasa_patches


def test_written_for_this_rasa() -> None:
    assert rasa.__version__ == rasa_patches.RASA_VERSION, (
        "Rasa changed: re-check bot/conversation/rasa_patches.py against the new release and update it"
    )


@pytest.fixture(scope="module")
def remote_action() -> RemoteAction:
    rasa_patches.install()
    return RemoteAction("action_x", EndpointConfig("http://127.0.0.1:1/webhook"))


GOOD: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "ward", "value": "Phường 1"}], "responses": [{"text": "Chào"}]},
    {},
]
BAD: list[dict[str, Any]] = [
    {"events": [{"name": "no event key"}]},
    {"events": "not a list"},
    {"responses": [{"text": 5}], "events": [{"event": "slot"}]},
]


@pytest.mark.parametrize("result", GOOD)
def test_valid_action_results_pass(remote_action: RemoteAction, result: dict[str, Any]) -> None:
    assert remote_action._validate_action_result(result) is True


@pytest.mark.parametrize("result", BAD)
def test_invalid_action_results_raise_as_rasa_did(
    remote_action: RemoteAction, result: dict[str, Any]
) -> None:
    from jsonschema import validate

    with pytest.raises(ValidationError) as original:
        validate(result, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError) as patched:
        remote_action._validate_action_result(result)
    assert patched.value.message.startswith(original.value.message)
    assert "Failed to validate Action server response" in patched.value.message


def test_event_lookup_matches_rasa() -> None:
    rasa_patches.install()
    from rasa.shared.utils.common import all_subclasses

    for cls in all_subclasses(events.Event):
        expected = next(c for c in all_subclasses(events.Event) if c.type_name == cls.type_name)
        assert events.Event.resolve_by_type(cls.type_name) is expected
    assert events.Event.resolve_by_type("topic") is None
    assert events.Event.resolve_by_type("nope", default=events.SlotSet) is events.SlotSet
    with pytest.raises(ValueError):
        events.Event.resolve_by_type("nope")


def test_event_lookup_sees_classes_defined_later() -> None:
    rasa_patches.install()

    class LateEvent(events.ActionExecuted):
        type_name = "mttq_late_event_for_test"

    assert events.Event.resolve_by_type("mttq_late_event_for_test") is LateEvent


def test_events_round_trip_through_the_lookup() -> None:
    rasa_patches.install()
    stored = [events.UserUttered("xin chào", {"name": "greet"}), events.SlotSet("ward", "Phường 1")]
    again = events.deserialise_events([e.as_dict() for e in stored])
    assert again == stored
