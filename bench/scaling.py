"""One Rasa replica against two, same workload, in one run: does adding a replica add capacity?

For each replica count (1, then 2), on a fresh PostgreSQL database (tracker store and feedback DB)
and the Redis mutex lock store, :class:`tools.profile.Profile` starts the production profile
(replicas and two action servers behind the proxy tier, staff service, worker). Then
``--conversations`` closed-loop conversations (distinct senders, each sending the next message as
soon as the previous one is answered, messages from ``bench/messages.py``) run through the proxy
tier's internal Rasa front (``Profile.rasa_url``) for ``--seconds`` after a short warm-up.
Printed: messages, errors, throughput, p50/p95/p99 for each, the two-to-one ratios, and the CPU
seconds per message of each kind of process, the proxy tier's among them. JSON in
``bench/results/scaling.json``. Run::

    PYTHONPATH=. .venv/bin/python -m bench.scaling [--conversations 20] [--seconds 60]
        [--against CHECKOUT]

``--against CHECKOUT`` measures another checkout of this repository too, in the same run and
with the same model, alternating (``CHECKOUT`` 1 replica, this one 1 replica, ``CHECKOUT`` 2,
this one 2): this file runs there as a script, so that checkout's own ``tools.profile`` starts
its own processes (for example the Python proxies before HAProxy replaced them), measured the
same way. The table then has one column pair per checkout.

Everything runs on this one machine: the replicas share its cores with the action servers, the
proxy tier, PostgreSQL and this load generator, so the ratio shows what a second replica buys
*here*; on separate machines (the Kubernetes layout in the README) each replica brings its own
cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.backends import backends_problem, create_database, drop_database
from bench.compare_pipelines import percentile
from bench.messages import MESSAGES, WARMUP
from bot.settings import ROOT
from tools import model
from tools.env import apply_to_current_process
from tools.profile import Profile

RESULTS = ROOT / "bench" / "results" / "scaling.json"
REQUEST_TIMEOUT_S = 60.0
REDIS_DB = 13


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process (seconds)."""
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


#: The processes that only forward: HAProxy now; the Python proxies before it.
PROXY_TIER = ("haproxy", "rasa-proxy", "rasa-api", "actions-proxy")


def process_group(name: str) -> str:
    """``rasa-1``/``rasa-2`` -> ``rasa``; every process of the proxy tier -> ``proxy tier``."""
    if name in PROXY_TIER:
        return "proxy tier"
    return name.split("-")[0]


@dataclass
class Run:
    replicas: int
    startup_s: float = 0.0
    machine_busy: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    #: Answered with no message at all (counted in messages too): a rate-limited turn answers
    #: so, which is why the run lifts the limit; the rest are turns that said nothing.
    empty: int = 0
    wall_s: float = 0.0
    cpu_count: int = field(default_factory=lambda: os.cpu_count() or 0)

    def row(self) -> dict[str, Any]:
        def ms(q: float) -> float | None:
            value = percentile(self.latencies, q)
            return None if value is None else round(value * 1000, 1)

        return {
            "replicas": self.replicas,
            "startup_s": round(self.startup_s, 1),
            "messages": len(self.latencies),
            "errors": self.errors,
            "empty_answers": self.empty,
            "throughput_msg_s": (
                round(len(self.latencies) / self.wall_s, 2) if self.wall_s else None
            ),
            "p50_ms": ms(50),
            "p95_ms": ms(95),
            "p99_ms": ms(99),
            "machine_cpu_busy_pct": round(100 * self.machine_busy, 1),
            "cpu_s_per_message": {
                name: round(sec / len(self.latencies), 4) if self.latencies else None
                for name, sec in sorted(self.cpu_s.items())
            },
        }


async def _load(url: str, conversations: int, seconds: float, run_id: str, out: Run) -> None:
    webhook = f"{url}/webhooks/rest/webhook"
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=conversations + 4)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        for i, text in enumerate(WARMUP * 2):
            async with session.post(
                webhook, json={"sender": f"{run_id}-warm-{i % 4}", "message": text}
            ) as response:
                await response.read()
        deadline = time.perf_counter() + seconds

        async def conversation(c: int) -> None:
            t = 0
            while time.perf_counter() < deadline:
                text = MESSAGES[(c * 7 + t) % len(MESSAGES)][0]
                t += 1
                started = time.perf_counter()
                try:
                    async with session.post(
                        webhook, json={"sender": f"{run_id}-c{c}", "message": text}
                    ) as response:
                        body = await response.json(content_type=None)
                        ok = response.status == 200 and isinstance(body, list)
                        if ok and not body:
                            out.empty += 1  # answered, with no message (printed apart)
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                    ok = False
                if ok:
                    out.latencies.append(time.perf_counter() - started)
                else:
                    out.errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(conversation(c) for c in range(conversations)))
        out.wall_s = time.perf_counter() - started


