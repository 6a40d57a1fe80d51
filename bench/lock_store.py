"""Two Rasa replicas, one conversation, simultaneous messages: does any event get lost?

Rasa 3.6's ``RedisLockStore`` hands out tickets with a GET, a change in Python and a SET, which is
not atomic across processes (RasaHQ/rasa#9213): two replicas that get a message of the same
conversation at the same moment can both believe they hold the conversation, both load the same
tracker, and the second save skips events (``SQLTrackerStore`` appends "the events after the
number already stored"). ``bot.conversation.redis_lock.RedisMutexLockStore`` (``LOCK_STORE_URL=redis://…``)
takes the lock with one ``SET NX PX``.

For each lock store ("stock": ``lock_store: {type: redis}`` in a temporary endpoints file;
"ours": ``LOCK_STORE_URL``), one action server and two Rasa replicas are started on a fresh
PostgreSQL tracker store (one database, shared), then many conversations send their messages in
rounds: every round sends ``--burst`` messages of the conversation at the same instant, split
evenly over the replicas. Afterwards the tracker store is read directly and every message is
looked up by the tag in its metadata: lost, duplicated, out-of-round-order messages, and turns
that ran at the same time (a user event before the previous turn reached ``action_listen``).

    PYTHONPATH=. .venv/bin/python -m bench.lock_store [--config both|stock|ours] [--repeats 3]

Messages are programme questions (no form starts), so each one is an independent turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from bench import backends
from bench.messages import MESSAGES
from bench.stats import pct
from bench.tracker_events import check_conversation, read_events, summarise, tagged
from bot.settings import ROOT
from tools.env import child_env
from tools.procs import Proc, action_server, free_ports, rasa_server, wait_ready

Kind = Literal["stock", "ours"]
RESULTS = ROOT / "bench" / "results"
LOG_DIR = RESULTS / "logs"
#: Redis database index of this benchmark (keys are per conversation id, removed afterwards).
REDIS_DB = 11
REQUEST_TIMEOUT_S = 120.0
STARTUP_TIMEOUT_S = 300.0
#: Questions about programmes: each is answered in one turn, no form starts.
QUESTIONS = [text for text, intent in MESSAGES if intent == "ask_programme"]


@dataclass(frozen=True)
class Plan:
    conversations: int = 40
    messages: int = 6  # per conversation
    burst: int = 2  # messages sent at the same instant (split over the replicas)
    parallel: int = 20  # conversations in flight at once
    repeats: int = 1  # measurement passes on the same servers

    def __post_init__(self) -> None:
        if self.burst < 2 or self.messages < self.burst or self.messages % self.burst:
            raise ValueError("burst must be >= 2 and divide messages")
        if not (1 <= self.parallel and 1 <= self.conversations and 1 <= self.repeats):
            raise ValueError("conversations, parallel and repeats must be positive")


@dataclass
class Pass:
    """One measurement pass: the figures printed and asserted."""

    sent: int = 0
    answered: int = 0  # HTTP 200 with a JSON list
    errors: int = 0
    empty_replies: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    out_of_order: int = 0
    interleaved: int = 0
    conversations_with_loss: int = 0
    wall_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    examples: list[str] = field(default_factory=list)


@dataclass
class LockRun:
    kind: Kind
    startup_s: float = 0.0
    passes: list[Pass] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(int(getattr(p, name)) for p in self.passes)


def stock_endpoints(path: Path, redis_db: int) -> Path:
    """endpoints.yml with Rasa's own Redis lock store instead of ours."""
    path.write_text(
        "action_endpoint:\n"
        "  url: ${ACTION_ENDPOINT_URL}\n"
        "  headers:\n"
        "    X-Action-Server-Secret: ${ACTION_SERVER_SECRET}\n"
        "tracker_store:\n"
        "  type: bot.conversation.rasa_stores.SettingsTrackerStore\n"
        "lock_store:\n"
        "  type: redis\n"
        f"  url: {backends.REDIS_HOST}\n"
        f"  port: {backends.REDIS_PORT}\n"
        f"  db: {redis_db}\n",
        encoding="utf-8",
    )
    return path


