"""The intent classifier's ``normalize`` option: a message's counts are log-scaled and set to
unit length, so repeating words does not make a message more certain (issue 11: long
complaints were near-certain of whatever they resembled)."""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix

from bot.nlu.classifier import SafeLogisticRegressionClassifier


def _message(counts: list[float], text: str = "x") -> Message:
    message = Message({TEXT: text})
    message.add_features(Features(csr_matrix([counts]), FEATURE_TYPE_SEQUENCE, TEXT, "t"))
    message.add_features(Features(csr_matrix([counts]), FEATURE_TYPE_SENTENCE, TEXT, "t"))
    return message


def _classifier(tmp_path: Any, **config: Any) -> SafeLogisticRegressionClassifier:
    storage = LocalModelStorage(tmp_path)
    return SafeLogisticRegressionClassifier(
        {**SafeLogisticRegressionClassifier.get_default_config(), **config}, "lr", storage,
        Resource("lr"))


def test_normalized_rows_have_unit_length_and_repetition_does_not_scale(tmp_path: Any) -> None:
    clf = _classifier(tmp_path, normalize=True, C=500.0)
    assert clf.clf.C == 500.0
    matrix = clf._create_X([_message([1, 0, 2]), _message([10, 0, 20])]).toarray()
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0)
    assert matrix[1][0] / matrix[1][2] > matrix[0][0] / matrix[0][2] * 0.9  # log-scaled


def test_without_the_option_the_counts_are_unchanged(tmp_path: Any) -> None:
    clf = _classifier(tmp_path)
    matrix = clf._create_X([_message([10, 0, 20])]).toarray()
    assert matrix.tolist() == [[10, 0, 20]]


def test_class_weight_is_balanced_by_default_and_can_be_switched_off(tmp_path: Any) -> None:
    assert _classifier(tmp_path).clf.class_weight == "balanced"
    assert _classifier(tmp_path, class_weight="none").clf.class_weight is None
    assert _classifier(tmp_path, class_weight=None).clf.class_weight is None


def test_an_unknown_class_weight_is_refused(tmp_path: Any) -> None:
    import pytest

    with pytest.raises(ValueError):
        _classifier(tmp_path, class_weight="balance")


def test_without_class_weights_a_frequent_intent_keeps_its_prior(tmp_path: Any) -> None:
    """Nine "a" and one "b" on the same features: balanced gives "b" as much weight as "a"
    (0.5 each), unweighted leaves "a" its 0.9."""
    from rasa.shared.nlu.training_data.training_data import TrainingData

    def examples() -> list[Message]:
        out = []
        for number, intent in enumerate(["a"] * 9 + ["b"]):
            # Distinct texts: TrainingData keeps one of identical examples.
            message = _message([1.0, 1.0], text=f"x{number}")
            message.set("intent", intent)
            out.append(message)
        return out

    probabilities = {}
    for weight in ("balanced", "none"):
        clf = _classifier(tmp_path, class_weight=weight)
        clf.train(TrainingData(examples()))
        x = clf._create_X([_message([1.0, 1.0])])
        probabilities[weight] = dict(
            zip(clf.clf.classes_, clf.clf.predict_proba(x)[0], strict=True))
    assert abs(probabilities["balanced"]["a"] - 0.5) < 0.05
    assert abs(probabilities["none"]["a"] - 0.9) < 0.05


def test_balance_power_weighs_classes_between_none_and_balanced(tmp_path: Any) -> None:
    from bot.nlu.classifier import partial_balance

    labels = ["ask_programme"] * 8 + ["bot_challenge"] * 2
    assert partial_balance(labels, 1.0) == {"ask_programme": 10 / 16, "bot_challenge": 10 / 4}
    assert partial_balance(labels, 0.0) == {"ask_programme": 1.0, "bot_challenge": 1.0}
    half = partial_balance(labels, 0.5)
    assert 1.0 < half["bot_challenge"] < 2.5 and 0.625 < half["ask_programme"] < 1.0
    clf = _classifier(tmp_path, balance_power=0.5)
    clf._create_training_matrix(TrainingData([_training(i % 2, "ab"[i % 2] * (i + 1))
                                              for i in range(3)]))
    assert clf.clf.class_weight == partial_balance(["a", "b", "a"], 0.5)


def _training(label: int, text: str) -> Message:
    message = _message([1.0, float(label), 0.0], text)
    message.set("intent", "ab"[label])
    return message


def test_balance_power_is_recomputed_when_trained_again_on_other_data(tmp_path: Any) -> None:
    """The weights come from the data of *this* training: a component trained twice (as a
    trainer's retrain in one process does) does not keep the first data's weights."""
    from bot.nlu.classifier import partial_balance

    clf = _classifier(tmp_path, balance_power=0.5)
    clf._create_training_matrix(TrainingData([_training(i % 2, "ab"[i % 2] * (i + 1))
                                              for i in range(3)]))
    clf._create_training_matrix(TrainingData([_training(1 if i else 0, "ab"[1 if i else 0] * (i + 1))
                                              for i in range(5)]))
    assert clf.clf.class_weight == partial_balance(["a", "b", "b", "b", "b"], 0.5)
