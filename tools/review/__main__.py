"""`./mttq review export|merge` (or ``python -m tools.review``): the command line of both steps.

Only argument parsing and what is printed for the trainer; the work is in export.py and
merge.py.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time
from pathlib import Path

from bot.settings import get_settings
from tools.review.common import ReviewError, display_path
from tools.review.export import export_review, fallback_threshold
from tools.review.merge import NLU_DIR, merge_review


def _date(value: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from error


def _default_out() -> Path:
    directory = get_settings().var_dir / "review"
    stem = f"review-{datetime.now().strftime('%Y%m%d')}"
    path = directory / f"{stem}.yml"
    n = 2
    while path.exists():  # never overwrite a file a trainer may be labelling
        path = directory / f"{stem}-{n}.yml"
        n += 1
    return path


def main_review(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./mttq review",
        description="Export badly handled citizen messages for labelling, then merge the labels "
        "into the training data.",
    )
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("export", help="write a review file from the tracker store")
    p.add_argument("--out", type=Path, help="review file (default var/review/review-YYYYMMDD.yml)")
    p.add_argument("--threshold", type=float,
                   help="confidence below which a message is exported (default: config.yml's "
                        "FallbackClassifier threshold)")
    p.add_argument("--since", type=_date, help="only messages from this day on (YYYY-MM-DD)")
    p.add_argument("--tracker-store", help="tracker store URL (default TRACKER_STORE_URL)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p = sub.add_parser("merge", help="append a labelled review file to nlu_data/review/")
    p.add_argument("file", type=Path)
    p.add_argument("--nlu-dir", type=Path, default=NLU_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.step == "export":
            return _cli_export(args)
        return _cli_merge(args)
    except ReviewError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _cli_export(args: argparse.Namespace) -> int:
    out: Path = args.out or _default_out()
    if args.out is not None and out.exists() and not args.force:
        raise ReviewError(f"{out} exists (it may hold labels); choose another --out or --force")
    threshold = args.threshold if args.threshold is not None else fallback_threshold()
    url = args.tracker_store or get_settings().tracker_store_url
    count = export_review(url, out, threshold=threshold, since=args.since)
    if count == 0:
        print("Nothing to review: no fallback, low-confidence or not-helpful messages"
              + (f" since {args.since:%Y-%m-%d}." if args.since else "."))
        return 0
    print(f"Wrote {count} messages to review to {display_path(out)} (threshold {threshold:.2f}).")
    print(f"Label them (instructions at the top of the file), then: ./mttq review merge {display_path(out)}")
    return 0


def _cli_merge(args: argparse.Namespace) -> int:
    report = merge_review(args.file, args.nlu_dir)
    if not report.ok:
        print(f"{len(report.errors)} error(s), nothing merged:", file=sys.stderr)
        for error in report.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    for line in report.details:
        print(f"  {line}")
    print(
        f"Added {report.added}, skipped {report.skipped} (skip or unlabelled), "
        f"duplicates {report.duplicates}, refused {report.refused_eval_overlap} "
        "(held-out overlap)."
    )
    for path in report.files:
        print(f"  wrote {display_path(path)}")
    if report.added:
        print("Retrain with ./mttq train, check with ./mttq evaluate, then ./mttq promote.")
    return 0


if __name__ == "__main__":
    sys.exit(main_review(sys.argv[1:]))
