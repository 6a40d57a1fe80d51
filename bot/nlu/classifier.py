"""Rasa's logistic-regression intent classifier, made safe for messages with no features.

Rasa 3.6's ``LogisticRegressionClassifier`` raises on a message that produced no features (an
empty or whitespace-only text: sklearn refuses a 0-column matrix), so the whole turn fails and
the citizen gets no reply. Here such messages get no intent with confidence 0, which the
``FallbackClassifier`` turns into ``nlu_fallback``; the dialogue then answers them in Vietnamese.

Two options (``config.yml``): ``normalize`` scales each message's counts (log, then unit length),
so a long message is not more confident than a short one just for having more words (raw counts
made long complaints near-certain of whatever they resembled); ``C`` is the inverse
regularisation strength of the logistic regression (sklearn's default 1.0); ``class_weight``
is ``"balanced"`` (Rasa's hard-coded choice, the default here: a rare intent weighs as much as a
frequent one in training) or ``"none"`` (every example weighs the same, so the priors of an
unbalanced set such as ATIS stay in the model); ``balance_power`` between them: each class weighs
``(n / (k * n_class)) ** power``, so 1.0 is "balanced" and 0.0 is "none". Fully balanced weights
made the blind sets' frequent intents (programme questions, petitions) lose to rare ones;
unweighted ones made short form answers ("cái gì cũng được") read as programme questions and
cost the held-out split's rare intents (stop 31, README).

The fitted regression is kept as plain arrays (``.npz``, no pickle) instead of Rasa's skops file:
importing ``skops.io`` walks every loaded module to build its list of trusted types, and after
TensorFlow is loaded that took 17 of the 67 seconds a Rasa server needed to load our model in a
profile (stop 46). A model with only the skops file (trained before) still loads Rasa's way.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.linear import keep_transpose_contiguous

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class SafeLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Logistic regression on sparse features; an empty message is "no intent", not a crash."""

    #: The fitted arrays kept with the model (module docstring: why not skops).
    ARRAYS = ("coef_", "intercept_", "classes_", "n_iter_")

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **LogisticRegressionClassifier.get_default_config(),
            "normalize": False,
            "C": 1.0,
            "class_weight": "balanced",
            "balance_power": 1.0,
        }

    def __init__(self, config: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.clf.C = float(self.config.get("C", 1.0))
        self.clf.class_weight = _class_weight(self.config.get("class_weight", "balanced"))

    def _create_training_matrix(self, training_data: Any) -> tuple[Any, Any]:
        X, y = super()._create_training_matrix(training_data)
        # Decided from the configuration, not from ``clf.class_weight``: that holds the weights
        # of the last training once set, and a second training on other data must recompute them.
        power = float(self.config.get("balance_power", 1.0))
        if _class_weight(self.config.get("class_weight", "balanced")) == "balanced" \
                and power != 1.0 and len(y):
            self.clf.class_weight = partial_balance(list(y), power)
        return X, y

    def _create_X(self, messages: list[Message]) -> Any:
        matrix = sentence_matrix(messages)
        if matrix is None:
            matrix = super()._create_X(messages)
        if not self.config.get("normalize"):
            return matrix
        from sklearn.preprocessing import normalize

        matrix = matrix.tocsr(copy=True)
        matrix.data = np.log1p(np.abs(matrix.data)) * np.sign(matrix.data)
        return normalize(matrix, norm="l2")

    def process(self, messages: list[Message]) -> list[Message]:
        empty = [m for m in messages if not str(m.get(TEXT) or "").strip()]
        rest = [m for m in messages if str(m.get(TEXT) or "").strip()]
        for message in empty:
            message.set("intent", {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set("intent_ranking", [], add_to_output=True)
        if rest:
            keep_transpose_contiguous(self.clf)
            super().process(rest)
        return messages

    def persist(self) -> None:
        """The regression's parameters (JSON) and fitted arrays (``.npz``), without pickle."""
        with self._model_storage.write_to(self._resource) as model_dir:
            save_regression(self.clf, model_dir, self._resource.name)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LogisticRegressionClassifier:
        """The regression from its arrays; Rasa's load (skops) for a model without them."""
        try:
            with model_storage.read_from(resource) as model_dir:
                clf = load_regression(model_dir, resource.name)
        except (ValueError, OSError) as error:
            logger.debug("no saved arrays for %s (%s): Rasa's load", resource.name, error)
            clf = None
        if clf is None:
            return super().load(config, model_storage, resource, execution_context, **kwargs)
        component = cls(config, execution_context.node_name, model_storage, resource)
        component.clf = clf
        return component


def save_regression(clf: Any, directory: Path, name: str) -> None:
    """``clf`` (a fitted sklearn ``LogisticRegression``) as ``<name>.params.json`` and
    ``<name>.arrays.npz``: what :func:`load_regression` needs to predict the same."""
    params = {key: (value.item() if isinstance(value, np.generic) else value)
              for key, value in clf.get_params().items()}
    if isinstance(params.get("class_weight"), dict):
        params["class_weight"] = [[k, float(v)] for k, v in params["class_weight"].items()]
    (directory / f"{name}.params.json").write_text(json.dumps(params), encoding="utf-8")
    arrays = {key: np.asarray(getattr(clf, key)) for key in SafeLogisticRegressionClassifier.ARRAYS}
    arrays["classes_"] = arrays["classes_"].astype(str)  # never an object array (no pickle)
    np.savez(directory / f"{name}.arrays.npz", **arrays)


def load_regression(directory: Path, name: str) -> Any | None:
    """The regression :func:`save_regression` kept in ``directory``; None when it kept none."""
    from sklearn.linear_model import LogisticRegression

    params_file = directory / f"{name}.params.json"
    arrays_file = directory / f"{name}.arrays.npz"
    if not (params_file.is_file() and arrays_file.is_file()):
        return None
    params = json.loads(params_file.read_text(encoding="utf-8"))
    if isinstance(params.get("class_weight"), list):
        params["class_weight"] = {k: v for k, v in params["class_weight"]}
    clf = LogisticRegression(**params)
    with np.load(arrays_file, allow_pickle=False) as arrays:
        for key in SafeLogisticRegressionClassifier.ARRAYS:
            setattr(clf, key, arrays[key])
    clf.n_features_in_ = clf.coef_.shape[1]
    return clf


def sentence_matrix(messages: list[Message]) -> Any | None:
    """The matrix Rasa's ``LogisticRegressionClassifier._create_X`` builds (each message's sparse
    sentence features, featurizer after featurizer, one row per message), built a block per
    featurizer instead of a row per message; ``None`` where the shortcut does not apply (dense
    features, or messages whose featurizers differ), so Rasa's own code builds it.

    Why: Rasa's loop deep-copies every message's sequence features and stacks each message's
    blocks on its own (``get_sparse_features``, then ``hstack`` per message, then ``vstack``):
    with some 6,500 training messages that took 20 of the intent classifier's 65 seconds in a
    profile of ``./mttq train`` (stop 39), on a machine where training came near the 2 minutes
    issue 11 allows. Same values, same column order, so the same model.

    The rows are put together from each block's columns and values with numpy, not with
    scipy's ``vstack``/``hstack``: for the single message of a ``/model/parse`` their checks and
    conversions cost more than the classifier's arithmetic (stop 41's profile)."""
    from scipy.sparse import csr_matrix

    if not messages:
        return None
    rows: list[list[Any]] = []
    origins: tuple[Any, ...] | None = None
    for message in messages:
        found = [f for f in message.features
                 if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
        if any(not f.is_sparse() for f in found) or not found:
            return None
        names = tuple(f.origin for f in found)
        if origins is None:
            origins = names
        elif names != origins:
            return None
        rows.append([f.features.tocoo() for f in found])
    widths = [block.shape[1] for block in rows[0]]
    if any([block.shape[1] for block in row] != widths or any(block.shape[0] != 1 for block in row)
           for row in rows):
        return None
    offsets = np.cumsum([0, *widths[:-1]])
    columns: list[np.ndarray] = []
    values: list[np.ndarray] = []
    lengths = np.zeros(len(rows) + 1, dtype=np.int64)
    for i, row in enumerate(rows):
        for offset, block in zip(offsets, row, strict=True):
            columns.append(block.col.astype(np.int64) + offset)
            values.append(block.data)
        lengths[i + 1] = sum(block.nnz for block in row)
    # float64 as Rasa's (its per-message ``hstack`` adds an empty float64 block)
    matrix = csr_matrix(
        (np.concatenate(values).astype(np.float64) if values else np.empty(0),
         np.concatenate(columns) if columns else np.empty(0, dtype=np.int64),
         np.cumsum(lengths)),
        shape=(len(rows), int(sum(widths))))
    matrix.sum_duplicates()  # also sorts each row's columns, as scipy's stacking leaves them
    return matrix


def partial_balance(labels: list[str], power: float) -> dict[str, float]:
    """Class weights between unweighted (power 0) and sklearn's "balanced" (power 1)."""
    counts = Counter(labels)
    total, classes = len(labels), len(counts)
    return {label: (total / (classes * n)) ** power for label, n in counts.items()}


def _class_weight(value: Any) -> str | None:
    """sklearn's ``class_weight`` from the config: "balanced", or None for "none"/null."""
    if value is None or str(value).lower() == "none":
        return None
    if str(value).lower() == "balanced":
        return "balanced"
    raise ValueError(f"class_weight must be 'balanced' or 'none', not {value!r}")
