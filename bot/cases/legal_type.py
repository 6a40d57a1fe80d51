"""Which legal kind of case a citizen's message is: phản ánh, kiến nghị, khiếu nại or tố cáo.

Citizens do not know the difference and often use the wrong word ("khiếu nại" about a noisy
karaoke bar is a phản ánh; a bribed official denounced without the word "tố cáo" is still a tố
cáo), so the type is read from the meaning, by a small model trained on the hand-written examples
of ``content/legal_types/examples.yml``:

* phản ánh — informs about a situation or problem that needs attention;
* kiến nghị — proposes or suggests a policy or how something should be done;
* khiếu nại — asks for the review of an administrative decision or act of a state body or
  official that the citizen believes unlawful and that infringes their rights (Luật Khiếu nại
  02/2011/QH13, Điều 2);
* tố cáo — reports a violation of law by an agency, organisation or individual to a competent
  person (Luật Tố cáo 25/2018/QH14, Điều 2).

The model is a scikit-learn pipeline: character n-grams (2–5, within words) and word uni/bi/
trigrams, both TF-IDF on the text folded by :mod:`bot.vietnamese` (teencode expanded, diacritics
and case dropped), plus one feature per type counting the phrases of
``content/legal_types/cues.yml`` found in the text, into a multinomial logistic regression. The
citizen's own legal words are masked before the features are taken, so they cannot decide the
type on their own. It is trained at first use (about a second on two cores) and kept for the
process; an edited examples or cues file is picked up on the next call.

A missed tố cáo would show its sender's identity to a whole group, so tố cáo wins whenever its
probability reaches :data:`TO_CAO_FLOOR`, and a guess below :data:`UNSURE_BELOW` (or too close to
the runner-up) is marked ``unsure`` so the conversation asks the citizen with :func:`choices`.

What the citizen reads (:func:`explain`, :func:`extra_question`, :func:`unsure_question`,
:func:`choices`) is in ``content/legal_types/texts.yml``.

``python -m bot.cases.legal_type --eval [FILE]`` (``./mttq legal-type --eval``) measures the
classifier on a labelled TSV (``label<TAB>text``), by default the blind set.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.vietnamese.normalize import normalize, strip_diacritics

__all__ = [
    "LEGAL_TYPES",
    "PROTECT_FLOOR",
    "TO_CAO_FLOOR",
    "UNSURE_BELOW",
    "LegalTypeError",
    "LegalTypeGuess",
    "choices",
    "classify",
    "explain",
    "extra_question",
    "features_text",
    "label",
    "protects_identity",
    "to_cao_probability",
    "unsure_question",
]

LEGAL_TYPES: tuple[str, ...] = ("phan_anh", "kien_nghi", "khieu_nai", "to_cao")

#: Below this probability for the best type, the guess is unsure and the conversation asks.
#: It changes no type, only how often the citizen is asked: 7.1% of the examples at 0.50, 8.1%
#: at 0.55, 9.8% at 0.60 in 3 x 5-fold cross-validation (959 examples); kept.
UNSURE_BELOW = 0.55
#: ... and also when the runner-up is this close.
UNSURE_MARGIN = 0.15
#: Tố cáo is chosen whenever its probability reaches this, whatever scores higher: a tố cáo
#: taken for something else would show its sender to a whole group. Kept at 0.30 after
#: 3 x 5-fold cross-validation on the 959 examples (December 2026): 0.25 gives tố cáo recall
#: 0.960 / accuracy 0.901 / phản ánh read as tố cáo 0.223; 0.30 gives 0.948 / 0.913 / 0.171;
#: 0.35 gives 0.940 / 0.917 / 0.150 — lower buys little recall for many nuisances taken as
#: tố cáo, and :data:`PROTECT_FLOOR` already protects most of what the floor misses.
TO_CAO_FLOOR = 0.30
#: Below :data:`TO_CAO_FLOOR` but at or above this, another type wins yet the sender should
#: still be protected (:func:`protects_identity`): hiding a phản ánh sender from the group costs
#: little, showing a tố cáo sender is what the law forbids. 0.15 chosen by 5-fold cross-validation
#: on the examples (protected tố cáo 0.988 vs 0.979 at 0.20) and the dev set; rechecked on the
#: 959 examples, 3 x 5-fold: protected 0.990 / 0.978 / 0.969 at 0.10 / 0.15 / 0.20, other types
#: protected 0.284 / 0.216 / 0.173.
PROTECT_FLOOR = 0.15
#: How much a cue phrase weighs beside the n-grams (each type's cue count is one feature).
CUE_WEIGHT = 0.25
#: Minimum examples per type in the training file.
MIN_EXAMPLES = 60


#: The citizen's own legal words (folded): masked, so the meaning decides, not the label used.
_LEGAL_WORDS = re.compile(r"\b(khieu nai|khieu kien|to cao|phan anh|to giac)\b")


class LegalTypeError(ValueError):
    """The examples or texts file is malformed: named with the file and the entry."""


@dataclass(frozen=True)
class LegalTypeGuess:
    """The type read from a message: ``type`` with probability ``confidence``; ``alternatives``
    are the other types, most likely first; ``unsure`` asks the conversation to check."""

    type: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]
    unsure: bool


def features_text(text: str) -> str:
    """What the model reads: NFC, tone marks placed, teencode expanded, then folded (no
    diacritics, lower case, single spaces), with the citizen's legal words masked."""
    norm = normalize(text or "", teencode=True).text
    folded = " ".join(strip_diacritics(norm).lower().split())
    return _LEGAL_WORDS.sub(" tu_phap_ly ", folded)