class Replicas:
    """One action server and two Rasa replicas sharing a tracker store and a lock store."""

    def __init__(
        self,
        kind: Kind,
        model: Path,
        tracker_url: str,
        work: Path,
        redis_db: int = REDIS_DB,
        log_dir: Path | None = None,
    ) -> None:
        self.kind = kind
        action_port, *rasa_ports = free_ports(3)
        lock_url = f"redis://{backends.REDIS_HOST}:{backends.REDIS_PORT}/{redis_db}"
        env = child_env(
            {
                "VAR_DIR": str(work / "var"),
                "DATABASE_URL": f"sqlite:///{work / 'feedback.db'}",
                "TRACKER_STORE_URL": tracker_url,
                "LOCK_STORE_URL": lock_url if kind == "ours" else "",
                "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
                "NO_PROXY": "127.0.0.1,localhost",
                # Chat turns are bounded per process in production (bot/channels/rest.py), which
                # makes replicas race less; the lock store must be correct however many turns
                # run at once, so this comparison lets them all run, as before the bound.
                "CHANNEL_CONCURRENT_TURNS": "64",
                "REST_CONCURRENT_TURNS": "64",
            }
        )
        endpoints = "endpoints.yml"
        if kind == "stock":
            endpoints = str(stock_endpoints(work / "endpoints.stock.yml", redis_db))
        logs = log_dir or work / "logs"
        for old in logs.glob(f"{kind}-*.log") if logs.is_dir() else []:
            old.unlink()  # Proc appends; a run's logs should be its own
        self.actions = action_server(action_port, log=logs / f"{kind}-actions.log", env=env)
        self.rasa: list[Proc] = []
        self.urls: list[str] = []
        for n, port in enumerate(rasa_ports, start=1):
            proc = rasa_server(
                model, port, log=logs / f"{kind}-rasa-{n}.log", env=env, endpoints=endpoints
            )
            proc.name = f"rasa-{n} ({kind})"
            self.rasa.append(proc)
            self.urls.append(f"http://127.0.0.1:{port}")

    @property
    def procs(self) -> list[Proc]:
        return [self.actions, *self.rasa]

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> float:
        for proc in self.procs:
            proc.start()
        return wait_ready(self.procs, timeout=timeout)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


async def _post(
    session: aiohttp.ClientSession, url: str, sender: str, message: str, tag: str
) -> tuple[float, int, Any]:
    payload = {"sender": sender, "message": message, "metadata": tagged(tag)}
    started = time.perf_counter()
    try:
        async with session.post(f"{url}/webhooks/rest/webhook", json=payload) as response:
            body = await response.json(content_type=None)
            return time.perf_counter() - started, response.status, body
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
        return time.perf_counter() - started, 0, None


