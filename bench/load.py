"""Load (and fault) test of the production profile: simulated citizens, then every record checked.

::

    PYTHONPATH=. .venv/bin/python -m bench.load [--citizens 200] [--duration 120] [--faults] [--short]

1. a fresh PostgreSQL database (feedback DB and tracker store; dropped at the end unless
   ``--keep``), a Redis database index of its own for the lock store, a fake Telegram Bot API on
   127.0.0.1 (``bench.telegram_fake``) with every unit's group linked;
2. ``tools.profile.Profile``: 2 Rasa replicas and 2 action servers behind HAProxy, the
   staff service and the outbox worker;
3. ``--citizens`` simulated people (``bench.citizens``) talk to HAProxy's Rasa front (REST webhook)
   for ``--duration`` seconds, pausing ``--think`` seconds between messages; questions,
   petitions and feedback to a reference code, status checks. With ``--faults``
   (``bench.faults``), replicas, action servers, PostgreSQL and Redis are killed and restarted
   during the run: PostgreSQL and Redis are the machine's own, so only when nothing else uses
   them;
4. the checks (``bench.verify``) and a report, printed and written to
   ``bench/results/load-<time>.json`` (every message with its latency, status and replies in
   ``load-<time>.messages.jsonl``; the processes' logs in ``bench/results/logs/load-<time>/``).

``--short`` is the CI version (40 citizens, 30 s, shorter pauses, no faults);
``tests/load/test_load_short.py`` runs it through :func:`run_load` and asserts on the report.
Exit status: 0 when every check passed, 1 when one failed, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp

from bench import backends, verify
from bench.citizens import Options, Population
from bench.faults import FaultInjector, FaultPlan, window_report
from bench.telegram_fake import TelegramThread, link_every_unit
from bot.settings import ROOT

RESULTS = ROOT / "bench" / "results"
#: Redis database index of the load test's lock store (keys are per conversation).
REDIS_DB = 12


@dataclass
class LoadOptions:
    citizens: int = 200
    duration: float = 120.0
    think: tuple[float, float] = (3.0, 10.0)
    timeout: float = 60.0
    retry_pause: float = 5.0
    #: Seconds after the deadline in which a petition already begun may finish (bench.citizens).
    finish_grace: float = 120.0
    #: "" (none), "all" (processes, PostgreSQL, Redis) or "processes" (see bench.faults).
    faults: str = ""
    keep: bool = False
    seed: int = 1
    replicas: int = 2
    action_servers: int = 2
    redis_db: int = REDIS_DB
    startup_timeout: float = 600.0
    #: How long to wait for the worker to deliver every notification after the run.
    drain_timeout: float = 90.0
    results_dir: Path = RESULTS
    #: None: the model trained from the current inputs (trained now if there is none).
    model: Path | None = None
    progress: Callable[[str], None] = field(default=print, repr=False)

    @classmethod
    def short(cls, **overrides: Any) -> LoadOptions:
        """The CI version: 40 citizens for 30 s, pauses short enough that petitions finish."""
        values: dict[str, Any] = {"citizens": 40, "duration": 30.0, "think": (1.0, 3.0)}
        values.update(overrides)
        return cls(**values)


class LoadError(RuntimeError):
    """The load test could not run (a backend down, a process that would not start)."""


def _model() -> Path:
    from tools import model as models

    return models.find_model(models.fingerprint()) or models.train(quiet=True).path


async def _warm_up(urls: list[str], timeout: float) -> None:
    """Two questions per replica before the clock starts: first turns load lazily."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout, trust_env=False) as session:
        for url in urls:
            for text in ("quỹ vì người nghèo là gì", "nha dai doan ket ho tro ai"):
                payload = {"sender": f"warm-{uuid.uuid4().hex}", "message": text}
                async with session.post(f"{url}/webhooks/rest/webhook", json=payload) as r:
                    await r.read()
                    if r.status != 200:
                        raise LoadError(f"warm-up message to {url} answered HTTP {r.status}")