# --------------------------------------------------------------------------- content files


def _content_dir() -> Path:
    from bot.settings import get_settings

    return get_settings().content_dir / "legal_types"


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LegalTypeError(f"{path}: {exc}") from exc


def _by_type(path: Path, what: str) -> Mapping[str, Any]:
    """A content file keyed by legal type, checked: a mapping, and no type we do not know."""
    data = _read_yaml(path)
    if not isinstance(data, Mapping):
        raise LegalTypeError(f"{path}: expected a mapping from type to a list of {what}")
    unknown = set(map(str, data)) - set(LEGAL_TYPES)
    if unknown:
        raise LegalTypeError(f"{path}: unknown types {sorted(unknown)}; known: {LEGAL_TYPES}")
    return data


def load_cues(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Per type, the folded phrases of ``content/legal_types/cues.yml`` (see its header)."""
    path = path or _content_dir() / "cues.yml"
    data = _by_type(path, "phrases")
    cues: dict[str, tuple[str, ...]] = {}
    for legal_type in LEGAL_TYPES:
        items = data.get(legal_type) or []
        if not isinstance(items, list):
            raise LegalTypeError(f"{path}: {legal_type}: expected a list of phrases")
        phrases = []
        for i, item in enumerate(items):
            folded = features_text(str(item)) if isinstance(item, str) else ""
            if not folded.strip() or "tu_phap_ly" in folded:
                raise LegalTypeError(f"{path}: {legal_type}[{i}]: expected a phrase that is not "
                                     f"a legal word, got {item!r}")
            phrases.append(folded)
        cues[legal_type] = tuple(phrases)
    return cues


def load_examples(path: Path | None = None) -> list[tuple[str, str]]:
    """``(type, text)`` pairs from the examples file; every type needs :data:`MIN_EXAMPLES`."""
    path = path or _content_dir() / "examples.yml"
    data = _by_type(path, "examples")
    pairs: list[tuple[str, str]] = []
    for legal_type in LEGAL_TYPES:
        items = data.get(legal_type)
        if not isinstance(items, list) or len(items) < MIN_EXAMPLES:
            raise LegalTypeError(f"{path}: {legal_type}: needs a list of at least "
                                 f"{MIN_EXAMPLES} examples")
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise LegalTypeError(f"{path}: {legal_type}[{i}]: expected a non-empty string")
            pairs.append((legal_type, item.strip()))
    return pairs


@dataclass(frozen=True)
class _Texts:
    labels: Mapping[str, str]
    choices: Mapping[str, str]
    explain: Mapping[str, str]
    extra: Mapping[str, str | None]
    unsure_question: str


def _clean(value: Any) -> str:
    return " ".join(str(value).split())


@lru_cache(maxsize=4)
def _load_texts(path: Path, mtime_ns: int) -> _Texts:
    data = _read_yaml(path)
    types = data.get("types") if isinstance(data, Mapping) else None
    if not isinstance(types, Mapping):
        raise LegalTypeError(f"{path}: expected 'types' with an entry per legal type")
    labels, picks, explains, extras = {}, {}, {}, {}
    for legal_type in LEGAL_TYPES:
        entry = types.get(legal_type)
        if not isinstance(entry, Mapping):
            raise LegalTypeError(f"{path}: types.{legal_type}: missing")
        for key in ("label", "choice", "explain"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise LegalTypeError(f"{path}: types.{legal_type}.{key}: expected a text")
        extra = entry.get("extra_question")
        if extra is not None and (not isinstance(extra, str) or not extra.strip()):
            raise LegalTypeError(f"{path}: types.{legal_type}.extra_question: a text or null")
        labels[legal_type] = _clean(entry["label"])
        picks[legal_type] = _clean(entry["choice"])
        explains[legal_type] = _clean(entry["explain"])
        extras[legal_type] = _clean(extra) if extra is not None else None
    question = data.get("unsure_question")
    if not isinstance(question, str) or not question.strip():
        raise LegalTypeError(f"{path}: unsure_question: expected a text")
    return _Texts(labels, picks, explains, extras, _clean(question))


def _texts(path: Path | None = None) -> _Texts:
    path = path or _content_dir() / "texts.yml"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise LegalTypeError(f"{path}: {exc}") from exc
    return _load_texts(path, mtime)


def _known(legal_type: str) -> str:
    if legal_type not in LEGAL_TYPES:
        raise ValueError(f"unknown legal type {legal_type!r}; known: {LEGAL_TYPES}")
    return legal_type


def label(legal_type: str) -> str:
    """The type's Vietnamese name, e.g. "Khiếu nại"."""
    return _texts().labels[_known(legal_type)]


def explain(legal_type: str) -> str:
    """One plain Vietnamese sentence for the citizen: what will happen to their case."""
    return _texts().explain[_known(legal_type)]


def extra_question(legal_type: str) -> str | None:
    """The one extra thing the type needs (khiếu nại: which decision or act, and since when;
    tố cáo: identity protected, who/what/when), or None."""
    return _texts().extra[_known(legal_type)]


def unsure_question() -> str:
    """What to ask when :attr:`LegalTypeGuess.unsure` (offer :func:`choices` as buttons)."""
    return _texts().unsure_question


def choices(guess: LegalTypeGuess | None = None) -> list[tuple[str, str]]:
    """``(type, one-line description)`` to offer; the guess and its alternatives first."""
    order = list(LEGAL_TYPES)
    if guess is not None:
        order = [guess.type, *(t for t, _ in guess.alternatives)]
    texts = _texts()
    return [(t, texts.choices[t]) for t in order]


# --------------------------------------------------------------------------- the model


class _CueCounts:
    """Per type, log(1 + how many of its cue phrases the folded text contains), times ``weight``:
    a sklearn transformer (fit does nothing) so the cues sit beside the n-grams."""

    def __init__(self, cues: Mapping[str, Sequence[str]], weight: float) -> None:
        self.weight = weight
        self.patterns = [
            re.compile(r"\b(?:" + "|".join(re.escape(p) for p in sorted(cues.get(t, ()),
                                                                      key=len, reverse=True))
                       + r")\b") if cues.get(t) else None
            for t in LEGAL_TYPES
        ]

    def fit(self, texts: Sequence[str], y: Any = None) -> _CueCounts:
        return self

    def transform(self, texts: Sequence[str]) -> Any:
        import math

        from scipy.sparse import csr_matrix

        rows = [[self.weight * math.log1p(len(p.findall(text))) if p else 0.0
                 for p in self.patterns] for text in texts]
        return csr_matrix(rows)

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # sklearn asks for it
        return {}

    def set_output(self, *, transform: Any = None) -> _CueCounts:  # pragma: no cover
        return self


class _Model:
    def __init__(self, pairs: Sequence[tuple[str, str]],
                 cues: Mapping[str, Sequence[str]] | None = None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline

        parts: list[tuple[str, Any]] = [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                      min_df=1)),
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 3), sublinear_tf=True,
                                      token_pattern=r"(?u)\b\w+\b")),
        ]
        if cues:
            parts.append(("cues", _CueCounts(cues, CUE_WEIGHT)))
        features = FeatureUnion(parts)
        self.pipeline = Pipeline([
            ("features", features),
            # newton-cg: the same optimum as the default lbfgs (identical cross-validation
            # figures) in about a seventh of the CPU time on ~900 examples.
            ("classifier", LogisticRegression(C=20.0, max_iter=3000, class_weight="balanced",
                                              solver="newton-cg")),
        ])
        self.pipeline.fit([features_text(t) for _, t in pairs], [label for label, _ in pairs])
        self.classes: list[str] = [str(c) for c in self.pipeline.classes_]

    def probabilities(self, texts: Sequence[str]) -> list[dict[str, float]]:
        rows = self.pipeline.predict_proba([features_text(t) for t in texts])
        return [dict(zip(self.classes, map(float, row), strict=True)) for row in rows]


