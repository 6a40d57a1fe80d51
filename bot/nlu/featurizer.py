"""Rasa's count-vector featurizer, computing only what this pipeline reads, all messages at once.

Rasa 3.6's ``CountVectorsFeaturizer`` makes two sparse matrices per message and attribute: a
*sequence* one (each token as its own document) and a *sentence* one (the whole text), with one
sklearn ``transform`` call for each, message by message. In this pipeline nothing reads the
sequence features of the text: the intent classifier (``SafeLogisticRegressionClassifier``,
Rasa's ``_create_X``) takes the sentence features only, the CRF builds its own token features,
and the programme classifier has its own vectoriser. So for the text (and the other attributes
Rasa would featurise as sentences) this subclass skips the sequence matrix and transforms all
messages of a batch in one call. The sentence features are the same numbers as before, so a
model trained with it predicts the same; only the time changes (README, stop 34: training and
``/model/parse`` measured back to back). Other attributes (intent names, action names) keep
Rasa's behaviour.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.linear import term_counts

#: Up to this many messages in a batch (``/model/parse`` has one), each is counted directly
#: (:func:`one_row`) instead of through sklearn's ``transform``, whose sparse-matrix building
#: and checks cost more than the counting for one short text.
FEW = 4


def one_row(vectorizer: Any, text: str) -> scipy.sparse.coo_matrix:
    """``vectorizer.transform([text])`` for a fitted ``CountVectorizer``, as the one-row
    matrix :meth:`SentenceCountVectorsFeaturizer._create_features` keeps (columns sorted): the
    same analyzer, vocabulary, ``binary`` and ``dtype``, counted in a dict."""
    counts = term_counts(vectorizer, text)
    columns = sorted(counts)
    data = np.array([1 if vectorizer.binary else counts[c] for c in columns],
                    dtype=vectorizer.dtype)
    return scipy.sparse.coo_matrix(
        (data, (np.zeros(len(columns), dtype=np.int32), np.array(columns, dtype=np.int32))),
        shape=(1, len(vectorizer.vocabulary_)))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class SentenceCountVectorsFeaturizer(CountVectorsFeaturizer):
    """Sentence features only for text attributes, one ``transform`` per batch."""

    def _create_features(
        self, attribute: str, all_tokens: list[list[str]]
    ) -> tuple[list[Any], list[Any]]:
        vectorizer = self.vectorizers.get(attribute)
        if attribute not in DENSE_FEATURIZABLE_ATTRIBUTES or not vectorizer:
            return super()._create_features(attribute, all_tokens)
        present = [i for i, tokens in enumerate(all_tokens) if tokens]
        sentences: list[scipy.sparse.spmatrix | None] = [None] * len(all_tokens)
        if 0 < len(present) <= FEW:
            for i in present:
                sentences[i] = one_row(vectorizer, " ".join(all_tokens[i]))
        elif present:
            matrix = vectorizer.transform([" ".join(all_tokens[i]) for i in present]).tocsr()
            for row, i in enumerate(present):
                vector = matrix[row]
                vector.sort_indices()
                sentences[i] = vector.tocoo()
        return [None] * len(all_tokens), sentences

    def process(self, messages: list[Message]) -> list[Message]:
        """Features for every message, one vectoriser call per attribute for the whole batch
        (Rasa's loop made one per message: most of the featurisers' share of training)."""
        if self.vectorizers is None:
            return super().process(messages)
        for attribute in self._attributes:
            if not self.vectorizers.get(attribute):
                continue  # no vocabulary for it: Rasa adds nothing either
            tokens = [self._get_processed_message_tokens_by_attribute(m, attribute)
                      for m in messages]
            sequences, sentences = self._create_features(attribute, tokens)
            for message, sequence, sentence in zip(messages, sequences, sentences, strict=True):
                self.add_features_to_message(sequence, sentence, attribute, message)
        return messages
