"""Every replica of the pool: promote one at a time, roll back all on a failure; the CLI.

See :mod:`tools.promote` (one server: load, record, roll back) for the HTTP API and the
history file. The replicas: ``--rasa-url`` (repeat it for each), else every replica of the
profile ``./mttq prod`` runs (it lists them in ``<VAR_DIR>/run/pool.json`` while it runs), else
``RASA_URL`` (the embedded default, one server). :func:`promote_all` loads the model into one
replica at a time and checks that it reports the new model and answers a parse request with it
before going on to the next; if one fails, every replica it already moved (and the failing one,
if it moved) is rolled back to the model it had, so the pool never stays split between two
models.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.settings import get_settings
from tools.promote import (
    LOAD_TIMEOUT,
    STATUS_TIMEOUT,
    PromoteError,
    PromoteResult,
    _locate,
    _model_id,
    _now,
    _rasa_message,
    _read_history,
    _request,
    _same_server,
    _status,
    _write_history,
    check_model_file,
    current_model,
    history_file,
    promote,
    rollback,
)

# --------------------------------------------------------------------------- the pool

#: What the answer check parses (any text: the point is that the new model answers).
CHECK_TEXT = "xin chào"


def pool_file() -> Path:
    """Written by ``./mttq prod`` (:class:`tools.profile.Profile`) while the profile runs."""
    return get_settings().var_dir / "run" / "pool.json"


def _alive(pid: object) -> bool:
    import os

    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pool_urls(explicit: list[str] | None = None) -> list[str]:
    """The replicas to act on (see the module docstring for the order of sources)."""
    if explicit:
        return [url.rstrip("/") for url in explicit]
    path = pool_file()
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            data = {}
        urls = data.get("rasa") if isinstance(data, dict) else None
        # A profile that was killed leaves its file behind: only a live one's list counts.
        if isinstance(urls, list) and urls and _alive(data.get("pid")):
            return [str(url).rstrip("/") for url in urls]
    return [get_settings().rasa_url.rstrip("/")]


def check_answers(rasa_url: str, model_path: Path, timeout: float = STATUS_TIMEOUT) -> None:
    """The replica reports ``model_path`` as loaded and parses a message with it."""
    loaded = current_model(rasa_url, timeout=timeout)
    if loaded != model_path.name:
        raise PromoteError(
            f"Rasa at {rasa_url} reports {loaded or 'no model'}, not {model_path.name}"
        )
    code, payload = _request("POST", rasa_url, "/model/parse", {"text": CHECK_TEXT}, timeout)
    intent = payload.get("intent") if isinstance(payload, dict) else None
    if code != 200 or not isinstance(intent, dict) or not intent.get("name"):
        raise PromoteError(
            f"Rasa at {rasa_url} loaded {model_path.name} but does not answer "
            f"with it (parse: HTTP {code}: {_rasa_message(payload)})"
        )


@dataclass(frozen=True)
class PoolResult:
    """What :func:`promote_all` did: one result per replica, in order."""

    results: list[PromoteResult]

    @property
    def changed(self) -> list[PromoteResult]:
        return [r for r in self.results if r.action == "promote"]


def promote_all(
    rasa_urls: list[str],
    model_path: Path,
    *,
    check: bool = False,
    threshold: float = 0.90,
    history_path: Path | None = None,
    timeout: float = LOAD_TIMEOUT,
    progress: Callable[[PromoteResult], None] | None = None,
) -> PoolResult:
    """Load ``model_path`` into every replica, one at a time, each checked before the next.

    On a failure, the replicas already moved are rolled back (last first) and
    :class:`PromoteError` says what failed and what was put back. ``progress`` is called after
    each replica answers with the new model.
    """
    if not rasa_urls:
        raise PromoteError("no Rasa replica to promote")
    path = check_model_file(model_path)
    history_path = history_path or history_file()
    before = {url: current_model(url) for url in rasa_urls}  # all reachable, before anything
    if check and any(model != path.name for model in before.values()):
        from tools.env import apply_to_current_process
        from tools.evaluate import evaluate

        apply_to_current_process()
        if evaluate(path, threshold=threshold) != 0:
            raise PromoteError(
                f"{path.name} fails the held-out evaluation (intent macro-F1 below "
                f"{threshold:.2f}); not promoted"
            )
    results: list[PromoteResult] = []
    moved: list[str] = []
    for url in rasa_urls:
        try:
            result = promote(url, path, history_path=history_path, timeout=timeout)
            if result.action == "promote":
                moved.append(url)
            check_answers(url, path)
        except PromoteError as error:
            if url not in moved and before[url] != path.name:
                try:  # PUT /model may have loaded it although the request then failed
                    if current_model(url) == path.name:
                        moved.append(url)
                        _record_promote(history_path, url, before[url], path)
                except PromoteError:
                    pass
            raise PromoteError(f"{error}. {_roll_back(moved, history_path, timeout)}") from error
        results.append(result)
        if progress is not None:
            progress(result)
    return PoolResult(results)


def _record_promote(history_path: Path, url: str, previous: str, path: Path) -> None:
    history = _read_history(history_path)
    history["entries"].append(
        {
            "action": "promote",
            "at": _now(),
            "rasa_url": url.rstrip("/"),
            "previous": {
                "model_file": previous,
                "model_id": "",
                "path": _locate(previous, history, near=path.parent),
            },
            "promoted": {"model_file": path.name, "model_id": "", "path": str(path)},
            "rolled_back_at": None,
        }
    )
    _write_history(history_path, history)


def _roll_back(moved: list[str], history_path: Path, timeout: float) -> str:
    """Roll back ``moved`` (last first); one sentence saying what happened to each."""
    if not moved:
        return "No replica had the new model; nothing to roll back."
    done, failed = [], []
    for url in reversed(moved):
        try:
            rollback(url, force=True, history_path=history_path, timeout=timeout)
            done.append(url)
        except PromoteError as error:
            failed.append(f"{url} ({error})")
    text = f"Rolled back {', '.join(done)}." if done else ""
    if failed:
        text += f" Could NOT roll back {'; '.join(failed)}: check them by hand."
    return text.strip()


def rollback_all(
    rasa_urls: list[str],
    *,
    force: bool = False,
    history_path: Path | None = None,
    timeout: float = LOAD_TIMEOUT,
) -> list[PromoteResult]:
    """Roll back every replica (last first), each to the model it had before its last promote."""
    results = []
    for url in reversed(rasa_urls):
        results.append(rollback(url, force=force, history_path=history_path, timeout=timeout))
    return list(reversed(results))


# --------------------------------------------------------------------------- CLI

_STEPS = ("promote", "rollback", "status")
_OPTIONS_WITH_VALUE = ("--rasa-url", "--threshold")


def _has_step(argv: list[str]) -> bool:
    """Whether the first positional argument (or a help flag) is one of the steps."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _OPTIONS_WITH_VALUE:
            skip = True
        elif arg in ("-h", "--help"):
            return True
        elif not arg.startswith("-"):
            return arg in _STEPS
    return False


