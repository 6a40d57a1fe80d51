"""Rasa's logistic-regression intent classifier, made safe for messages with no features.

Rasa 3.6's ``LogisticRegressionClassifier`` raises on a message that produced no features (an
empty or whitespace-only text: sklearn refuses a 0-column matrix), so the whole turn fails and
the citizen gets no reply. Here such messages get no intent with confidence 0, which the
``FallbackClassifier`` turns into ``nlu_fallback``; the dialogue then answers them in Vietnamese.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class SafeLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Logistic regression on sparse features; an empty message is "no intent", not a crash."""

    def process(self, messages: list[Message]) -> list[Message]:
        empty = [m for m in messages if not str(m.get(TEXT) or "").strip()]
        rest = [m for m in messages if str(m.get(TEXT) or "").strip()]
        for message in empty:
            message.set("intent", {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set("intent_ranking", [], add_to_output=True)
        if rest:
            super().process(rest)
        return messages
