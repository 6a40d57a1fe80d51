"""A learned second opinion on spam: TF-IDF n-grams into logistic regression (issue 12).

Why: the hand-written families of ``content/moderation/`` catch the spam their authors thought
of; each fresh blind set, written by someone else, brought spam of the same kinds in other words
(recall 0.74 to 0.86). A linear model over character and word n-grams generalises from many
examples instead of a few phrases: "vay", "giải ngân", "ib", a price and a phone number together
look like a loan advert whatever the exact wording.

What it reads: mostly the ``compact`` view of :func:`bot.moderation.normalise.normalise`
(lower-case, no diacritics, leetspeak undone, "c.a.s.i.n.o" joined), so "vay tien", "vay tiền",
"v4y t1ền" and "V.A.Y" are the same features. Features are word unigrams and bigrams and the
character 2- to 5-grams of each word (digits read as ``0``, so one phone number looks like
another), plus the words as typed when the message has diacritics (folding makes "tài khoản"
and "tải app" one word: without them a complaint about a bank account's fees read as an
advert), with sublinear term frequency and IDF, L2-normalised, as scikit-learn's
``TfidfVectorizer`` computes them.

Where it learns: ``content/moderation/training.tsv`` (``label<TAB>kind<TAB>text``; labels
``stop`` and ``allow``; kinds are the eight spam kinds, or what a genuine message is), and, as
more genuine text (``allow``), what the project already holds that citizens and the Front write
(:func:`project_allow_lines`: the NLU examples of every intent but ``out_of_scope``, whose "vay
tiền nhanh" asks look like adverts; the legal-type examples; the programme texts, formal
Vietnamese like the news and law the ordinary-text corpus measures). Without them the model had
seen 600 genuine lines and refused 1.2% of ordinary text. It is
trained the first time a process needs it (a few seconds) and kept for the life of the process;
nothing is downloaded and no model file is stored, so the training file is the whole model.

How it is asked: scikit-learn costs about a millisecond per call in input checks alone, more
than the whole 1 ms budget, so :class:`LearnedModel` keeps, after fitting, each feature's column
with its IDF and weight as plain floats, and, per word met, the columns of that word's features
(most of a message's features are its words' character n-grams, the same few thousand words
over and over): a message is scored with a few list and dictionary look-ups per word (the same
number as ``predict_proba``: ``tests/unit/test_moderation_learned.py`` checks it). The kind of spam (for
the reason staff read) is asked of a second, multinomial model only for messages that are stopped.

How its opinion is combined with the rules is :func:`bot.moderation.opinion.second_opinion`.
"""

from __future__ import annotations

import csv
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bot.moderation.normalise import NormalisedText

__all__ = [
    "KIND_CATEGORY",
    "LazyFit",
    "LearnedModel",
    "STOP_KINDS",
    "TRAINING_FILE",
    "features",
    "learned_model",
    "model_if_ready",
    "project_allow_lines",
    "read_labelled",
    "read_training",
    "train",
    "training_lines",
]

TRAINING_FILE = Path(__file__).resolve().parents[2] / "content" / "moderation" / "training.tsv"

#: The kinds of spam issue 12 stops, and the verdict category each is quarantined under.
KIND_CATEGORY: dict[str, str] = {
    "gambling": "gambling",
    "betting": "gambling",
    "scam_phishing": "scam_link",
    "loan": "loan_spam",
    "job_scam": "earn_money_spam",
    "crypto": "earn_money_spam",
    "sim_bank_trade": "account_trade",
    "mass_ad": "ad_spam",
}
STOP_KINDS: tuple[str, ...] = tuple(KIND_CATEGORY)

_WORD = re.compile(r"[^\W_]+")
_DIGIT = str.maketrans("123456789", "000000000")
#: Regularisation of the logistic regressions (inverse strength): chosen by cross-validation
#: (``python -m bot.moderation.learned --cv``) among 1, 3, 10 and 30.
C_BINARY = 10.0
C_KIND = 10.0
#: Words whose known features :class:`LearnedModel` keeps (then it starts again): a few MB.
_MAX_WORDS_KEPT = 50_000


@lru_cache(maxsize=50_000)
def _char_grams(word: str) -> tuple[str, ...]:
    """A word's character 2- to 5-grams, padded, digits as ``0``: kept per word, since the
    same few thousand words make most messages (issue 12: under 1 ms a message)."""
    padded = " " + word.translate(_DIGIT) + " "
    size = len(padded)
    return tuple("c:" + padded[i : i + n] for n in (2, 3, 4, 5) if n <= size
                 for i in range(size - n + 1))


