"""`./mttq <command>`: the commands of the README, for newcomers, trainers and CI."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from bot.settings import ROOT
from tools.env import apply_to_current_process, child_env, rasa_cmd


def _rasa(*args: str) -> int:
    return subprocess.run(rasa_cmd(*args), cwd=ROOT, env=child_env()).returncode


def cmd_run(args: argparse.Namespace) -> int:
    from tools.run import run

    return run()


def cmd_prod(args: argparse.Namespace) -> int:
    from tools.prod import main_prod

    return main_prod(args.replicas, args.action_servers, args.host)


def cmd_train(args: argparse.Namespace) -> int:
    from tools import model

    model.train(force=args.force)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from tools.validate import validate

    return validate()


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tools import model
    from tools.evaluate import evaluate

    path = model.train().path
    apply_to_current_process()
    return evaluate(path, threshold=args.threshold)


def cmd_shell(args: argparse.Namespace) -> int:
    """Terminal chat: needs the action server, so start it beside `rasa shell`."""
    from bot.settings import get_settings
    from tools import model
    from tools.procs import action_server, wait_ready

    path = model.train().path
    settings = get_settings()
    actions = action_server(5055, log=settings.var_dir / "logs" / "actions.log")
    actions.start()
    try:
        wait_ready([actions], timeout=120)
        return _rasa("shell", "--model", str(path), "--endpoints", "endpoints.yml")
    finally:
        actions.stop()


def cmd_review(args: argparse.Namespace) -> int:
    from tools.review.__main__ import main_review

    return main_review(args.rest)


def cmd_promote(args: argparse.Namespace) -> int:
    from tools.promote import main_promote

    return main_promote(args.rest)


def cmd_moderate(args: argparse.Namespace) -> int:
    from bot.moderation.__main__ import main as moderation_main

    return moderation_main(args.rest)


def cmd_legal_type(args: argparse.Namespace) -> int:
    from bot.cases.legal_type_eval import main as legal_type_main

    return legal_type_main(args.rest)


def cmd_clusters(args: argparse.Namespace) -> int:
    """Same-issue clusters (issue 15): pairwise precision/recall on a labelled set, link latency."""
    from bench.clusters import main as clusters_main

    return clusters_main(args.rest)


def cmd_digest_bench(args: argparse.Namespace) -> int:
    """The digest at scale (issue 15): a district of 100,000 cases, its page timed."""
    from bench.digest import main as digest_main

    return digest_main(args.rest)


def cmd_retention(args: argparse.Namespace) -> int:
    """Anonymise finished cases older than the retention period, erase what was typed in
    conversations idle for as long, and delete the recorded questions to the assistant past
    their own period (schedule it, e.g. nightly)."""
    from bot.cases.privacy import anonymise_closed_older_than
    from bot.db.engine import session_scope
    from bot.db.runtime import get_engine
    from bot.settings import get_settings

    days = args.days if args.days is not None else get_settings().retention_days
    if days < 1:
        print("error: the retention period must be at least 1 day", file=sys.stderr)
        return 2
    from bot.cases.questions import RETENTION_DAYS, forget_older_than

    with session_scope(get_engine()) as session:
        count = anonymise_closed_older_than(session, days)
    print(f"Anonymised {count} finished case(s) untouched for more than {days} days.")
    kept = min(days, RETENTION_DAYS)
    with session_scope(get_engine()) as session:
        forgotten = forget_older_than(session, kept)
    print(f"Deleted {forgotten} recorded question(s) to the assistant older than {kept} days.")
    import time

    from bot.conversation.erasure import redact_conversations_idle_since

    talks, events = redact_conversations_idle_since(get_settings().tracker_store_url,
                                                    time.time() - days * 86_400)
    print(f"Erased what was typed in {talks} conversation(s) idle for more than {days} days "
          f"({events} stored events rewritten).")
    return 0


def cmd_accounts(args: argparse.Namespace) -> int:
    from bot.staff.accounts_cli import main as accounts_main

    return int(accounts_main(args.rest) or 0)


def cmd_notify(args: argparse.Namespace) -> int:
    from bot.notify.__main__ import main as notify_main

    return int(notify_main(args.rest) or 0)


def cmd_backup(args: argparse.Namespace) -> int:
    """Consistent backup of the feedback DB to one file (restore it with `./mttq restore`)."""
    from pathlib import Path

    from bot.db.backup import backup
    from bot.db.runtime import get_engine

    report = backup(get_engine(), Path(args.file))
    print(f"Backed up {sum(report.rows.values())} rows (schema {report.revision}) to {args.file}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup into an empty feedback DB (DATABASE_URL)."""
    from pathlib import Path

    from bot.db.backup import BackupError, restore
    from bot.db.engine import make_engine
    from bot.settings import get_settings

    engine = make_engine(get_settings().database_url)
    try:
        report = restore(engine, Path(args.file))
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"Restored {sum(report.rows.values())} rows (schema {report.revision}) from {args.file}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from tools.check import run_checks

    return run_checks(fast=args.fast)