def measure(replicas: int, conversations: int, seconds: float, model_path: Path) -> Run:
    run = Run(replicas)
    database = create_database("mttq_scaling")
    try:
        with tempfile.TemporaryDirectory(prefix="mttq-scaling-") as tmp:
            profile = Profile(
                replicas=replicas,
                action_servers=2,
                database_url=database,
                tracker_store_url=database,
                lock_store_url=f"redis://127.0.0.1:6379/{REDIS_DB}",
                var_dir=Path(tmp),
                model=model_path,
                log_dir=ROOT / "bench" / "results" / "logs" / f"scaling-{replicas}",
                # A closed-loop conversation sends far more than a citizen may (30 a minute):
                # under the limit the replicas would answer most of them with nothing, cheaply.
                extra_env={"SENDER_RATE_LIMIT_MESSAGES": "1000000"},
            )
            print(f"[{replicas} replica(s)] starting the profile ...", flush=True)
            run.startup_s = profile.start()
            try:
                print(f"[{replicas} replica(s)] ready in {run.startup_s:.0f} s; "
                      f"{conversations} conversations for {seconds:.0f} s ...", flush=True)
                run_id = f"scale{replicas}-{int(time.time())}"
                pids = {
                    name: profile.proc(name).popen.pid  # type: ignore[union-attr]
                    for name in profile.names
                }
                before_cpu = {n: process_cpu_seconds(p) for n, p in pids.items()}
                busy0, total0 = machine_ticks()
                asyncio.run(_load(profile.rasa_url, conversations, seconds, run_id, run))
                busy1, total1 = machine_ticks()
                run.machine_busy = (busy1 - busy0) / max(1, total1 - total0)
                for name, pid in pids.items():
                    spent = process_cpu_seconds(pid) - before_cpu[name]
                    group = process_group(name)
                    run.cpu_s[group] = run.cpu_s.get(group, 0.0) + spent
            finally:
                profile.stop()
    finally:
        drop_database(database)
    return run


def _measure_elsewhere(checkout: Path, replicas: int, args: argparse.Namespace,
                       model_path: Path) -> dict[str, Any]:
    """:func:`measure` run by ``checkout``'s own code (this file as a script there)."""
    import subprocess
    import sys

    with tempfile.TemporaryDirectory(prefix="mttq-scaling-against-") as tmp:
        out = Path(tmp) / "row.json"
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        result = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--one", str(replicas),
             "--model", str(model_path), "--conversations", str(args.conversations),
             "--seconds", str(args.seconds), "--row-json", str(out)],
            cwd=checkout, env=env, check=False,
        )
        if result.returncode != 0 or not out.exists():
            raise RuntimeError(f"the run in {checkout} failed (exit {result.returncode})")
        return dict(json.loads(out.read_text()))


NO_RATIO = ("messages", "errors", "empty_answers", "machine_cpu_busy_pct")


def _table(columns: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[str]:
    """One column pair (1 replica, 2 replicas, ratio) per checkout."""
    head = f"{'':26}" + "".join(f"{label[:30]:>30}" for label, _, _ in columns)
    sub = f"{'':26}" + "".join(f"{'1 rep':>10}{'2 rep':>10}{'2 / 1':>10}" for _ in columns)
    lines = [head, sub]

    def ratio(one: Any, two: Any) -> str:
        return f"{two / one:.2f}" if one and two else ""

    for key in ("messages", "errors", "empty_answers", "throughput_msg_s", "p50_ms", "p95_ms", "p99_ms",
                "machine_cpu_busy_pct"):
        cells = "".join(f"{one.get(key)!s:>10}{two.get(key)!s:>10}"
                        f"{ratio(one[key], two[key]) if key not in NO_RATIO else '':>10}"
                        for _, one, two in columns)
        lines.append(f"{key:26}{cells}")
    groups = sorted({g for _, one, two in columns for g in (*one["cpu_s_per_message"],
                                                            *two["cpu_s_per_message"])})
    lines.append("CPU seconds per message (load window):")
    for group in groups:
        cells = "".join(f"{one['cpu_s_per_message'].get(group)!s:>10}"
                        f"{two['cpu_s_per_message'].get(group)!s:>10}{'':>10}"
                        for _, one, two in columns)
        lines.append(f"  {group:24}{cells}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout to measure in the same run (module docstring)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--row-json", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    apply_to_current_process()
    problem = backends_problem()
    if problem:
        print(f"error: {problem}")
        return 2
    model_path = args.model or model.train(quiet=True).path
    if args.one is not None:  # one measurement for --against, run by the other checkout
        row = measure(args.one, args.conversations, args.seconds, model_path).row()
        args.row_json.write_text(json.dumps(row))
        return 0
    here = f"this checkout ({ROOT.name})"
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    labels = ([f"{args.against.name} (--against)"] if args.against else []) + [here]
    for replicas in (1, 2):
        if args.against is not None:
            print(f"[{labels[0]}] ", end="", flush=True)
            rows.setdefault(labels[0], {})[replicas] = _measure_elsewhere(
                args.against.resolve(), replicas, args, model_path)
        rows.setdefault(here, {})[replicas] = measure(
            replicas, args.conversations, args.seconds, model_path).row()
    columns = [(label, rows[label][1], rows[label][2]) for label in labels]
    print()
    for line in _table(columns):
        print(line)
    print(f"(machine: {os.cpu_count()} cores; {args.conversations} closed-loop conversations, "
          f"{args.seconds:.0f} s each run; model {model_path.name})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(
        {"checkouts": {label: {"runs": [rows[label][1], rows[label][2]]} for label in labels},
         "args": {k: str(v) for k, v in vars(args).items()}}, indent=2))
    return 0 if all(r["errors"] == 0 for label in labels for r in rows[label].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
