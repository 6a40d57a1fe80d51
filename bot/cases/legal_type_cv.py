"""Cross-validation of the legal-type classifier on its own examples: ``./mttq legal-type --cv``.

Why: the thresholds of :mod:`bot.cases.legal_type` (:data:`~bot.cases.legal_type.TO_CAO_FLOOR`,
:data:`~bot.cases.legal_type.PROTECT_FLOOR`, :data:`~bot.cases.legal_type.UNSURE_BELOW`) must be
chosen without looking at any blind set. Repeated stratified k-fold over
``content/legal_types/examples.yml`` gives every example an out-of-fold probability; the
thresholds are then swept over those probabilities, so one training pass serves every setting.
The figures quoted beside the constants are printed by this command.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.cases import legal_type as lt

__all__ = ["CvFigures", "out_of_fold", "score", "report"]


@dataclass(frozen=True)
class CvFigures:
    """Shares over all out-of-fold predictions (each example counted once per repeat)."""

    accuracy: float
    to_cao_recall: float
    to_cao_precision: float
    phan_anh_as_to_cao: float
    protected_recall: float
    others_protected: float
    unsure: float


def out_of_fold(examples: Path | None = None, *, folds: int = 5, repeats: int = 3
                ) -> list[tuple[str, dict[str, float]]]:
    """``(gold, probabilities)`` for every example in every repeat, from a model that did not
    see it (the cues file beside the examples is used as in production)."""
    from sklearn.model_selection import StratifiedKFold

    path = examples or lt._content_dir() / "examples.yml"
    pairs = lt.load_examples(path)
    cues = lt.load_cues(path.parent / "cues.yml")
    labels = [label for label, _ in pairs]
    rows: list[tuple[str, dict[str, float]]] = []
    for repeat in range(repeats):
        splitter = StratifiedKFold(folds, shuffle=True, random_state=repeat)
        for train, test in splitter.split(labels, labels):
            model = lt._Model([pairs[i] for i in train], cues)
            probs = model.probabilities([pairs[i][1] for i in test])
            rows.extend((labels[i], p) for i, p in zip(test, probs, strict=True))
    return rows


def score(rows: Sequence[tuple[str, Mapping[str, float]]], *, floor: float, protect: float,
          unsure_below: float) -> CvFigures:
    """The figures for one setting of the thresholds."""
    confusion: Counter[tuple[str, str]] = Counter()
    support: Counter[str] = Counter()
    protected: Counter[bool] = Counter()
    unsure = 0
    for gold, probs in rows:
        guess = lt._decide(probs, floor=floor, unsure_below=unsure_below)
        confusion[(gold, guess.type)] += 1
        support[gold] += 1
        if guess.type == "to_cao" or probs.get("to_cao", 0.0) >= protect:
            protected[gold == "to_cao"] += 1
        unsure += guess.unsure
    total = sum(support.values()) or 1
    to_cao = support["to_cao"] or 1
    predicted_to_cao = sum(n for (_, p), n in confusion.items() if p == "to_cao") or 1
    return CvFigures(
        accuracy=sum(confusion[(t, t)] for t in lt.LEGAL_TYPES) / total,
        to_cao_recall=confusion[("to_cao", "to_cao")] / to_cao,
        to_cao_precision=confusion[("to_cao", "to_cao")] / predicted_to_cao,
        phan_anh_as_to_cao=confusion[("phan_anh", "to_cao")] / (support["phan_anh"] or 1),
        protected_recall=protected[True] / to_cao,
        others_protected=protected[False] / ((total - support["to_cao"]) or 1),
        unsure=unsure / total,
    )


def report(out: TextIO, examples: Path | None = None, *, folds: int = 5, repeats: int = 3) -> None:
    """Print the sweep: the tố cáo floor, the protect floor and the unsure threshold around the
    values in use, one line each."""
    rows = out_of_fold(examples, folds=folds, repeats=repeats)
    print(f"Legal type, {repeats} x {folds}-fold cross-validation on {len(rows) // repeats} "
          f"examples (in use: TO_CAO_FLOOR {lt.TO_CAO_FLOOR}, PROTECT_FLOOR {lt.PROTECT_FLOOR}, "
          f"UNSURE_BELOW {lt.UNSURE_BELOW})", file=out)
    settings = (
        [("TO_CAO_FLOOR", f, lt.PROTECT_FLOOR, lt.UNSURE_BELOW) for f in (0.2, 0.25, 0.3, 0.35, 0.4)]
        + [("PROTECT_FLOOR", lt.TO_CAO_FLOOR, p, lt.UNSURE_BELOW) for p in (0.1, 0.15, 0.2)]
        + [("UNSURE_BELOW", lt.TO_CAO_FLOOR, lt.PROTECT_FLOOR, u) for u in (0.5, 0.55, 0.6)]
    )
    for name, floor, protect, unsure_below in settings:
        value = {"TO_CAO_FLOOR": floor, "PROTECT_FLOOR": protect, "UNSURE_BELOW": unsure_below}
        f = score(rows, floor=floor, protect=protect, unsure_below=unsure_below)
        print(f"  {name} {value[name]:.2f}: accuracy {f.accuracy:.3f} · to_cao recall "
              f"{f.to_cao_recall:.3f} · precision {f.to_cao_precision:.3f} · phan_anh as to_cao "
              f"{f.phan_anh_as_to_cao:.3f} · protected recall {f.protected_recall:.3f} · others "
              f"protected {f.others_protected:.3f} · unsure {f.unsure:.3f}", file=out)