_PASS_THROUGH = ("review", "promote", "moderate", "accounts", "notify", "legal-type", "clusters",
                 "digest-bench")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./mttq", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="train if needed and start the assistant with its chat page")
    p = sub.add_parser(
        "prod",
        help="the production profile on this machine: PostgreSQL, Redis, Rasa replicas, an "
        "action server pool and the staff service behind HAProxy, the worker",
    )
    p.add_argument("--replicas", type=int, default=None,
                   help="Rasa replicas (default: PROD_REPLICAS or 2)")
    p.add_argument("--action-servers", type=int, default=None,
                   help="action servers (default: PROD_ACTION_SERVERS or 2)")
    p.add_argument("--host", default=None,
                   help="address of the public pieces (default: PROD_HOST or 127.0.0.1)")
    sub.add_parser("shell", help="chat with the assistant in the terminal")
    p = sub.add_parser("test", help="every check CI runs")
    p.add_argument("--fast", action="store_true", help="skip the slow server tests")
    sub.add_parser("validate", help="check the training data and content files")
    p = sub.add_parser("train", help="train a model (only when its inputs changed)")
    p.add_argument("--force", action="store_true", help="train even if a model exists")
    p = sub.add_parser("evaluate", help="intent/entity report on the held-out split")
    p.add_argument("--threshold", type=float, default=0.90)
    p = sub.add_parser("review", add_help=False, help="export low-confidence / not-helpful messages to label; merge them back")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("promote", add_help=False, help="load a new model into the running server; rollback; status")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("moderate", add_help=False, help="print the moderation verdict of messages, one per line")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("legal-type", add_help=False, help="legal type of messages (phản ánh, kiến nghị, khiếu nại, tố cáo); --eval [FILE]: accuracy, per-type precision/recall, tố cáo recall; --cv: cross-validation on the examples")
    p = sub.add_parser("clusters", add_help=False, help="same-issue clusters: precision/recall on a labelled set, link latency")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("digest-bench", add_help=False, help="the digest page of a unit with 100,000 generated cases, timed (--db postgresql://…)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("retention", help="erase name/phone of finished cases older than RETENTION_DAYS")
    p.add_argument("--days", type=int, default=None, help="override RETENTION_DAYS (default 365)")
    sub.add_parser("accounts", add_help=False, help="staff accounts: create, list, disable, set-password, token")
    sub.add_parser("notify", add_help=False, help="Telegram: link-code, member-code, set-webhook, poll, worker")
    p = sub.add_parser("backup", help="back up the feedback DB to a file")
    p.add_argument("file")
    p = sub.add_parser("restore", help="restore a backup into an empty feedback DB")
    p.add_argument("file")
    sub.add_parser("help", help="this list")
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in _PASS_THROUGH:
        # These commands parse their own options (including --help).
        os.chdir(ROOT)
        handler = globals()[f"cmd_{argv[0].replace('-', '_')}"]
        return int(handler(argparse.Namespace(rest=argv[1:])) or 0)
    args = parser.parse_args(argv)
    if args.command == "help":
        parser.print_help()
        return 0
    os.chdir(ROOT)
    handler = globals()[f"cmd_{args.command}"]
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
