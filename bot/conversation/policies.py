"""A dialogue policy that keeps the assistant silent while a person handles the conversation.

During a handoff (slot ``handoff_active``) every citizen message is forwarded to staff by
``action_forward_to_staff`` and nothing else runs; staff replies and the hand-back arrive as
external intents (``EXTERNAL_*``), which the normal rules handle. Rasa's own
``ConversationPaused`` would stop the assistant too, but it also stops the forwarding, so the
citizen's messages would reach nobody.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conversation import rasa_patches

# Rasa imports this module at start-up: the right moment to remove repeated per-message work.
rasa_patches.install()

FORWARD_ACTION = "action_forward_to_staff"
HANDOFF_SLOT = "handoff_active"
#: What the assistant still answers during a handoff, when the NLU is this sure: "hủy nhận tin"
#: stops announcements at any point (issue 16), and no officer can withdraw consent for the citizen.
ANSWERED_DURING_HANDOFF = frozenset({"unsubscribe"})
ANSWERED_CONFIDENCE = 0.8


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class HandoffPolicy(Policy):
    """Predicts the forwarding action for every citizen message while a handoff is active."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Above RulePolicy: during a handoff no rule may answer in the assistant's name.
        return {"priority": 10}

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        result = self._default_predictions(domain)
        if not tracker.get_slot(HANDOFF_SLOT) or FORWARD_ACTION not in domain.action_names_or_texts:
            return self._prediction(result)
        if tracker.latest_action_name in (FORWARD_ACTION, "action_request_human"):
            result[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        elif tracker.latest_action_name == ACTION_LISTEN_NAME:
            parsed = (tracker.latest_message.intent or {}) if tracker.latest_message else {}
            intent = parsed.get("name")
            answered = (intent in ANSWERED_DURING_HANDOFF
                        and float(parsed.get("confidence") or 0.0) >= ANSWERED_CONFIDENCE)
            if intent and not str(intent).startswith("EXTERNAL_") and not answered:
                result[domain.index_for_action(FORWARD_ACTION)] = 1.0
        return self._prediction(result)