_lock = threading.Lock()
_cache: dict[tuple[str, int, int], _Model] = {}


def _model(path: Path | None = None) -> _Model:
    """The model trained on ``path`` and the ``cues.yml`` beside it; retrained when either
    changes."""
    path = path or _content_dir() / "examples.yml"
    cues = path.parent / "cues.yml"
    try:
        key = (str(path), path.stat().st_mtime_ns, cues.stat().st_mtime_ns)
    except OSError as exc:
        raise LegalTypeError(f"{exc.filename}: {exc}") from exc
    with _lock:
        model = _cache.get(key)
        if model is None:
            model = _Model(load_examples(path), load_cues(cues))
            _cache.clear()
            _cache[key] = model
        return model


def _decide(probs: Mapping[str, float], *, floor: float | None = None,
            unsure_below: float | None = None) -> LegalTypeGuess:
    """The guess from the model's probabilities; ``floor`` and ``unsure_below`` default to
    :data:`TO_CAO_FLOOR` and :data:`UNSURE_BELOW` (other values: cross-validation sweeps)."""
    floor = TO_CAO_FLOOR if floor is None else floor
    unsure_below = UNSURE_BELOW if unsure_below is None else unsure_below
    ranked = sorted(probs.items(), key=lambda item: item[1], reverse=True)
    best, best_p = ranked[0]
    if best != "to_cao" and probs.get("to_cao", 0.0) >= floor:
        best, best_p = "to_cao", probs["to_cao"]
        ranked = [("to_cao", best_p), *(r for r in ranked if r[0] != "to_cao")]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    unsure = best_p < unsure_below or abs(best_p - runner_up) < UNSURE_MARGIN
    return LegalTypeGuess(
        type=best,
        confidence=round(best_p, 4),
        alternatives=tuple((t, round(p, 4)) for t, p in ranked[1:]),
        unsure=unsure,
    )


