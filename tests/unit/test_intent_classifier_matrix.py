"""The intent classifier builds its training matrix a featurizer block at a time
(``bot.nlu.classifier.sentence_matrix``): it must be the matrix Rasa's own row-by-row code builds,
value for value and column for column, or the trained model would change."""

from __future__ import annotations

import random

import numpy as np
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix

from bot.nlu.classifier import sentence_matrix

_WIDTHS = {"regex": 3, "words": 7, "chars": 11}


def _message(rng: random.Random, origins: tuple[str, ...] = ("regex", "words", "chars"),
             dense: bool = False) -> Message:
    message = Message({TEXT: "x"})
    for origin in origins:
        width = _WIDTHS[origin]
        row = [float(rng.choice([0, 0, 0, 1, 2, 5])) for _ in range(width)]
        # A sequence feature as the RegexFeaturizer adds: ignored by both builders.
        message.add_features(Features(csr_matrix([row, row]), FEATURE_TYPE_SEQUENCE, TEXT,
                                      origin))
        message.add_features(Features(csr_matrix([row], dtype=np.int64), FEATURE_TYPE_SENTENCE,
                                      TEXT, origin))
    if dense:
        message.add_features(Features(np.ones((1, 2)), FEATURE_TYPE_SENTENCE, TEXT, "dense"))
    return message


def _rasa(messages: list[Message]) -> csr_matrix:
    return csr_matrix(LogisticRegressionClassifier._create_X(None, messages))  # type: ignore


def test_the_block_matrix_is_rasas_matrix() -> None:
    rng = random.Random(7)
    messages = [_message(rng) for _ in range(40)]
    fast, slow = sentence_matrix(messages), _rasa(messages)
    assert fast is not None
    assert fast.shape == slow.shape == (40, sum(_WIDTHS.values()))
    assert fast.dtype == slow.dtype == np.float64
    assert (fast != slow).nnz == 0
    # The order of the columns is the order the featurizers ran in, as in Rasa's.
    assert fast[:, :3].toarray().tolist() == slow[:, :3].toarray().tolist()


def test_one_message_as_on_model_parse() -> None:
    message = _message(random.Random(11))
    fast, slow = sentence_matrix([message]), _rasa([message])
    assert fast is not None and fast.shape == slow.shape == (1, sum(_WIDTHS.values()))
    assert (fast != slow).nnz == 0 and fast.has_sorted_indices


def test_it_steps_aside_where_it_cannot_match_rasa() -> None:
    rng = random.Random(3)
    assert sentence_matrix([]) is None
    # Messages whose featurizers differ, a dense feature, a message with no features.
    assert sentence_matrix([_message(rng), _message(rng, ("words", "chars"))]) is None
    assert sentence_matrix([_message(rng, dense=True)]) is None
    assert sentence_matrix([Message({TEXT: ""})]) is None
