"""Where a message's clauses start and end: the cue a bag of n-grams loses.

The intent classifier reads counts of words, syllables and character n-grams, with no notion of
position. Yet what tells a question about a programme from a petition is often *where* a word
sits, not whether it is there: "… có được hỗ trợ gì không" ends on a question particle, while
"… hỗ trợ gì mà tới giờ không ai xuống" carries the same words inside a grievance; a message that
opens with "cho hỏi" or "đề nghị" says what it is before its topic does. The two intents share
most of their vocabulary (the programme's words), which is why they were confused in both
directions on every blind set (issue 11).

This featurizer adds, per message, binary sentence features for the first and last one to three
syllables of the whole message, the last one or two and the first two syllables of every clause
(split at ``. , ; ! \n``), and whether a question mark is present; all on the folded text (no case,
no diacritics, teencode expanded) so typing without diacritics costs nothing. Only features seen
in at least ``min_df`` training messages are kept.

Measured on the trained model's own features, with the intent classifier refitted alone
(unweighted classes, C=1000, with and without these features; counts only; 2026-12-05, stop 31):
used blind sets 1–12 (3,943 messages) intent right 3752 -> 3775, confidently wrong 147 -> 133;
sets 13–15 (324) right 306 -> 309, wrong 16 -> 11. The whole trained model, as configured in
``config.yml``, is measured in the README ("Where it stands (stop 31)").
"""

from __future__ import annotations

import pickle
import re
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.vietnamese.normalize import fold_expanded

_FILE = "clause_edges.pkl"
_TOKEN = re.compile(r"\w+|\?")
_CLAUSE = re.compile(r"[.!,;\n]+")


def clause_edges(text: str, span: int = 3) -> list[str]:
    """The edge features of one message, e.g. ``E_duoc_khong``, ``CB_de_nghi``, ``QMARK``."""
    folded = fold_expanded(text)
    tokens = [t.replace("?", "Q") for t in _TOKEN.findall(folded)]
    if not tokens:
        return []
    features = []
    for n in range(1, span + 1):
        features.append("B_" + "_".join(tokens[:n]))
        features.append("E_" + "_".join(tokens[-n:]))
    for clause in _CLAUSE.split(folded):
        words = [t.replace("?", "Q") for t in _TOKEN.findall(clause)]
        if len(words) >= 2:
            features += ["CE_" + "_".join(words[-2:]), "CE_" + words[-1],
                         "CB_" + "_".join(words[:2])]
    if "?" in folded:
        features.append("QMARK")
    return features


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class ClauseEdgeFeaturizer(SparseFeaturizer, GraphComponent):
    """Sparse sentence features for the edges of a message and of its clauses."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SparseFeaturizer.get_default_config(), "min_df": 2}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage,
                 resource: Resource, vocabulary: dict[str, int] | None = None) -> None:
        super().__init__(resource.name, config)
        self._storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary or {}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> ClauseEdgeFeaturizer:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> ClauseEdgeFeaturizer:
        try:
            with model_storage.read_from(resource) as directory:
                vocabulary = pickle.loads((directory / _FILE).read_bytes())
        except (ValueError, FileNotFoundError):
            vocabulary = {}  # trained on no data: the featurizer adds nothing
        return cls(config, model_storage, resource, vocabulary)

    def train(self, training_data: TrainingData) -> Resource:
        counts: dict[str, int] = {}
        for message in training_data.training_examples:
            text = message.get(TEXT)
            if text:
                for feature in set(clause_edges(text)):
                    counts[feature] = counts.get(feature, 0) + 1
        kept = sorted(f for f, n in counts.items() if n >= int(self._config["min_df"]))
        self.vocabulary = {feature: i for i, feature in enumerate(kept)}
        with self._storage.write_to(self._resource) as directory:
            (directory / _FILE).write_bytes(pickle.dumps(self.vocabulary))
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        if not self.vocabulary:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if text is None:
                continue
            columns = sorted({self.vocabulary[f] for f in clause_edges(text)
                              if f in self.vocabulary})
            row = scipy.sparse.coo_matrix(
                (np.ones(len(columns)), (np.zeros(len(columns), dtype=int), columns)),
                shape=(1, len(self.vocabulary)))
            message.add_features(Features(row, FEATURE_TYPE_SENTENCE, TEXT, self._identifier))
        return messages

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if int(config.get("min_df", 2)) < 1:
            raise ValueError("ClauseEdgeFeaturizer: min_df must be at least 1")
