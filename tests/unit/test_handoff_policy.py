"""The handoff policy: silent forwarding while a person handles the conversation."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conversation.policies import FORWARD_ACTION, HandoffPolicy

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, ask_programme, unsubscribe, EXTERNAL_staff_reply]
slots:
  handoff_active:
    type: bool
    influence_conversation: false
    mappings: [{type: custom}]
actions: [action_forward_to_staff, action_relay_staff_reply]
"""
)


@pytest.fixture
def policy(tmp_path) -> HandoffPolicy:  # type: ignore[no-untyped-def]
    return HandoffPolicy.create(
        HandoffPolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("handoff"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def _predicted(policy: HandoffPolicy, *events) -> str | None:  # type: ignore[no-untyped-def]
    tracker = DialogueStateTracker.from_events("c", list(events), slots=DOMAIN.slots)
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    if max(prediction.probabilities) == 0:
        return None
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


def test_silent_outside_a_handoff(policy: HandoffPolicy) -> None:
    assert _predicted(policy, ActionExecuted(ACTION_LISTEN_NAME),
                      UserUttered("xin chào", {"name": "greet"})) is None


def test_forwards_citizen_messages_then_listens(policy: HandoffPolicy) -> None:
    base = [SlotSet("handoff_active", True), ActionExecuted(ACTION_LISTEN_NAME),
            UserUttered("quỹ vì người nghèo là gì", {"name": "ask_programme"})]
    assert _predicted(policy, *base) == FORWARD_ACTION
    assert _predicted(policy, *base, ActionExecuted(FORWARD_ACTION)) == ACTION_LISTEN_NAME


def test_staff_messages_are_left_to_the_rules(policy: HandoffPolicy) -> None:
    assert _predicted(policy, SlotSet("handoff_active", True), ActionExecuted(ACTION_LISTEN_NAME),
                      UserUttered("", {"name": "EXTERNAL_staff_reply"})) is None


def test_unsubscribe_is_answered_by_the_assistant_during_a_handoff(policy: HandoffPolicy) -> None:
    """Issue 16: "hủy nhận tin" works at any point; only a sure one is kept from the officer."""
    handoff = [SlotSet("handoff_active", True), ActionExecuted(ACTION_LISTEN_NAME)]
    assert _predicted(policy, *handoff, UserUttered(
        "hủy nhận tin", {"name": "unsubscribe", "confidence": 0.97})) is None
    assert _predicted(policy, *handoff, UserUttered(
        "nhận tin chưa anh", {"name": "unsubscribe", "confidence": 0.55})) == FORWARD_ACTION
