"""``python -m bot.moderation``: moderate messages from a file or stdin, one per line.

For trainers and staff trying a message or checking a word-list edit. Every line is printed back
as TSV ``decision<TAB>marker<TAB>rules<TAB>category<TAB>score<TAB>reason<TAB>text``:

* ``decision`` is what intake does with the message, the whole policy of
  :mod:`bot.moderation.gate` with the learned model's second opinion: ``STOP`` (quarantined,
  never a case), ``CALM`` (only an insult: a calm reply and nothing kept) or ``TAKE`` (a case);
* ``marker`` is what staff see on a case taken (``clean``, ``rude``, ``threat``);
* ``rules`` is the word lists' verdict alone (``FLAG`` or ``PASS``), so an edit's effect shows
  even where the model overrules it; category, score and reason are the decision's.

Why both: the command once printed the rules' verdict only, and a trainer trying an advert the
model stops saw ``PASS`` for what the product quarantines (and the reverse for a citizen's
report the model releases). ``--rules-only`` prints the old five columns
(``verdict<TAB>category<TAB>score<TAB>reason<TAB>text``) without training the model.

With ``--eval`` the input is a labelled file (``spam|legit<TAB>text``) and the precision, recall
and mistakes are printed instead; a file with the header ``label<TAB>kind<TAB>text`` (the blind
sets of ``tests/data/moderation_blind/``, the default) is measured against the whole policy:
genuine messages refused, spam recall, what insults got. Exits 0 when the messages were read; 2
when the rules are broken.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.moderation.engine import moderate
from bot.moderation.evaluate import evaluate, read_labelled
from bot.moderation.rules import ModerationRules, ModerationRulesError, load_rules


def _one_line(text: str) -> str:
    return " ".join(text.split())


_HEADER = "decision\tmarker\trules\tcategory\tscore\treason\ttext"
_RULES_HEADER = "verdict\tcategory\tscore\treason\ttext"


def _rules_row(text: str, rules: ModerationRules, flagged_only: bool) -> str | None:
    """The word lists' verdict alone, or None when ``flagged_only`` and it passes."""
    verdict = moderate(text, rules)
    if flagged_only and not verdict.flagged:
        return None
    status = "FLAG" if verdict.flagged else "PASS"
    return (f"{status}\t{verdict.category}\t{verdict.score:g}\t"
            f"{_one_line(verdict.reason)}\t{_one_line(text)}")


def _decision_row(text: str, rules: ModerationRules, flagged_only: bool) -> str | None:
    """What intake does with ``text`` (:func:`bot.moderation.gate.apply_policy`, with the
    learned model) beside the rules' verdict, or None when ``flagged_only`` and it is taken."""
    from bot.moderation.gate import apply_policy

    verdict = moderate(text, rules)
    gate = apply_policy(verdict, text, rules=rules)
    decision = "STOP" if gate.flagged else "CALM" if gate.insult_only else "TAKE"
    if flagged_only and decision == "TAKE":
        return None
    status = "FLAG" if verdict.flagged else "PASS"
    final = gate.verdict
    return (f"{decision}\t{gate.marker}\t{status}\t{final.category}\t{final.score:g}\t"
            f"{_one_line(final.reason)}\t{_one_line(text)}")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command; returns the exit status."""
    out = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(
        prog="python -m bot.moderation",
        description="Print what intake does with each line (TSV: decision STOP/CALM/TAKE, "
        "marker, the rules' verdict FLAG/PASS, category, score, reason, text).",
    )
    parser.add_argument("files", nargs="*", metavar="file",
                        help="messages, one per line (default: stdin); with --eval, labelled "
                        "sets (default: every blind set)")
    parser.add_argument("--rules", type=Path, help="rules directory (default: content/moderation)")
    parser.add_argument("--header", action="store_true", help="print a header line first")
    parser.add_argument(
        "--flagged-only", action="store_true",
        help="print only the lines not taken as cases (STOP or CALM; with --rules-only, FLAG)"
    )
    parser.add_argument(
        "--rules-only", action="store_true",
        help="the word lists' verdict alone (verdict, category, score, reason, text), no model"
    )
    parser.add_argument(
        "--eval", action="store_true", help="the file is labelled TSV: print precision and recall"
    )
    parser.add_argument(
        "--mistakes", action="store_true",
        help="with --eval on a dev file, also list the messages it got wrong (refused for the "
        "blind sets, whose lines must stay unread)",
    )
    args = parser.parse_args(argv)
    try:
        rules = load_rules(args.rules)
    except ModerationRulesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in args.files:
        # Checked before any line is printed: a mistyped name should not leave half a report.
        if name != "-" and (not os.access(name, os.R_OK) or os.path.isdir(name)):
            print(f"error: cannot read {name}: no such file, or not readable", file=sys.stderr)
            return 2
    if args.eval:
        from bot.moderation.gate import policy_report

        blind_dir = Path(__file__).resolve().parents[2] / "tests" / "data" / "moderation_blind"
        blind = sorted(blind_dir.glob("*.tsv"))
        files = [Path(name) for name in args.files] or blind
        if not files:
            parser.error("--eval needs a labelled file (no tests/data/moderation_blind/*.tsv)")
        if args.mistakes and any(p.resolve().parent == blind_dir.resolve() for p in files):
            parser.error("--mistakes would print blind-set lines; it is for dev files")
        totals: Counter[str] = Counter()
        sets = 0
        for path in files:
            header = path.read_text(encoding="utf-8").split("\n", 1)[0]
            if header.split("\t")[:3] == ["label", "kind", "text"]:
                # The policy: stop, mark, calm.
                print(policy_report(path, show_mistakes=args.mistakes, totals=totals), file=out)
                sets += 1
            else:
                print(evaluate(read_labelled(path), rules).summary(str(path)), file=out)
        if sets > 1:
            print(_totals_line(sets, totals), file=out)
        if not args.files:
            from bot.moderation.corpus import corpus_report

            corpus = corpus_report()
            print(corpus.summary() if corpus else "Ordinary text: no corpus in this underthesea",
                  file=out)
        return 0
    if args.header:
        print(_RULES_HEADER if args.rules_only else _HEADER, file=out)
    for name in args.files or ["-"]:
        stream = sys.stdin if name == "-" else open(name, encoding="utf-8")
        try:
            for line in stream:
                text = line.rstrip("\n")
                if not text.strip():
                    continue
                row = (_rules_row(text, rules, args.flagged_only) if args.rules_only
                       else _decision_row(text, rules, args.flagged_only))
                if row is not None:
                    print(row, file=out)
        finally:
            if stream is not sys.stdin:
                stream.close()
    return 0


def _totals_line(sets: int, totals: Counter[str]) -> str:
    """The sum over several labelled sets (:func:`bot.moderation.gate.policy_report`'s
    ``totals``): what the note of a stop quotes for all blind sets, or the unread ones."""
    line = (f"All {sets} sets: genuine messages refused {totals['refused']}/{totals['allow']}"
            f" (target 0), spam and scam stopped {totals['stopped']}/{totals['stop']}")
    if totals["stop"]:
        line += f" = recall {totals['stopped'] / totals['stop']:.3f}"
    return line


def _run() -> int:
    try:
        return main()
    except BrokenPipeError:
        # "python -m bot.moderation file | head": the reader left, which is not an error.
        sys.stdout = open(os.devnull, "w")  # the interpreter flushes stdout at exit
        return 0


if __name__ == "__main__":
    sys.exit(_run())
