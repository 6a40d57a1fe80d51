"""``python -m bot.moderation``: moderate messages from a file or stdin, one per line.

For trainers and staff checking a word-list edit: every line is printed back as TSV
``verdict<TAB>category<TAB>score<TAB>reason<TAB>text`` (verdict is ``FLAG`` or ``PASS``). With
``--eval`` the input is a labelled file (``spam|legit<TAB>text``) and the precision, recall and
mistakes are printed instead; a file with the header ``label<TAB>kind<TAB>text`` (the blind sets
of ``tests/data/moderation_blind/``, the default) is measured against the whole policy of
:mod:`bot.moderation.gate`: genuine messages refused, spam recall, what insults got. Exits 0 when the messages were read; 2 when the rules are broken.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.moderation.engine import moderate
from bot.moderation.evaluate import evaluate, read_labelled
from bot.moderation.rules import ModerationRulesError, load_rules


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command; returns the exit status."""
    out = out if out is not None else sys.stdout
    parser = argparse.ArgumentParser(
        prog="python -m bot.moderation",
        description="Print the moderation verdict of each line (TSV: verdict, category, score, "
        "reason, text).",
    )
    parser.add_argument("file", nargs="?", help="messages, one per line (default: stdin)")
    parser.add_argument("--rules", type=Path, help="rules directory (default: content/moderation)")
    parser.add_argument("--header", action="store_true", help="print a header line first")
    parser.add_argument(
        "--flagged-only", action="store_true", help="print only the lines that are flagged"
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
    if args.eval:
        from bot.moderation.gate import policy_report

        blind_dir = Path(__file__).resolve().parents[2] / "tests" / "data" / "moderation_blind"
        blind = sorted(blind_dir.glob("*.tsv"))
        files = [Path(args.file)] if args.file else blind
        if not files:
            parser.error("--eval needs a labelled file (no tests/data/moderation_blind/*.tsv)")
        if args.mistakes and any(p.resolve().parent == blind_dir.resolve() for p in files):
            parser.error("--mistakes would print blind-set lines; it is for dev files")
        for path in files:
            header = path.read_text(encoding="utf-8").split("\n", 1)[0]
            if header.split("\t")[:3] == ["label", "kind", "text"]:
                print(policy_report(path, show_mistakes=args.mistakes), file=out)  # the policy: stop, mark, calm
            else:
                print(evaluate(read_labelled(path), rules).summary(str(path)), file=out)
        if not args.file:
            from bot.moderation.corpus import corpus_report

            corpus = corpus_report()
            print(corpus.summary() if corpus else "Ordinary text: no corpus in this underthesea",
                  file=out)
        return 0
    if args.header:
        print("verdict\tcategory\tscore\treason\ttext", file=out)
    stream = open(args.file, encoding="utf-8") if args.file else sys.stdin
    try:
        for line in stream:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            verdict = moderate(text, rules)
            if args.flagged_only and not verdict.flagged:
                continue
            status = "FLAG" if verdict.flagged else "PASS"
            print(
                f"{status}\t{verdict.category}\t{verdict.score:g}\t"
                f"{_one_line(verdict.reason)}\t{_one_line(text)}",
                file=out,
            )
    finally:
        if stream is not sys.stdin:
            stream.close()
    return 0


def _run() -> int:
    try:
        return main()
    except BrokenPipeError:
        # "python -m bot.moderation file | head": the reader left, which is not an error.
        sys.stdout = open(os.devnull, "w")  # the interpreter flushes stdout at exit
        return 0


if __name__ == "__main__":
    sys.exit(_run())