async def _fire(urls: list[str], plan: Plan, run_id: str) -> tuple[dict[str, list[list[str]]], Pass]:
    """Send every conversation's rounds; returns the tags sent per sender and the HTTP figures."""
    rounds_of: dict[str, list[list[str]]] = {}
    latencies: list[float] = []
    result = Pass()
    gate = asyncio.Semaphore(plan.parallel)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=plan.parallel * plan.burst + 4)

    async def conversation(session: aiohttp.ClientSession, c: int) -> None:
        sender = f"lock-{run_id}-{c}"
        rounds: list[list[str]] = []
        rounds_of[sender] = rounds
        async with gate:
            for r in range(plan.messages // plan.burst):
                tags = [f"{sender}:{r}:{m}" for m in range(plan.burst)]
                rounds.append(tags)
                texts = [
                    QUESTIONS[(c * 5 + r * plan.burst + m) % len(QUESTIONS)]
                    for m in range(plan.burst)
                ]
                # Same instant: every request of the round is created before any is awaited.
                answers = await asyncio.gather(
                    *(
                        _post(session, urls[m % len(urls)], sender, texts[m], tags[m])
                        for m in range(plan.burst)
                    )
                )
                for elapsed, status, body in answers:
                    result.sent += 1
                    if status == 200 and isinstance(body, list):
                        result.answered += 1
                        result.empty_replies += int(not body)
                        latencies.append(elapsed)
                    else:
                        result.errors += 1

    started = time.perf_counter()
    async with aiohttp.ClientSession(
        timeout=timeout, connector=connector, trust_env=False
    ) as session:
        await asyncio.gather(*(conversation(session, c) for c in range(plan.conversations)))
    result.wall_s = time.perf_counter() - started
    result.p50_ms = round(statistics.median(latencies) * 1000, 1) if latencies else 0.0
    result.p95_ms = round(pct(latencies, 0.95) * 1000, 1) if latencies else 0.0
    return rounds_of, result


async def _warm_up(urls: list[str]) -> None:
    """One message per replica first: the first turn after start-up loads lazily."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
        for n, url in enumerate(urls):
            _, status, _ = await _post(session, url, f"lock-warm-{uuid.uuid4().hex}", QUESTIONS[n], "warm")
            if status != 200:
                raise RuntimeError(f"warm-up message to {url} answered HTTP {status}")


def measure(urls: list[str], tracker_url: str, plan: Plan) -> Pass:
    """One pass: fire the rounds, then read the tracker store and count."""
    run_id = uuid.uuid4().hex[:8]
    rounds_of, result = asyncio.run(_fire(urls, plan, run_id))
    events = read_events(tracker_url, rounds_of)
    summary = summarise(
        check_conversation(sender, rounds, events[sender]) for sender, rounds in rounds_of.items()
    )
    result.stored = summary.stored
    result.lost = summary.lost
    result.duplicated = summary.duplicated
    result.unexpected = summary.unexpected
    result.out_of_order = summary.out_of_order
    result.interleaved = summary.interleaved
    result.conversations_with_loss = summary.conversations_with_loss
    result.examples = summary.examples
    return result


def run_config(
    kind: Kind,
    model: Path,
    plan: Plan,
    work: Path,
    *,
    redis_db: int = REDIS_DB,
    log_dir: Path | None = None,
    keep_db: bool = False,
    until_loss: bool = False,
    progress: Callable[[str], None] = print,
) -> LockRun:
    """Start the replicas once with ``kind``'s lock store, measure up to ``plan.repeats`` passes
    (with ``until_loss``, stop after the first pass that lost a message), stop them."""
    work.mkdir(parents=True, exist_ok=True)
    tracker_url = backends.create_database(f"bench_lock_{kind}")
    run = LockRun(kind)
    replicas: Replicas | None = None
    try:
        backends.create_tracker_tables(tracker_url)
        replicas = Replicas(kind, model, tracker_url, work, redis_db, log_dir)
        progress(f"[{kind}] starting the action server and two Rasa replicas ...")
        try:
            run.startup_s = replicas.start()
        except (RuntimeError, TimeoutError) as error:
            raise RuntimeError(f"[{kind}] {error} (logs in {log_dir or work / 'logs'})") from error
        asyncio.run(_warm_up(replicas.urls))
        for n in range(plan.repeats):
            result = measure(replicas.urls, tracker_url, plan)
            run.passes.append(result)
            progress(
                f"[{kind}] pass {n + 1}/{plan.repeats}: sent {result.sent}, answered "
                f"{result.answered}, stored {result.stored}, lost {result.lost}, duplicated "
                f"{result.duplicated}, interleaved turns {result.interleaved} "
                f"({result.wall_s:.1f} s)"
            )
            if until_loss and result.lost:
                break
    finally:
        if replicas is not None:
            replicas.stop()
        backends.delete_redis_keys(redis_db, ["lock:lock-*", "mttq:lock:lock-*"])
        if not keep_db:
            backends.drop_database(tracker_url)
    return run


def _model() -> Path:
    from tools import model as models

    return models.find_model(models.fingerprint()) or models.train(quiet=True).path


def report(runs: list[LockRun], plan: Plan) -> str:
    lines = [
        f"{plan.conversations} conversations x {plan.messages} messages, {plan.burst} at the same "
        f"instant split over 2 replicas, {plan.parallel} conversations in flight; "
        f"{plan.repeats} pass(es) per lock store",
        f"{'lock store':<12}{'sent':>7}{'200':>7}{'stored':>8}{'lost':>6}{'dup':>5}"
        f"{'interl.':>9}{'conv. w/ loss':>15}{'p50 ms':>9}{'p95 ms':>9}",
    ]
    for run in runs:
        for n, p in enumerate(run.passes):
            label = f"{run.kind} #{n + 1}"
            lines.append(
                f"{label:<12}{p.sent:>7}{p.answered:>7}{p.stored:>8}{p.lost:>6}"
                f"{p.duplicated:>5}{p.interleaved:>9}{p.conversations_with_loss:>15}"
                f"{p.p50_ms:>9}{p.p95_ms:>9}"
            )
    for run in runs:
        lossy = sum(1 for p in run.passes if p.lost)
        lines.append(
            f"{run.kind}: {run.total('lost')} of {run.total('sent')} messages lost in total; "
            f"{lossy} of {len(run.passes)} passes lost at least one; replicas ready in "
            f"{run.startup_s:.1f} s"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=["both", "stock", "ours"], default="both")
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--messages", type=int, default=6)
    parser.add_argument("--burst", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--redis-db", type=int, default=REDIS_DB)
    args = parser.parse_args(argv)
    try:
        plan = Plan(args.conversations, args.messages, args.burst, args.parallel, args.repeats)
    except ValueError as error:
        parser.error(str(error))
    problem = backends.backends_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    kinds: list[Kind] = ["stock", "ours"] if args.config == "both" else [args.config]
    model = _model()
    runs: list[LockRun] = []
    with tempfile.TemporaryDirectory(prefix="bench-lock-") as tmp:
        for kind in kinds:
            runs.append(
                run_config(
                    kind, model, plan, Path(tmp) / kind, redis_db=args.redis_db, log_dir=LOG_DIR
                )
            )
    command = "PYTHONPATH=. .venv/bin/python -m bench.lock_store " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    text = report(runs, plan)
    print(f"$ {command}\n{text}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"lock_store-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "command": command,
                "plan": plan.__dict__,
                "model": model.name,
                "runs": [
                    {"kind": r.kind, "startup_s": round(r.startup_s, 1),
                     "passes": [p.__dict__ for p in r.passes]}
                    for r in runs
                ],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"written {out.relative_to(ROOT)}")
    ours = [r for r in runs if r.kind == "ours"]
    ours_ok = all(
        r.total("lost") == r.total("duplicated") == r.total("errors") == 0 for r in ours
    )
    return 0 if ours_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
