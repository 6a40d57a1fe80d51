"""Measuring the legal-type classifier on a labelled file: ``./mttq legal-type --eval [FILE]``.

Kept apart from :mod:`bot.cases.legal_type` (what intake calls on every petition) because it is a
trainer's tool: it reads a labelled set, prints accuracy, per-type precision and recall and the
tố cáo recall the issue sets a target for, and refuses to print the mistakes of the blind set.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.cases.legal_type import (
    LEGAL_TYPES,
    LegalTypeError,
    LegalTypeGuess,
    classify,
    classify_many,
    protects_identity,
)

__all__ = ["EvalReport", "evaluate", "main", "read_labelled"]

#: The blind set (issue 17): measured, never read.
_BLIND_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "legal_type_blind"


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """``(label, text)`` rows of a ``label<TAB>text`` file (a ``label`` header is skipped)."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        gold, sep, text = line.partition("\t")
        gold = gold.strip()
        if number == 1 and gold == "label":
            continue
        if not sep or gold not in LEGAL_TYPES:
            raise LegalTypeError(f"{path}:{number}: expected <type><TAB><text>, type one of "
                                 f"{LEGAL_TYPES}")
        rows.append((gold, text.strip()))
    return rows


@dataclass(frozen=True)
class EvalReport:
    total: int
    correct: int
    unsure: int
    precision: Mapping[str, float]
    recall: Mapping[str, float]
    support: Mapping[str, int]
    confusion: Mapping[tuple[str, str], int]
    #: Share of tố cáo messages whose sender would be protected (:func:`protects_identity`).
    protected_recall: float = 0.0
    #: Messages of other types whose sender would be protected too (the safeguard's cost).
    protected_others: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def summary(self, name: str = "", mistakes: Sequence[str] = ()) -> str:
        lines = [f"Legal type on {name}: {self.total} messages" if name
                 else f"Legal type: {self.total} messages"]
        lines.append(f"  accuracy {self.accuracy:.3f} ({self.correct}/{self.total}); "
                     f"tố cáo recall {self.recall.get('to_cao', 0.0):.3f}; "
                     f"unsure (would ask) {self.unsure}")
        others = self.total - self.support.get("to_cao", 0)
        lines.append(f"  protected recall {self.protected_recall:.3f} (to_cao senders whose "
                     f"identity would be protected); other types protected "
                     f"{self.protected_others}/{others}")
        lines.append("  type        precision  recall  support")
        for t in LEGAL_TYPES:
            lines.append(f"  {t:<10}  {self.precision.get(t, 0.0):9.3f}  "
                         f"{self.recall.get(t, 0.0):6.3f}  {self.support.get(t, 0):7d}")
        lines.append("  confusion (gold -> predicted): " + ", ".join(
            f"{g}->{p} {n}" for (g, p), n in sorted(self.confusion.items()) if g != p) or "none")
        lines.extend(mistakes)
        return "\n".join(lines)


def evaluate(rows: Sequence[tuple[str, str]], *, examples: Path | None = None
             ) -> tuple[EvalReport, list[LegalTypeGuess]]:
    guesses = classify_many([text for _, text in rows], examples=examples)
    confusion: Counter[tuple[str, str]] = Counter(
        (gold, guess.type) for (gold, _), guess in zip(rows, guesses, strict=True))
    support = Counter(gold for gold, _ in rows)
    predicted = Counter(guess.type for guess in guesses)
    precision = {t: confusion[(t, t)] / predicted[t] if predicted[t] else 0.0 for t in LEGAL_TYPES}
    recall = {t: confusion[(t, t)] / support[t] if support[t] else 0.0 for t in LEGAL_TYPES}
    protected = Counter(gold == "to_cao" for (gold, _), guess in zip(rows, guesses, strict=True)
                        if protects_identity(guess))
    report = EvalReport(
        total=len(rows),
        correct=sum(confusion[(t, t)] for t in LEGAL_TYPES),
        unsure=sum(g.unsure for g in guesses),
        precision=precision,
        recall=recall,
        support=dict(support),
        confusion=dict(confusion),
        protected_recall=protected[True] / support["to_cao"] if support["to_cao"] else 0.0,
        protected_others=protected[False],
    )
    return report, guesses


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """``./mttq legal-type``: classify lines of a file (or stdin), or ``--eval`` a labelled file."""
    out = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(
        prog="./mttq legal-type",
        description="The legal type (phan_anh, kien_nghi, khieu_nai, to_cao) of each message; "
        "with --eval, accuracy and per-type precision/recall on a labelled TSV (label<TAB>text).",
    )
    parser.add_argument("file", nargs="?", help="messages, one per line (default: stdin); with "
                        "--eval a labelled TSV (default: every blind set, "
                        "tests/data/legal_type_blind/*.tsv, each reported on its own)")
    parser.add_argument("--eval", action="store_true", help="measure on a labelled file")
    parser.add_argument("--mistakes", action="store_true",
                        help="with --eval, also print the messages classified wrongly "
                        "(never use it on the blind set)")
    parser.add_argument("--examples", type=Path, help="training examples (default: "
                        "content/legal_types/examples.yml)")
    parser.add_argument("--cv", action="store_true", help="3 x 5-fold cross-validation on the "
                        "training examples, sweeping the to_cao, protect and unsure thresholds "
                        "(reads no evaluation set)")
    args = parser.parse_args(argv)
    try:
        if args.cv:
            from bot.cases.legal_type_cv import report as cv_report

            cv_report(out, args.examples)
            return 0
        if args.eval:
            paths = [Path(args.file)] if args.file else sorted(_BLIND_DIR.glob("*.tsv"))
            if not paths:
                parser.error("--eval needs a labelled file (no tests/data/legal_type_blind/*.tsv)")
            if args.mistakes and any(p.resolve().parent == _BLIND_DIR.resolve() for p in paths):
                parser.error("--mistakes would print blind-set lines; it is for the dev set")
            for path in paths:
                rows = read_labelled(path)
                report, guesses = evaluate(rows, examples=args.examples)
                mistakes = [
                    f"  {gold} -> {g.type} ({g.confidence:.2f}{', unsure' if g.unsure else ''}): "
                    f"{text}"
                    for (gold, text), g in zip(rows, guesses, strict=True) if g.type != gold
                ] if args.mistakes else []
                print(report.summary(str(path), mistakes), file=out)
            return 0
        stream = open(args.file, encoding="utf-8") if args.file else sys.stdin
        try:
            for line in stream:
                text = line.strip()
                if text:
                    g = classify(text, examples=args.examples)
                    flag = "unsure" if g.unsure else "sure"
                    print(f"{g.type}\t{g.confidence:.2f}\t{flag}\t{text}", file=out)
        finally:
            if stream is not sys.stdin:
                stream.close()
    except LegalTypeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