def to_cao_probability(guess: LegalTypeGuess) -> float:
    """The model's probability that the message is a tố cáo, whichever type won."""
    if guess.type == "to_cao":
        return guess.confidence
    return dict(guess.alternatives).get("to_cao", 0.0)


def protects_identity(guess: LegalTypeGuess) -> bool:
    """Whether the sender of a message classified as ``guess`` should have their identity kept
    from the group as for a tố cáo: the guess is tố cáo, or its tố cáo probability reaches
    :data:`PROTECT_FLOOR` even though another type won. A safeguard for the tố cáo the model
    misses, not a change of type."""
    return guess.type == "to_cao" or to_cao_probability(guess) >= PROTECT_FLOOR


def needs_complaint_detail(text: str) -> bool:
    """Whether a petition being written reads clearly as a khiếu nại, so the form asks which
    decision or act it is about and when the citizen learned of it (the time to complain, 90
    days under Law on Complaints 02/2011/QH13, runs from then; the article is not verified, see
    ``content/legal_deadlines.yml``)."""
    guess = classify(text)
    return guess.type == "khieu_nai" and not guess.unsure


def classify(text: str, *, examples: Path | None = None) -> LegalTypeGuess:
    """The legal type of ``text`` (a citizen's case as typed). An empty text is unsure."""
    if not features_text(text).strip():
        share = round(1 / len(LEGAL_TYPES), 4)
        return LegalTypeGuess("phan_anh", share,
                              tuple((t, share) for t in LEGAL_TYPES[1:]), True)
    return _decide(_model(examples).probabilities([text])[0])


def classify_many(texts: Sequence[str], *, examples: Path | None = None) -> list[LegalTypeGuess]:
    return [_decide(p) for p in _model(examples).probabilities(list(texts))]