def features(norm: NormalisedText) -> list[str]:
    """The n-grams of one normalised message: of its ``compact`` view, ``w:`` words, ``b:`` word
    pairs, ``c:`` character 2- to 5-grams inside each word padded with a space at both ends
    (digits as ``0``); and, when it was typed with diacritics, ``t:`` its words as typed, which
    tell "tài khoản" from "tải app" (both "tai" once folded)."""
    words = _WORD.findall(norm.compact)
    out = ["w:" + w for w in words]
    out += ["b:" + a + " " + b for a, b in zip(words, words[1:], strict=False)]
    for word in words:
        out += _char_grams(word)
    if norm.text != norm.folded:
        out += ["t:" + w for w in _WORD.findall(norm.text)]
    return out


def _view(text: str) -> NormalisedText:
    from bot.moderation.normalise import normalise

    return normalise(text)


@dataclass(frozen=True)
class TrainingLine:
    label: str
    kind: str
    text: str


def read_labelled(path: Path, labels: tuple[str, ...],
                  kind_ok: Callable[[str, str], bool] = lambda label, kind: True,
                  ) -> list[TrainingLine]:
    """The lines of a labelled TSV (``label<TAB>kind<TAB>text``, ``#`` comments, a header);
    a line with another label, a kind ``kind_ok`` refuses or no text raises ValueError naming
    it."""
    lines: list[TrainingLine] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE),
                                     start=1):
            if not row or row[0].startswith("#") or row[0] == "label":
                continue
            if len(row) != 3 or row[0] not in labels or not row[2].strip() or not kind_ok(
                    row[0], row[1]):
                raise ValueError(
                    f"{path}:{number}: expected '{'|'.join(labels)}<TAB>kind<TAB>text'")
            lines.append(TrainingLine(row[0], row[1], row[2].strip()))
    return lines


def read_training(path: Path | None = None) -> list[TrainingLine]:
    """The labelled lines of the training file (a ``stop`` line's kind is one of
    :data:`STOP_KINDS`); a bad line raises ValueError naming it."""
    return read_labelled(path or TRAINING_FILE, ("stop", "allow"),
                         lambda label, kind: label != "stop" or kind in KIND_CATEGORY)


_ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_SENTENCE = re.compile(r"(?<=[.;:!?])\s+|\n+")
#: NLU files that are not citizens' messages (entity look-up tables) or hold adverts' words.
_NOT_ALLOW = frozenset({"out_of_scope.yml", "regex.yml", "synonyms.yml"})


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def project_allow_lines(root: Path | None = None) -> list[TrainingLine]:
    """Genuine text the project already holds (see the module docstring), as ``allow`` lines."""
    import yaml

    root = root or TRAINING_FILE.parents[2]
    lines: dict[str, TrainingLine] = {}

    def add(kind: str, text: str) -> None:
        text = " ".join(_ENTITY.sub(r"\1", text).split())
        if len(text.split()) >= 3:
            lines.setdefault(text, TrainingLine("allow", kind, text))

    for path in sorted((root / "nlu_data" / "nlu").glob("*.yml")):
        if path.name in _NOT_ALLOW:
            continue
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" in item:
                for example in str(item.get("examples", "")).splitlines():
                    add("nlu", example.strip().removeprefix("- "))
    examples = yaml.safe_load((root / "content" / "legal_types" / "examples.yml")
                              .read_text(encoding="utf-8"))
    for text in _strings(examples):
        add("legal", text)
    for path in sorted((root / "content" / "programmes").glob("*.yml")):
        for text in _strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            for sentence in _SENTENCE.split(text):
                if "{" not in sentence and len(sentence.split()) >= 5:
                    add("programme", sentence)
    return list(lines.values())