def run_load(options: LoadOptions) -> dict[str, Any]:
    """Set up, run the citizens (and faults), check, tear down; returns the report."""
    from tools.profile import Profile

    say = options.progress
    problem = backends.backends_problem()
    if problem:
        raise LoadError(problem)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_id = f"{stamp}-{uuid.uuid4().hex[:6]}"
    log_dir = options.results_dir / "logs" / f"load-{stamp}"
    model = options.model or _model()
    report: dict[str, Any] = {
        "options": {k: v for k, v in asdict(options).items() if k not in ("progress",)},
        "model": model.name,
        "run_id": run_id,
        "logs": str(log_dir),
    }
    report["options"]["results_dir"] = str(options.results_dir)
    report["options"]["model"] = str(model)
    db_url = backends.create_database("bench_load")
    tg = TelegramThread()
    profile: Any = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as var:
            tg.start()
            profile = Profile(
                replicas=options.replicas,
                action_servers=options.action_servers,
                database_url=db_url,
                tracker_store_url=db_url,
                lock_store_url=f"redis://{backends.REDIS_HOST}:{backends.REDIS_PORT}/"
                f"{options.redis_db}",
                var_dir=Path(var),
                model=model,
                extra_env={**tg.env(), "NO_PROXY": "127.0.0.1,localhost"},
                log_dir=log_dir,
            )
            say(f"starting the profile ({', '.join(profile.names)}); logs in {log_dir} ...")
            try:
                report["startup_s"] = round(profile.start(timeout=options.startup_timeout), 1)
            except Exception as error:
                raise LoadError(f"the profile did not start: {error}") from error
            report["loadavg_before_run"] = [round(x, 2) for x in os.getloadavg()]
            chats = link_every_unit(db_url)
            say(f"ready in {report['startup_s']} s; {len(chats)} unit groups linked; warming up")
            asyncio.run(_warm_up(profile.replica_urls, options.timeout))

            population = Population(
                Options(
                    rasa_url=profile.rasa_url,
                    citizens=options.citizens,
                    duration=options.duration,
                    think=options.think,
                    timeout=options.timeout,
                    retry_pause=options.retry_pause,
                    finish_grace=options.finish_grace,
                    seed=options.seed,
                    run_id=run_id,
                )
            )
            injector = (
                FaultInjector(
                    profile,
                    options.duration,
                    population.now,
                    FaultPlan.named(options.faults),
                    progress=say,
                )
                if options.faults
                else None
            )
            say(
                f"{options.citizens} citizens for {options.duration:.0f} s"
                + (f" with faults ({options.faults})" if options.faults else "")
                + " ..."
            )
            log = asyncio.run(population.run(injector.run if injector else None))
            say(f"run over after {log.wall_s:.1f} s; {len(log.sent)} messages; checking ...")

            report["messages"] = verify.message_report(log)
            cases = verify.read_cases(db_url, f"load-{run_id}-")
            report["cases"] = verify.case_report(log, cases)
            report["tracker"] = verify.tracker_report(log, db_url)
            drain = options.drain_timeout + (150.0 if options.faults else 0.0)
            report["outbox"] = verify.outbox_report(db_url, tg, cases, drain)
            if injector is not None:
                new, _ = verify._posts_per_code(tg, [c.ref_code for c in cases])
                report["faults"] = window_report(injector.windows, log, cases, dict(new))
            report["processes_alive"] = {n: profile.alive(n) for n in profile.names}
            report["problems"] = verify.problems(report)
            _write(report, log, options.results_dir, stamp)
    finally:
        if profile is not None:
            profile.stop()
        tg.stop()
        try:
            backends.delete_redis_keys(options.redis_db, [f"mttq:lock:load-{run_id}-*",
                                                          "mttq:lock:warm-*"])
        except Exception as error:  # Redis may be the thing that is down
            say(f"could not remove the lock keys: {error}")
        if options.keep:
            say(f"kept the database: {db_url}")
        else:
            backends.drop_database(db_url)
    return report


def _write(report: dict[str, Any], log: Any, results: Path, stamp: str) -> None:
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"load-{stamp}.json"
    report["attempts"] = [a.as_dict() for a in log.attempts]
    report["json"] = str(path)
    report["messages_jsonl"] = str(path.with_suffix(".messages.jsonl"))
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), "utf-8")
    with open(report["messages_jsonl"], "w", encoding="utf-8") as out:
        for sent in log.sent:
            out.write(json.dumps(sent.as_dict(), ensure_ascii=False) + "\n")


