"""Does a turn cost more late in a long conversation? Turn latency by turn number (issue 14).

Starts the embedded stack (action server and one Rasa server with this checkout's model, a fresh
SQLite tracker store and feedback DB in a temporary directory, the in-process lock store; or
``--tracker-store postgresql``: a throw-away PostgreSQL database) and holds ``--conversations``
conversations of ``--turns`` turns each, staggered (:func:`run`), one message at a time through
the REST channel (the chat page's), and prints turn latency p50 / p95 by band of ``--band``
turns (1-50, 51-100, ...), and the ratio of the last band's p50 to the first's. Exit status 1
when that ratio exceeds ``--max-ratio`` (1.2, issue 14's bound) or a turn failed; the temporary
directory (servers' logs) is kept then.

    PYTHONPATH=. .venv/bin/python -m bench.turn_cost --turns 200 --conversations 3
    PYTHONPATH=. .venv/bin/python -m bench.turn_cost --against ../base   # two checkouts, one run

The messages are a fixed cycle of :data:`CYCLE` (25: greetings, programme and contact
questions, status checks by code, thanks, chatter), so every band of 50 turns holds the same
messages twice and bands differ only in how long the conversation already is. No message starts
the petition form: a 200-turn conversation files no case. The per-sender rate limit
(``SENDER_RATE_LIMIT_MESSAGES``) is raised for the run, or turn 31 would be refused.

Timings differ between sittings by more than the changes measured, and this machine is shared,
so ``--against <checkout>`` (e.g. ``git worktree add /tmp/base HEAD~3``) starts a second stack
from the other checkout's code (same model, its own temporary stores) and sends each turn to both,
alternating which goes first: both stacks see the same machine at the same moments. It also
compares their answers turn by turn (exit status 1 if any differ): a change that only bounds the
work must not change what the assistant says.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.compare_pipelines import percentile
from bench.messages import MESSAGES, WARMUP
from bot.settings import ROOT
from tools import model
from tools.env import child_env
from tools.procs import Proc, action_server, free_ports, rasa_server, wait_ready

RESULTS = ROOT / "bench" / "results"

#: How many messages of each one-turn intent (no form, handoff, erasure; nothing filed).
_MIX = {
    "greet": 4,
    "thank": 2,
    "bot_challenge": 2,
    "ask_programme": 8,
    "ask_contact": 3,
    "out_of_scope": 3,
    "goodbye": 1,
}


def _cycle() -> list[str]:
    """25 messages from ``bench/messages.py``: :data:`_MIX`, then two status checks by code."""
    picked: list[str] = []
    for intent, count in _MIX.items():
        picked += [text for text, label in MESSAGES if label == intent][:count]
    picked += [text for text, label in MESSAGES if label == "check_status" and "KN-" in text]
    return picked


#: Two bands of 50 turns hold the same messages the same number of times.
CYCLE: list[str] = _cycle()


@dataclass
class Stack:
    """One action server and one Rasa server, from ``checkout``, on their own stores."""

    name: str
    checkout: Path
    procs: list[Proc] = field(default_factory=list)
    port: int = 0
    tmp: Path | None = None
    database_url: str = ""
    #: latencies[turn index] = milliseconds of that turn, over every conversation
    latencies: list[list[float]] = field(default_factory=list)
    #: replies[conversation][turn] = the texts the assistant answered
    replies: list[list[list[str]]] = field(default_factory=list)
    failed: int = 0


def _post(port: int, sender: str, message: str) -> tuple[float, list[str]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": message}).encode(),
        headers={"Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        body = json.loads(response.read())
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, [str(m.get("text") or "") for m in body]


def _start(stack: Stack, trained: Path, tracker_store: str) -> None:
    stack.tmp = Path(tempfile.mkdtemp(prefix=f"bench-turncost-{stack.name}-"))
    if tracker_store == "postgresql":
        from bench.backends import create_database, create_tracker_tables

        stack.database_url = create_database("bench_turncost")
        create_tracker_tables(stack.database_url)
        tracker_url = stack.database_url
    else:
        tracker_url = f"sqlite:///{stack.tmp / 'tracker.db'}"
    stack.port, action_port = free_ports(2)
    env = child_env(
        {
            "TRACKER_STORE_URL": tracker_url,
            "DATABASE_URL": f"sqlite:///{stack.tmp / 'feedback.db'}",
            "VAR_DIR": str(stack.tmp / "var"),
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
            "LOCK_STORE_URL": "",
            "SENDER_RATE_LIMIT_MESSAGES": "100000",
            "PYTHONPATH": str(stack.checkout),
        }
    )
    actions = action_server(action_port, log=stack.tmp / "actions.log", env=env)
    rasa = rasa_server(trained, stack.port, log=stack.tmp / "rasa.log", env=env)
    for proc in (actions, rasa):
        proc.cwd = stack.checkout
        stack.procs.append(proc)
        proc.start()


def _stop(stack: Stack) -> None:
    for proc in reversed(stack.procs):
        proc.stop()
    if stack.database_url:
        from bench.backends import drop_database

        drop_database(stack.database_url)


def bands(latencies: list[list[float]], size: int) -> list[dict[str, Any]]:
    """p50 / p95 of the turns in each band of ``size`` turns (turn numbers from 1)."""
    rows = []
    for start in range(0, len(latencies), size):
        values = [ms for turn in latencies[start : start + size] for ms in turn]
        rows.append(
            {
                "turns": f"{start + 1}-{min(start + size, len(latencies))}",
                "n": len(values),
                "p50_ms": round(percentile(values, 50) or 0.0, 1),
                "p95_ms": round(percentile(values, 95) or 0.0, 1),
            }
        )
    return rows


def run(stacks: list[Stack], turns: int, conversations: int) -> None:
    """Hold the conversations staggered: conversation ``c`` starts ``c * turns / conversations``
    steps after the first, and each step sends the next turn of every conversation under way,
    one message at a time. So early and late turns are measured side by side, and a change in the
    machine's load (it is shared) reaches every band alike instead of whichever band it met."""
    for stack in stacks:
        stack.latencies = [[] for _ in range(turns)]
        stack.replies = [[] for _ in range(conversations)]
        sender = f"warm-{uuid.uuid4()}"
        for message in WARMUP * 2:
            _post(stack.port, sender, message)
    senders = [
        {stack.name: f"turncost-{c}-{uuid.uuid4()}" for stack in stacks}
        for c in range(conversations)
    ]
    starts = [c * turns // conversations for c in range(conversations)]
    for step in range(starts[-1] + turns):
        for c, start in enumerate(starts):
            turn = step - start
            if not 0 <= turn < turns:
                continue
            message = CYCLE[turn % len(CYCLE)]
            order = stacks if step % 2 == 0 else list(reversed(stacks))
            for stack in order:
                try:
                    elapsed, texts = _post(stack.port, senders[c][stack.name], message)
                except OSError as error:
                    stack.failed += 1
                    stack.replies[c].append(["(failed)"])
                    print(f"{stack.name}: turn {turn + 1} failed: {error}", file=sys.stderr)
                    continue
                stack.latencies[turn].append(elapsed)
                stack.replies[c].append(texts)


def differing_turns(a: Stack, b: Stack) -> list[str]:
    """Turns where the two stacks answered differently (conversation:turn)."""
    return [
        f"{c + 1}:{t + 1}"
        for c, (x, y) in enumerate(zip(a.replies, b.replies, strict=True))
        for t, (p, q) in enumerate(zip(x, y, strict=True))
        if p != q
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--band", type=int, default=50)
    parser.add_argument("--tracker-store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        help="another checkout to run beside this one, turn for turn",
    )
    parser.add_argument("--max-ratio", type=float, default=1.2)
    args = parser.parse_args(argv)
    if not 1 <= args.turns <= 2000 or not 1 <= args.conversations <= 50:
        parser.error("--turns must be 1..2000 and --conversations 1..50")
    if args.band < 1 or args.band > args.turns:
        parser.error("--band must be between 1 and --turns")

    trained = model.train(quiet=True).path
    stacks = [Stack("this", ROOT)]
    if args.against is not None:
        other = args.against.resolve()
        if not (other / "endpoints.yml").is_file():
            parser.error(f"{other} is not a checkout of this repository")
        stacks.insert(0, Stack("other", other))
    started = time.monotonic()
    try:
        for stack in stacks:
            _start(stack, trained, args.tracker_store)
        wait_ready([p for s in stacks for p in s.procs], timeout=300)
        run(stacks, args.turns, args.conversations)
    finally:
        for stack in stacks:
            _stop(stack)

    command = "PYTHONPATH=. .venv/bin/python -m bench.turn_cost " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    result: dict[str, Any] = {
        "command": command,
        "tracker_store": args.tracker_store,
        "turns": args.turns,
        "conversations": args.conversations,
        "wall_s": round(time.monotonic() - started, 1),
        "stacks": {},
    }
    print(f"$ {command}")
    print(
        f"{args.conversations} conversations x {args.turns} turns, tracker store "
        f"{args.tracker_store}, model {trained.name}"
    )
    header = f"{'turns':<12}" + "".join(
        f"{s.name + ' p50':>12}{s.name + ' p95':>12}" for s in stacks
    )
    print(header)
    table = {s.name: bands(s.latencies, args.band) for s in stacks}
    for i, row in enumerate(table[stacks[0].name]):
        print(
            f"{row['turns']:<12}"
            + "".join(
                f"{table[s.name][i]['p50_ms']:>12}{table[s.name][i]['p95_ms']:>12}" for s in stacks
            )
        )
    status = 0
    for stack in stacks:
        rows = table[stack.name]
        ratio = rows[-1]["p50_ms"] / rows[0]["p50_ms"] if rows[0]["p50_ms"] else float("inf")
        every = [ms for turn in stack.latencies for ms in turn]
        result["stacks"][stack.name] = {
            "checkout": str(stack.checkout),
            "bands": rows,
            "failed": stack.failed,
            "last_over_first_p50": round(ratio, 2),
            "mean_ms": round(statistics.mean(every), 1) if every else None,
        }
        print(
            f"{stack.name} ({stack.checkout}): p50 turns {rows[-1]['turns']} / "
            f"{rows[0]['turns']} = {ratio:.2f}; failed turns {stack.failed}"
        )
        if stack.name == "this" and (ratio > args.max_ratio or stack.failed):
            status = 1
    if len(stacks) == 2:
        differ = differing_turns(stacks[0], stacks[1])
        result["turns_answered_differently"] = differ
        total = args.turns * args.conversations
        print(
            f"answers: the same in {total - len(differ)} of {total} turns"
            + (f"; different in {', '.join(differ[:10])}" if differ else "")
        )
        status = status or int(bool(differ))
    if status == 0:
        for stack in stacks:
            if stack.tmp is not None:
                shutil.rmtree(stack.tmp, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "turn_cost.json").write_text(json.dumps(result, indent=2))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
