"""Measure the filter on a labelled set: precision, recall and the lines it got wrong.

Shared by the unit test (which fails below the agreed precision and recall) and the command line
(``python -m bot.moderation --eval FILE``), so trainers see the same figures CI checks. A labelled
file is TSV, one message per line: ``spam<TAB>text`` or ``legit<TAB>text``; blank lines and lines
starting with ``#`` are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.moderation.engine import Verdict, moderate
from bot.moderation.rules import ModerationRules

__all__ = ["Evaluation", "LABELS", "evaluate", "read_labelled"]

LABELS = ("spam", "legit")


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """``(label, text)`` pairs from a labelled TSV file; a bad line raises ValueError naming it."""
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, text = line.partition("\t")
        if not sep or label.strip() not in LABELS or not text.strip():
            raise ValueError(f"{path}:{number}: expected 'spam|legit<TAB>text', got {line!r}")
        pairs.append((label.strip(), text.strip()))
    return pairs


@dataclass
class Evaluation:
    """Confusion counts, with spam as the positive class, and the misclassified lines."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    true_negatives: int = 0
    wrong: list[tuple[str, Verdict, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        spam = self.true_positives + self.false_negatives
        return self.true_positives / spam if spam else 1.0

    def summary(self, name: str = "") -> str:
        """A few lines for a terminal: the figures, then each mistake with its verdict."""
        total = self.true_positives + self.false_positives
        total += self.false_negatives + self.true_negatives
        lines = [
            f"{name + ': ' if name else ''}precision {self.precision:.3f}  "
            f"recall {self.recall:.3f}  (n={total}, tp={self.true_positives}, "
            f"fp={self.false_positives}, fn={self.false_negatives}, tn={self.true_negatives})"
        ]
        for label, verdict, text in self.wrong:
            kind = "FALSE POSITIVE" if label == "legit" else "MISSED SPAM"
            lines.append(
                f"  {kind} [{verdict.category} {verdict.score:g}] {text}\n      -> {verdict.reason}"
            )
        return "\n".join(lines)


def evaluate(pairs: Iterable[tuple[str, str]], rules: ModerationRules | None = None) -> Evaluation:
    """Run :func:`moderate` on every pair and count agreements with the label."""
    result = Evaluation()
    for label, text in pairs:
        verdict = moderate(text, rules)
        if label == "spam" and verdict.flagged:
            result.true_positives += 1
        elif label == "spam":
            result.false_negatives += 1
            result.wrong.append((label, verdict, text))
        elif verdict.flagged:
            result.false_positives += 1
            result.wrong.append((label, verdict, text))
        else:
            result.true_negatives += 1
    return result
