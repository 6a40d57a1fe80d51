"""The training shortcuts of stop 34 change the time, never the model: the sentence-only count
featurizer (bot/nlu/featurizer.py) gives Rasa's own sentence features, and ``tools.rasa_train``
fingerprints featurised training data by its node's cache key instead of hashing it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.featurizer import SentenceCountVectorsFeaturizer
from bot.settings import ROOT

TEXTS = ["cho hỏi quỹ vì người nghèo", "đường ngập nước mấy ngày rồi",
         "nha toi ngheo co duoc ho tro khong", "đèn đường hỏng", ""]


def _messages() -> list[Message]:
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    messages = [Message({TEXT: t, INTENT: "x" if i % 2 else "y"}) for i, t in enumerate(TEXTS)]
    tokenizer.process_training_data(TrainingData(messages))
    return messages


@pytest.mark.parametrize("config", [
    {"analyzer": "word", "max_ngram": 3, "min_df": 1},
    {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4, "use_lemma": True},
])
def test_sentence_features_are_rasas_and_no_sequence_is_made(
        tmp_path: Any, config: dict[str, Any]) -> None:
    results = []
    for cls in (CountVectorsFeaturizer, SentenceCountVectorsFeaturizer):
        featurizer = cls.create({**cls.get_default_config(), **config},
                                LocalModelStorage(tmp_path),
                                Resource(cls.__name__),
                                ExecutionContext(GraphSchema({}), node_name=cls.__name__))
        training = TrainingData(_messages())
        featurizer.train(training)
        featurizer.process_training_data(training)
        fresh = _messages()
        featurizer.process(fresh)
        results.append((training.training_examples, fresh))
    for rasa_messages, ours in zip(*results, strict=True):
        for theirs, mine in zip(rasa_messages, ours, strict=True):
            rasa_sequence, rasa_sentence = theirs.get_sparse_features(TEXT)
            sequence, sentence = mine.get_sparse_features(TEXT)
            assert sequence is None
            if rasa_sentence is None:  # the empty message: no features either way
                assert sentence is None
                continue
            assert rasa_sequence is not None
            assert np.array_equal(rasa_sentence.features.toarray(), sentence.features.toarray())


_PROBE = """
from rasa.engine.training import hooks
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from tools import rasa_train

from rasa.shared.exceptions import SchemaValidationError
import rasa.shared.nlu.training_data.schemas.data_schema as schemas
from rasa.shared.utils import validation

def entity_error(value):
    try:
        validation.validate_training_data(value, schemas.entity_dict_schema())
    except SchemaValidationError as error:
        return str(error)
    return None

bad = {"entity": 5, "value": "x"}
rasa_error = entity_error(bad)
assert rasa_error and entity_error({"entity": "programme", "value": "cuu_tro"}) is None
data = TrainingData([Message({"text": "đường ngập"})])
before = data.fingerprint()
assert rasa_train._install()
assert entity_error(bad) == rasa_error and entity_error(bad) == rasa_error
assert entity_error({"entity": "programme", "value": "cuu_tro"}) is None
assert data.fingerprint() == before, "unmarked data is hashed as Rasa does"

class Cache:
    def cache_output(self, fingerprint_key, output, output_fingerprint, model_storage):
        self.recorded = (fingerprint_key, output_fingerprint)

class Node:
    uses = object

class Schema:
    nodes = {"run_featurizer": Node()}

hook = hooks.TrainingHook(Cache(), None, Schema())
hook.on_after_node("run_featurizer", None, {}, data, {"fingerprint_key": "key-1"})
assert hook._cache.recorded == ("key-1", "key-1"), hook._cache.recorded
assert data.fingerprint() == "key-1"
print("ok")
"""


def test_featurised_data_takes_its_nodes_key_as_fingerprint() -> None:
    # In a child process: the patch is process-wide, and this process runs other tests.
    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