class LearnedModel:
    """The fitted models: ``probability`` (fast, every message) and ``kind`` (stopped ones)."""

    def __init__(self, vectorizer: Any, binary: Any, kinds: Any) -> None:
        self.vectorizer = vectorizer
        self.binary = binary
        self.kinds = kinds
        idf = vectorizer.idf_
        coef = binary.coef_[0]
        #: Feature → column; the IDF and weight of each column.
        self._columns: dict[str, int] = dict(vectorizer.vocabulary_)
        self._idf = np.asarray(idf, dtype=float)
        self._coef = np.asarray(coef, dtype=float)
        self._intercept = float(binary.intercept_[0])
        #: Per word of the ``compact`` view: the columns of its ``w:`` feature and of its known
        #: character n-grams (most of a message's features), found once per word for the life
        #: of the process, not once per message.
        self._word_columns: dict[str, tuple[int | None, tuple[int, ...]]] = {}
        self._last: tuple[NormalisedText, Any, Any, float, float] | None = None

    def _word(self, word: str) -> tuple[int | None, tuple[int, ...]]:
        found = self._word_columns.get(word)
        if found is None:
            columns = self._columns
            grams = tuple(c for c in map(columns.get, _char_grams(word)) if c is not None)
            found = (columns.get("w:" + word), grams)
            if len(self._word_columns) >= _MAX_WORDS_KEPT:
                self._word_columns.clear()
            self._word_columns[word] = found
        return found

    def _known(self, norm: NormalisedText) -> list[int]:
        """The columns of the message's known features (:func:`features`), a column once for
        each time its feature occurs."""
        words = _WORD.findall(norm.compact)
        columns = self._columns
        known = self._word_columns.get  # a method call per word was a third of this function
        per_word = [known(w) or self._word(w) for w in words]
        out = [c for c, _ in per_word if c is not None]
        out += [c for c in map(columns.get, ["b:" + a + " " + b for a, b in
                                             zip(words, words[1:], strict=False)])
                if c is not None]
        for _, grams in per_word:
            out += grams
        if norm.text != norm.folded:
            out += [c for c in map(columns.get, ["t:" + w for w in _WORD.findall(norm.text)])
                    if c is not None]
        return out

    def _values(self, norm: NormalisedText) -> tuple[Any, Any, float, float]:
        """The message's known columns (sorted) and their TF-IDF values, the values' L2 norm,
        and their dot product with the binary model's weights. In numpy: a long message has
        several hundred known n-grams, and a Python loop over them was a tenth of a message's
        moderation time (issue 12: under 1 ms at p95). Kept for the last message: a message the
        model stops is asked its :meth:`kind` right after its :meth:`probability`."""
        last = self._last
        if last is not None and last[0] is norm:
            return last[1], last[2], last[3], last[4]
        columns, counts = np.unique(np.fromiter(self._known(norm), dtype=np.intp),
                                    return_counts=True)
        values = self._idf[columns]
        if counts.size and counts.max() > 1:  # sublinear tf: 1 + log(count)
            values = values * (1.0 + np.log(counts))
        length = math.sqrt(float(values @ values))
        total = float(values @ self._coef[columns])
        self._last = (norm, columns, values, length, total)
        return columns, values, length, total

    def probability(self, norm: NormalisedText) -> float:
        """P(spam) of one normalised message: what ``binary.predict_proba`` gives, without
        scikit-learn's per-call overhead."""
        _, _, length, total = self._values(norm)
        score = self._intercept + (total / length if length else 0.0)
        return 1.0 / (1.0 + math.exp(-score))

    def kind(self, norm: NormalisedText) -> str:
        """The most likely of :data:`STOP_KINDS` for a message judged to be spam: what
        ``kinds.predict`` gives (one-vs-rest, the highest decision), in one matrix product."""
        columns, values, length, _ = self._values(norm)
        scores = self.kinds.intercept_.copy()
        if length:
            scores += self.kinds.coef_[:, columns] @ values / length
        return str(self.kinds.classes_[int(np.argmax(scores))])


def _fit(texts: list[NormalisedText], labels: list[str], kinds: list[str]) -> LearnedModel:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(analyzer=features, sublinear_tf=True, min_df=2)
    matrix = vectorizer.fit_transform(texts)
    binary = LogisticRegression(C=C_BINARY, class_weight="balanced", solver="liblinear")
    binary.fit(matrix, [label == "stop" for label in labels])
    stop_rows = [i for i, label in enumerate(labels) if label == "stop"]
    kind_model = LogisticRegression(C=C_KIND, solver="liblinear")
    kind_model.fit(matrix[stop_rows], [kinds[i] for i in stop_rows])
    return LearnedModel(vectorizer, binary, kind_model)


def training_lines() -> list[TrainingLine]:
    """The training file and the project's genuine text (:func:`project_allow_lines`)."""
    own = read_training()
    seen = {line.text for line in own}
    return own + [line for line in project_allow_lines() if line.text not in seen]


def train(lines: list[TrainingLine] | None = None) -> LearnedModel:
    """Fit both models on ``lines`` (default: :func:`training_lines`)."""
    lines = lines if lines is not None else training_lines()
    return _fit([_view(line.text) for line in lines], [line.label for line in lines],
                [line.kind for line in lines])


class LazyFit:
    """A model fitted once per process, at first use.

    ``get`` fits it (seconds) and waits; ``if_ready`` starts the fit in a background thread and
    returns None until it is done: for a running bot, where a citizen's first message must not
    wait for it (the rules judge alone until then). The spam model and the contempt model
    (:mod:`bot.moderation.contempt`) each have one."""

    def __init__(self, fit: Callable[[], LearnedModel], name: str) -> None:
        self._fit = fit
        self._name = name
        self._model: LearnedModel | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def get(self) -> LearnedModel:
        with self._lock:
            if self._model is None:
                self._model = self._fit()
            return self._model

    def if_ready(self) -> LearnedModel | None:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self.get, name=self._name, daemon=True)
                self._thread.start()
        return self._model


_spam_model = LazyFit(train, "moderation-model")


def learned_model() -> LearnedModel:
    """The model trained on :func:`training_lines`, fitted at first use, once per process."""
    return _spam_model.get()


def model_if_ready() -> LearnedModel | None:
    """The model when it is trained; otherwise start training it in the background and return
    None (see :class:`LazyFit`)."""
    return _spam_model.if_ready()
