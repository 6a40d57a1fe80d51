"""What the programme classifier and the intent second opinion share: the folded-text features
they both read, and their fitted model kept as one pickle in Rasa's model storage.

Why one place: both learn a logistic regression on TF-IDF of folded words and characters, and
both store it the same way; written twice, the two had drifted into copies of each other.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

logger = logging.getLogger(__name__)


def folded_text_features(char_ngrams: tuple[int, int] = (2, 4), char_min_df: int = 1) -> Any:
    """TF-IDF (sublinear) of words and word pairs and of character n-grams within words, for
    text already folded (:func:`bot.vietnamese.normalize.fold_expanded`)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b",
                                  sublinear_tf=True, min_df=1)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=char_ngrams,
                                  sublinear_tf=True, min_df=char_min_df)),
    ])


def save_pickled(model_storage: ModelStorage, resource: Resource, filename: str,
                 obj: Any) -> None:
    """Keep ``obj`` (a fitted model, or None when there was nothing to learn) with the model."""
    with model_storage.write_to(resource) as directory:
        (directory / filename).write_bytes(pickle.dumps(obj))


def load_pickled(model_storage: ModelStorage, resource: Resource, filename: str,
                 missing: str) -> Any:
    """What :func:`save_pickled` kept, or None (logging ``missing``) when nothing was stored."""
    try:
        with model_storage.read_from(resource) as directory:
            return pickle.loads((directory / filename).read_bytes())  # our own model file
    except (ValueError, FileNotFoundError, pickle.UnpicklingError):
        logger.warning(missing)
        return None
