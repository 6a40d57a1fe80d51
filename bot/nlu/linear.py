"""Fast prediction for sklearn's linear models on one sparse message at a time.

``LogisticRegression.decision_function`` computes ``X @ coef_.T``. ``coef_`` is stored row-major
(classes x features), so its transpose is column-major, and scipy's sparse-times-dense product
first copies the whole transposed matrix into row-major order (``ravel``) on every call: with
the folded syllable n-grams that is a copy of several megabytes per message, the largest single
cost of ``/model/parse`` (issue 11 caps parse latency at 1.5 times what it was). Keeping
``coef_`` column-major makes the transpose row-major already, so nothing is copied. The
arithmetic is the same, so the probabilities are the same.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

import numpy as np


def keep_transpose_contiguous(model: Any) -> None:
    """Store a fitted linear model's ``coef_`` column-major (idempotent; no-op if unfitted)."""
    coef = getattr(model, "coef_", None)
    if isinstance(coef, np.ndarray) and not coef.flags.f_contiguous:
        model.coef_ = np.asfortranarray(coef)


#: Each fitted vectoriser's idf as a plain array and its analyzer. Why: sklearn's
#: ``TfidfVectorizer.idf_`` is a property that sums a sparse diagonal matrix on every read, and
#: ``build_analyzer`` builds a new closure: on ``/model/parse`` the idf alone cost more than the
#: arithmetic of both classifiers that read it. A vectoriser is never refitted after loading (a
#: new model is new objects), so what is kept here stays right.
_FITTED: WeakKeyDictionary[Any, tuple[np.ndarray, Any]] = WeakKeyDictionary()


def _fitted(vectorizer: Any) -> tuple[np.ndarray, Any]:
    """(idf, analyzer) of a fitted ``CountVectorizer`` or ``TfidfVectorizer``, computed once
    (the idf is empty where there is none)."""
    found = _FITTED.get(vectorizer)
    if found is None:
        idf = np.asarray(vectorizer.idf_, dtype=np.float64) \
            if getattr(vectorizer, "use_idf", False) else np.empty(0)
        found = (idf, vectorizer.build_analyzer())
        _FITTED[vectorizer] = found
    return found


def term_counts(vectorizer: Any, text: str) -> dict[int, int]:
    """How often each vocabulary column occurs in ``text``, by the fitted vectoriser's own
    analyzer and vocabulary: what sklearn's ``transform`` counts for one document, without
    building a sparse matrix. Shared by the intent featuriser and the programme classifier."""
    vocabulary = vectorizer.vocabulary_
    analyzer = _fitted(vectorizer)[1]
    counts: dict[int, int] = {}
    for term in analyzer(text):
        column = vocabulary.get(term)
        if column is not None:
            counts[column] = counts.get(column, 0) + 1
    return counts


def _tfidf_row(vectorizer: Any, text: str) -> tuple[list[int], list[float]]:
    """One text through a fitted ``TfidfVectorizer``, as (column, value) lists: sklearn's own
    analyzer, vocabulary and idf, its sublinear tf and l2 norm, without building sparse
    matrices (whose construction and checks cost more than the arithmetic for one message)."""
    idf = _fitted(vectorizer)[0]
    counts = term_counts(vectorizer, text)
    columns = sorted(counts)
    values = np.array([counts[c] for c in columns], dtype=np.float64)
    if vectorizer.sublinear_tf:
        values = np.log(values) + 1.0
    if vectorizer.use_idf:
        values = values * idf[columns]
    if vectorizer.norm == "l2" and len(values):
        values = values / np.sqrt(np.dot(values, values))
    elif vectorizer.norm not in (None, "l2"):
        raise ValueError(f"unsupported norm {vectorizer.norm!r}")
    return columns, values.tolist()


def one_message_probabilities(features: Any, model: Any, text: str) -> np.ndarray:
    """``model.predict_proba(features.transform([text]))[0]`` for a ``FeatureUnion`` of
    ``TfidfVectorizer``s and a ``LogisticRegression`` (multinomial, or one-vs-rest as liblinear
    fits it), computed directly.

    Why: on ``/model/parse`` sklearn's general path (sparse matrices built, validated and
    stacked for a single row) cost the programme classifier about 1.7 ms a message, a fifth of
    the parse. The result is the same up to floating-point rounding (tested against sklearn).
    """
    from sklearn.utils.extmath import softmax

    columns: list[int] = []
    values: list[float] = []
    offset = 0
    for _, vectorizer in features.transformer_list:
        cols, vals = _tfidf_row(vectorizer, text)
        columns += [offset + c for c in cols]
        values += vals
        offset += len(vectorizer.vocabulary_)
    decision = model.coef_[:, columns] @ np.array(values) + model.intercept_
    if len(model.classes_) <= 2:
        raise ValueError("one_message_probabilities handles three classes or more only")
    if _one_vs_rest(model):
        # sklearn's OvR ``predict_proba``: each class's sigmoid, normalised to sum to 1.
        from scipy.special import expit

        scores: np.ndarray = expit(decision)
        return scores / scores.sum()
    probabilities: np.ndarray = softmax(decision.reshape(1, -1))[0]
    return probabilities


def _one_vs_rest(model: Any) -> bool:
    """Whether sklearn's ``LogisticRegression.predict_proba`` treats ``model`` as one-vs-rest
    (its own rule in sklearn 1.1: ``multi_class`` "ovr", or "auto" with liblinear)."""
    multi_class = getattr(model, "multi_class", "auto")
    return multi_class == "ovr" or (multi_class == "auto"
                                    and getattr(model, "solver", "") == "liblinear")