def main(argv: list[str] | None = None) -> int:
    """``[promote] [MODEL] [--check]``, ``rollback [--force]``, ``status``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not _has_step(argv):
        argv.insert(0, "promote")  # `./mttq promote [MODEL]`: the step may be left out
    parser = argparse.ArgumentParser(
        prog="./mttq promote",
        description="Load a trained model into every running Rasa replica, or roll it back.",
    )
    parser.add_argument(
        "--rasa-url",
        action="append",
        default=None,
        help="a Rasa replica; repeat for each (default: the replicas of the "
        "running ./mttq prod, else RASA_URL, http://127.0.0.1:5005)",
    )
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("promote", help="load MODEL (default: the newest in models/)")
    p.add_argument("model", nargs="?", type=Path)
    p.add_argument(
        "--check", action="store_true", help="refuse a model that fails the held-out evaluation"
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.90,
        help="intent macro-F1 the model must reach with --check (default 0.90)",
    )
    p = sub.add_parser("rollback", help="put back the model live before the last promote")
    p.add_argument(
        "--force",
        action="store_true",
        help="roll back even if a replica no longer runs the promoted model",
    )
    sub.add_parser("status", help="each replica's model and the recent promotes")
    # Options may come after the step too (./mttq promote status --rasa-url ...).
    for step_parser in sub.choices.values():
        step_parser.add_argument(
            "--rasa-url", action="append", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    args = parser.parse_args(argv)
    urls = pool_urls(args.rasa_url)
    try:
        if args.step == "status":
            return _cli_status(urls)
        if args.step == "rollback":
            for result in rollback_all(urls, force=args.force):
                print(
                    f"Rolled back {result.rasa_url}: {result.previous} -> {result.current} "
                    f"({result.seconds:.1f} s)."
                )
            return 0
        model_path = args.model
        if model_path is None:
            from tools.model import latest_model

            model_path = latest_model()
            if model_path is None:
                raise PromoteError("no model in models/; train one with ./mttq train")

        def report(result: PromoteResult) -> None:
            if result.action == "unchanged":
                print(f"  {result.rasa_url}: {result.current} already live.", flush=True)
            else:
                print(
                    f"  {result.rasa_url}: {result.current} loaded in {result.seconds:.1f} s "
                    f"(was {result.previous or 'no model'}), answers.",
                    flush=True,
                )

        print(
            f"Promoting {Path(model_path).name} to {len(urls)} replica(s), one at a time:",
            flush=True,
        )
        pool = promote_all(
            urls, model_path, check=args.check, threshold=args.threshold, progress=report
        )
        if pool.changed:
            print(
                f"Every replica runs {pool.results[0].current}. Undo with ./mttq promote rollback."
            )
        else:
            print(f"{pool.results[0].current} was already live everywhere; nothing to do.")
        return 0
    except PromoteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _cli_status(rasa_urls: list[str]) -> int:
    history = _read_history(history_file())
    models = set()
    for url in rasa_urls:
        try:
            status = _status(url)
        except PromoteError as error:
            print(f"{url}: error: {error}", file=sys.stderr)
            models.add(None)
            continue
        if status:
            models.add(status.get("model_file"))
            print(
                f"{url}: runs {status.get('model_file')} "
                f"(model id {_model_id(status) or 'unknown'})."
            )
        else:
            models.add("")
            print(f"{url}: runs without a model loaded.")
        entries = [e for e in history["entries"] if _same_server(str(e.get("rasa_url", "")), url)]
        for e in entries[-5:]:
            if e.get("action") == "promote":
                undone = f", rolled back {e['rolled_back_at']}" if e.get("rolled_back_at") else ""
                print(
                    f"  {e['at']}  promote  {e['previous']['model_file'] or '-'} -> "
                    f"{e['promoted']['model_file']}{undone}"
                )
            else:
                print(f"  {e['at']}  rollback {e.get('from') or '-'} -> {e.get('to')}")
    if None in models:
        return 1  # a replica did not answer: said above, and the exit status says it too
    if len(rasa_urls) > 1:
        print(
            "All replicas run the same model."
            if len(models) == 1
            else "warning: the replicas do not all run the same model."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