def format_report(report: dict[str, Any]) -> str:
    m, c, t, o = report["messages"], report["cases"], report["tracker"], report["outbox"]
    opts = report["options"]
    lines = [
        f"model {report['model']}; profile ready in {report.get('startup_s')} s; load average "
        f"before the run {report.get('loadavg_before_run')}",
        f"{opts['citizens']} citizen slots, {opts['duration']:.0f} s, think "
        f"{opts['think'][0]:g}–{opts['think'][1]:g} s, timeout {opts['timeout']:g} s"
        + (f", faults ({opts['faults']})" if opts["faults"] else ""),
        "",
        f"messages     {m['messages']} from {m['conversations']} conversations "
        f"({m['citizens']} citizens) in {m['wall_s']} s: {m['answered']} answered, "
        f"{m['errors']} errors {m['errors_by_kind'] or ''}; resent with the same id "
        f"{m.get('resent', 0)} ({m.get('resent_answered', 0)} then answered)",
        f"throughput   {m['throughput_msg_s']} msg/s answered",
        f"latency      p50 {m['p50_ms']} ms, p95 {m['p95_ms']} ms, p99 {m['p99_ms']} ms, "
        f"max {m['max_ms']} ms",
        f"cases        {c['attempts']} attempts, {c['confirm_sent']} confirmations sent, "
        f"{c['confirmed']} told a code, {c['not_confirmed']} not confirmed "
        f"{c['not_confirmed_by_reason'] or ''}, "
        f"{c['cases_in_db']} cases in the DB",
        f"             told code in DB exactly once: {c['told_exactly_once_in_db']}/"
        f"{c['confirmed']}; told but missing {c['told_but_missing']}; saved without "
        f"confirmation {c['saved_without_confirmation']}; duplicated {c['duplicated_cases']}; "
        f"status answers naming the code {c['status_answer_named_code']}/{c['status_checked']}",
        f"tracker      {t['conversations']} conversations: {t['expected']} answered messages, "
        f"{t['stored']} stored; lost {t['lost']}, duplicated {t['duplicated']}, stored but not "
        f"answered {t['unexpected']}, out of order {t['out_of_order']}, overlapping turns "
        f"{t['interleaved']}",
        f"outbox       {o['staff_notify_rows']} notifications for {o['cases']} cases "
        f"{o['rows_by_status']}; posted exactly once {o['posted_exactly_once']}, never "
        f"{o['never_posted']}, more than once {o['posted_more_than_once']}; lost {o['lost']} "
        f"(drained in {o['drain_wait_s']} s)",
    ]
    for w in report.get("faults", []):
        lines.append(
            f"fault        {w['fault']} at {w['at_s']} s (cleared after {w['cleared_after_s']} s"
            f"{'; ' + w['detail'] if w['detail'] else ''}{'; ERROR ' + w['error'] if w['error'] else ''}):"
            f" {w['failed']}/{w['messages']} messages failed {w['failed_by_kind'] or ''}, resent "
            f"{w.get('resent', 0)} {w.get('resent_after') or ''}, first "
            f"success after {w['first_success_after_s']} s, last failure after "
            f"{w['last_failure_after_s']} s; confirmations {w['confirmations']}: confirmed "
            f"{w['confirmed']}, not confirmed {w['not_confirmed']}, saved without confirmation "
            f"{w['saved_without_confirmation']}, retried {w['retried']}; outbox lost "
            f"{w['outbox_lost']}"
        )
    dead = [n for n, alive in report.get("processes_alive", {}).items() if not alive]
    if dead:
        lines.append(f"not running at the end: {', '.join(dead)}")
    lines.append("")
    lines.append(
        "all checks passed" if not report["problems"]
        else "FAILED:\n  " + "\n  ".join(report["problems"])
    )
    lines.append(f"written {report.get('json')}")
    return "\n".join(lines)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through run_load's clean-up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--citizens", type=int)
    parser.add_argument("--duration", type=float, help="seconds (default 120)")
    parser.add_argument("--think", type=float, nargs=2, metavar=("MIN", "MAX"),
                        help="pause between a citizen's messages, seconds (default 3 10)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    parser.add_argument(
        "--faults", nargs="?", const="all", default="", choices=["all", "processes"],
        help="kill and restart rasa-2 and actions-1, restart PostgreSQL and Redis (the "
        "machine's own); 'processes': only the profile's processes",
    )
    parser.add_argument("--short", action="store_true", help="CI version: 40 citizens, 30 s")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.short and args.faults:
        parser.error("--short runs without faults")
    base = LoadOptions.short() if args.short else LoadOptions()
    options = LoadOptions(
        citizens=args.citizens or base.citizens,
        duration=args.duration or base.duration,
        think=tuple(args.think) if args.think else base.think,  # type: ignore[arg-type]
        timeout=args.timeout,
        faults=args.faults,
        keep=args.keep,
        seed=args.seed,
    )
    if not (1 <= options.citizens <= 2000 and 1 <= options.duration <= 3600):
        parser.error("--citizens must be 1..2000 and --duration 1..3600")
    if not 0 <= options.think[0] <= options.think[1]:
        parser.error("--think MIN MAX needs 0 <= MIN <= MAX")
    signal.signal(signal.SIGTERM, _on_sigterm)
    command = "PYTHONPATH=. .venv/bin/python -m bench.load " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    try:
        report = run_load(options)
    except LoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; processes stopped and the database dropped", file=sys.stderr)
        return 2
    print(f"$ {command}")
    print(format_report(report))
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
