"""Our pipeline (config.yml) against Rasa's stock pipeline (config.stock.yml), same data.

For each config, one after the other (never two Rasa servers at once):

1. get the model from ``tools.model.train`` (cached by fingerprint in ``models/``); the training
   time is measured only when it trains now, otherwise it is the ``training_seconds`` recorded in
   the model's sidecar JSON (the table says which);
2. start the action server, then the Rasa server, on free loopback ports with a fresh SQLite
   tracker store and feedback DB in a temporary directory; start-up = from ``Popen`` of the Rasa
   process until ``/status`` answers. Ours runs with the repository's endpoints and credentials;
   stock with Rasa's own SQL tracker store, lock store and REST channel (:func:`server_files`);
3. warm up (5 ``/model/parse`` and 5 REST messages), then read the RSS of the Rasa process group
   from ``/proc``;
4. ``/model/parse`` latency, sequential, over ``bench/messages.py``;
5. REST end to end (``POST /webhooks/rest/webhook``), sequential, one new sender per message;
6. 10 concurrent conversations (distinct senders, each sending its messages one after another):
   throughput and latency;
7. stop both servers.

Prints a table (ours | stock | ours/stock, with which direction is better) and writes the same
to ``bench/results/compare_pipelines.json``. Run from the repository root::

    PYTHONPATH=. .venv/bin/python -m bench.compare_pipelines [--quick] [--stock-epochs N]

``--stock-epochs N`` trains the stock pipeline with N epochs for DIET, the ResponseSelector, TED
and UnexpecTED instead of Rasa's 100 (a copy of ``config.stock.yml`` written to ``models/``). Why:
on a shared 2-core machine one DIET epoch over our data takes about a minute, so the stock model
takes hours to train; epochs change neither the network's size nor what a parse computes, so
start-up, memory and latency are measured as for 100 epochs, while its training time is that of N
epochs (the table says so; it grows about linearly with epochs).

Why this is one module: it is a script read top to bottom, one step per function in the order
above; splitting it would make a reader jump between files to follow one measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp

from bench.messages import MESSAGES, WARMUP
from bot.settings import ROOT
from tools import model
from tools.env import child_env, rel
from tools.procs import Proc, action_server, free_ports, rasa_server, wait_ready

RESULTS_DIR = ROOT / "bench" / "results"
LOG_DIR = RESULTS_DIR / "logs"
CONFIGS = {"ours": "config.yml", "stock": "config.stock.yml"}
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")

#: Bounds on every wait, so a hung server fails the benchmark instead of hanging it.
REQUEST_TIMEOUT_S = 60.0
PHASE_TIMEOUT_S = 900.0
ACTIONS_READY_TIMEOUT_S = 120.0


class BenchmarkError(Exception):
    """A server failed; the message says which and where its log is."""


@dataclass(frozen=True)
class Plan:
    parse_passes: int
    rest_passes: int
    conversations: int
    turns: int
    startup_timeout: float


@dataclass
class Measured:
    """Everything measured for one config (seconds, KiB, lists of latencies in seconds)."""

    label: str
    config: str
    model: str = ""
    model_mib: float = 0.0
    training_s: float | None = None
    training_source: str = ""
    startup_s: float = 0.0
    first_parse_s: float = 0.0
    rss_kib_warm: int = 0
    rss_kib_end: int = 0
    rss_processes: int = 0
    parse_lat: list[float] = field(default_factory=list)
    parse_errors: int = 0
    intent_matches: int = 0
    intent_total: int = 0
    fallbacks: int = 0
    rest_lat: list[float] = field(default_factory=list)
    rest_errors: int = 0
    rest_empty: int = 0
    conc_lat: list[float] = field(default_factory=list)
    conc_errors: int = 0
    conc_wall_s: float = 0.0
    loadavg_before: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# small helpers


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def _vm_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _pgrp(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            raw = fh.read()
        # "pid (comm) state ppid pgrp ..."; comm may contain spaces or parentheses.
        return int(raw[raw.rindex(")") + 2 :].split()[2])
    except (OSError, ValueError, IndexError):
        return None


def group_rss_kib(leader: int) -> tuple[int, int]:
    """Sum of VmRSS over the process group led by ``leader`` (Proc starts a new session, so the
    group is the Rasa process and any children it forked); returns (KiB, process count)."""
    total, count = 0, 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid == leader or _pgrp(pid) == leader:
            rss = _vm_rss_kib(pid)
            if rss:
                total += rss
                count += 1
    return total, count


def log_tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return "(no log)"
    out: list[str] = []
    last_key, repeats = "", 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        # Collapse runs of the same message (e.g. "No agent loaded" on every /status poll).
        key = line[20:] if _TIMESTAMP.match(line) else line
        if key == last_key:
            repeats += 1
            continue
        if repeats:
            out.append(f"    (the line above repeated {repeats} more times)")
        out.append(line)
        last_key, repeats = key, 0
    if repeats:
        out.append(f"    (the line above repeated {repeats} more times)")
    return "\n".join(out[-lines:])


def command_line(argv: list[str]) -> str:
    return f"cd {shlex.quote(str(ROOT))} && PYTHONPATH={shlex.quote(str(ROOT))} " + shlex.join(
        [sys.executable, "-m", "bench.compare_pipelines", *argv]
    )


# --------------------------------------------------------------------------------------------
# training


def stock_config(epochs: int | None) -> str:
    """``config.stock.yml``, or a copy of it in ``models/`` with every ``epochs: 100`` set to
    ``epochs`` (see the module docstring); returns the path to pass to ``tools.model.train``."""
    if epochs is None:
        return CONFIGS["stock"]
    text = (ROOT / CONFIGS["stock"]).read_text(encoding="utf-8")
    changed, count = re.subn(r"(?m)^(\s+epochs:) 100$", rf"\g<1> {epochs}", text)
    if count == 0:
        raise BenchmarkError(f"{CONFIGS['stock']} has no 'epochs: 100' line to change")
    model.MODELS_DIR.mkdir(exist_ok=True)
    path = model.MODELS_DIR / f"config.stock-epochs{epochs}.yml"
    path.write_text(
        f"# {CONFIGS['stock']} with epochs {epochs} (bench.compare_pipelines "
        f"--stock-epochs)\n" + changed,
        encoding="utf-8",
    )
    return rel(path)


def get_model(label: str, config: str) -> tuple[Path, float | None, str]:
    if label == "stock":
        print(
            "Stock model: trained once and cached in models/ (DIET + TED on 2 cores: 10+ min "
            "the first time) ...",
            flush=True,
        )
    result = model.train(config=config, quiet=True)
    if result.trained:
        return result.path, result.seconds, "measured now"
    sidecar = result.path.with_name(result.path.name[: -len(".tar.gz")] + ".json")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        seconds = float(meta["training_seconds"])
        when = meta.get("trained_at", "?")
        return result.path, seconds, f"cached model: recorded in {rel(sidecar)} ({when})"
    except (OSError, ValueError, KeyError, TypeError):
        return result.path, None, f"cached model without a readable sidecar ({rel(sidecar)})"


# --------------------------------------------------------------------------------------------
# HTTP phases


async def _post(
    session: aiohttp.ClientSession, url: str, payload: dict[str, Any]
) -> tuple[float, int, Any]:
    started = time.perf_counter()
    async with session.post(url, json=payload) as response:
        body = await response.read()
    elapsed = time.perf_counter() - started
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    return elapsed, response.status, data


async def _safe_post(
    session: aiohttp.ClientSession, url: str, payload: dict[str, Any]
) -> tuple[float, int, Any]:
    started = time.perf_counter()
    try:
        return await _post(session, url, payload)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return time.perf_counter() - started, 0, None


async def measure_http(
    m: Measured, base: str, token_query: str, plan: Plan, rasa: Proc, run_id: str
) -> None:
    parse_url = f"{base}/model/parse{token_query}"
    rest_url = f"{base}/webhooks/rest/webhook"
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=plan.conversations + 2)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        # Warm-up: the first request after start-up is slow (lazy loading, caches).
        for i, text in enumerate(WARMUP):
            elapsed, status, _ = await _safe_post(session, parse_url, {"text": text})
            if i == 0:
                m.first_parse_s = elapsed
            if status != 200:
                raise BenchmarkError(f"/model/parse warm-up answered HTTP {status}")
        for text in WARMUP:
            _, status, _ = await _safe_post(
                session, rest_url, {"sender": f"bench-{run_id}-warmup", "message": text}
            )
            if status != 200:
                raise BenchmarkError(f"REST webhook warm-up answered HTTP {status}")
        m.rss_kib_warm, m.rss_processes = group_rss_kib(_pid(rasa))

        # /model/parse, sequential.
        for _ in range(plan.parse_passes):
            for text, expected in MESSAGES:
                elapsed, status, data = await _safe_post(session, parse_url, {"text": text})
                if status != 200 or not isinstance(data, dict):
                    m.parse_errors += 1
                    continue
                m.parse_lat.append(elapsed)
                intent = (data.get("intent") or {}).get("name")
                m.intent_total += 1
                m.intent_matches += int(intent == expected)
                m.fallbacks += int(intent == "nlu_fallback")
        _check_alive(rasa)

        # REST end to end, sequential, a new sender per message.
        n = 0
        for _ in range(plan.rest_passes):
            for text, _expected in MESSAGES:
                n += 1
                payload = {"sender": f"bench-{run_id}-seq-{n}", "message": text}
                elapsed, status, data = await _safe_post(session, rest_url, payload)
                if status != 200 or not isinstance(data, list):
                    m.rest_errors += 1
                    continue
                m.rest_lat.append(elapsed)
                m.rest_empty += int(not data)
        _check_alive(rasa)

        # Concurrent conversations: each a sender sending its messages one after another.
        async def conversation(c: int) -> list[tuple[float, bool]]:
            out: list[tuple[float, bool]] = []
            for t in range(plan.turns):
                text = MESSAGES[(c * 7 + t) % len(MESSAGES)][0]
                payload = {"sender": f"bench-{run_id}-conc-{c}", "message": text}
                elapsed, status, data = await _safe_post(session, rest_url, payload)
                out.append((elapsed, status == 200 and isinstance(data, list)))
            return out

        started = time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(*(conversation(c) for c in range(plan.conversations))),
            timeout=PHASE_TIMEOUT_S,
        )
        m.conc_wall_s = time.perf_counter() - started
        for conv in results:
            for elapsed, ok in conv:
                if ok:
                    m.conc_lat.append(elapsed)
                else:
                    m.conc_errors += 1
        _check_alive(rasa)
        m.rss_kib_end, _ = group_rss_kib(_pid(rasa))


def _pid(proc: Proc) -> int:
    assert proc.popen is not None
    return proc.popen.pid


def _check_alive(proc: Proc) -> None:
    if not proc.alive():
        raise BenchmarkError(f"{proc.name} exited during the benchmark")


# --------------------------------------------------------------------------------------------
# one config


def server_files(label: str, work: Path, env: dict[str, str]) -> dict[str, str]:
    """Endpoints and credentials for one side of the comparison.

    Ours runs with the repository's files (our tracker store, lock store and REST channel, and
    with them :mod:`bot.conversation.rasa_patches`). Stock runs as Rasa ships: its own ``SQL`` tracker store on
    a SQLite file, its in-process lock store and its ``rest`` channel, so none of our
    replacements leak into the baseline.
    """
    if label != "stock":
        return {}
    endpoints = work / "endpoints.stock.yml"
    endpoints.write_text(
        "action_endpoint:\n"
        f"  url: {env['ACTION_ENDPOINT_URL']}\n"
        "  headers:\n"
        "    X-Action-Server-Secret: ${ACTION_SERVER_SECRET}\n"
        "tracker_store:\n"
        "  type: SQL\n"
        "  dialect: sqlite\n"
        f"  db: {work / 'tracker.db'}\n",
        encoding="utf-8",
    )
    credentials = work / "credentials.stock.yml"
    credentials.write_text("rest:\n", encoding="utf-8")
    return {"endpoints": str(endpoints), "credentials": str(credentials)}


def bench_config(
    label: str, config: str, model_path: Path, plan: Plan, run_id: str, tmp: Path, procs: list[Proc]
) -> Measured:
    m = Measured(
        label=label,
        config=config,
        model=rel(model_path),
        model_mib=model_path.stat().st_size / 2**20,
    )
    work = tmp / label
    work.mkdir(parents=True, exist_ok=True)
    actions_port, rasa_port = free_ports(2)
    env = child_env(
        {
            "VAR_DIR": str(work),
            "TRACKER_STORE_URL": f"sqlite:///{work / 'tracker.db'}",
            "DATABASE_URL": f"sqlite:///{work / 'feedback.db'}",
            "LOCK_STORE_URL": "",
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{actions_port}/webhook",
            "RASA_URL": f"http://127.0.0.1:{rasa_port}",
        }
    )
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    actions_log, rasa_log = LOG_DIR / f"{label}-actions.log", LOG_DIR / f"{label}-rasa.log"
    for path in (actions_log, rasa_log):
        path.unlink(missing_ok=True)
    actions = action_server(actions_port, log=actions_log, env=env)
    files = server_files(label, work, env)
    rasa = rasa_server(model_path, rasa_port, log=rasa_log, env=env, **files)
    procs.extend([actions, rasa])

    print(f"[{label}] action server on :{actions_port} ...", flush=True)
    actions.start()
    try:
        wait_ready([actions], timeout=ACTIONS_READY_TIMEOUT_S)
    except (RuntimeError, TimeoutError) as error:
        raise BenchmarkError(f"action server: {error}\n{log_tail(actions_log)}") from error

    m.loadavg_before = [round(x, 2) for x in os.getloadavg()]
    print(f"[{label}] Rasa server on :{rasa_port} with {m.model} ...", flush=True)
    started = time.monotonic()
    rasa.start()
    try:
        wait_ready([rasa], timeout=plan.startup_timeout)
    except (RuntimeError, TimeoutError) as error:
        raise BenchmarkError(f"Rasa server: {error}\n{log_tail(rasa_log)}") from error
    m.startup_s = time.monotonic() - started
    print(f"[{label}] ready in {m.startup_s:.1f} s; measuring ...", flush=True)

    token_query = f"?token={env['RASA_TOKEN']}"
    try:
        asyncio.run(
            measure_http(m, f"http://127.0.0.1:{rasa_port}", token_query, plan, rasa, run_id)
        )
    except (BenchmarkError, asyncio.TimeoutError) as error:
        raise BenchmarkError(
            f"[{label}] {error or 'a phase timed out'}\n--- {rel(rasa_log)} ---\n"
            f"{log_tail(rasa_log)}\n--- {rel(actions_log)} ---\n{log_tail(actions_log, 15)}"
        ) from error
    finally:
        rasa.stop()
        actions.stop()
    print(
        f"[{label}] done: {len(m.parse_lat)} parse, {len(m.rest_lat)} REST, "
        f"{len(m.conc_lat)} concurrent requests",
        flush=True,
    )
    return m


# --------------------------------------------------------------------------------------------
# report


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1000.0


def rows_for(ms: dict[str, Measured], plan: Plan) -> list[dict[str, Any]]:
    def row(
        metric: str, unit: str, better: str, key: Any, note: str = "", ratio: bool = True
    ) -> dict[str, Any]:
        ours, stock = key(ms["ours"]), key(ms["stock"])
        r = ours / stock if ratio and ours is not None and stock else None
        return {
            "metric": metric,
            "unit": unit,
            "better": better,
            "ours": ours,
            "stock": stock,
            "ratio": r,
            "note": note,
        }

    def throughput(m: Measured) -> float | None:
        return len(m.conc_lat) / m.conc_wall_s if m.conc_wall_s > 0 else None

    conc = f"{plan.conversations} conversations x {plan.turns} messages"
    train_note = "; ".join(f"{k}: {v.training_source}" for k, v in ms.items())
    return [
        row("training time", "s", "lower", lambda m: m.training_s, train_note),
        row(
            "start-up to ready",
            "s",
            "lower",
            lambda m: m.startup_s,
            "Popen of rasa run -> /status answers",
        ),
        row(
            "RSS after warm-up",
            "MiB",
            "lower",
            lambda m: m.rss_kib_warm / 1024,
            "Rasa process group, VmRSS",
        ),
        row(
            "/model/parse p50",
            "ms",
            "lower",
            lambda m: _ms(percentile(m.parse_lat, 50)),
            f"sequential, n={len(ms['ours'].parse_lat)}",
        ),
        row("/model/parse p95", "ms", "lower", lambda m: _ms(percentile(m.parse_lat, 95))),
        row(
            "REST end-to-end p50",
            "ms",
            "lower",
            lambda m: _ms(percentile(m.rest_lat, 50)),
            f"sequential, new sender per message, n={len(ms['ours'].rest_lat)}",
        ),
        row("REST end-to-end p95", "ms", "lower", lambda m: _ms(percentile(m.rest_lat, 95))),
        row("concurrent throughput", "msg/s", "higher", throughput, conc),
        row("concurrent p95", "ms", "lower", lambda m: _ms(percentile(m.conc_lat, 95)), conc),
        # Context, not part of the comparison asked for.
        row("concurrent p50", "ms", "lower", lambda m: _ms(percentile(m.conc_lat, 50)), conc),
        row(
            "first /model/parse after ready",
            "ms",
            "lower",
            lambda m: _ms(m.first_parse_s),
            "one request: noisy",
        ),
        row("RSS after the benchmark", "MiB", "lower", lambda m: m.rss_kib_end / 1024),
        row("model file", "MiB", "lower", lambda m: m.model_mib),
        row(
            "errors (all phases)",
            "count",
            "lower",
            lambda m: m.parse_errors + m.rest_errors + m.conc_errors,
            ratio=False,
        ),
        row(
            "bench messages with the expected intent",
            "%",
            "higher",
            lambda m: 100.0 * m.intent_matches / m.intent_total if m.intent_total else None,
            "sanity check on ~60 messages, not an evaluation (./mttq evaluate)",
        ),
        row(
            "bench messages -> nlu_fallback",
            "%",
            "(info)",
            lambda m: 100.0 * m.fallbacks / m.intent_total if m.intent_total else None,
            ratio=False,
        ),
    ]


def _fmt(v: Any, unit: str) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, int) or unit == "count":
        return str(int(v))
    if unit in ("ms", "s", "%") and abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}" if unit in ("ms", "s", "%", "MiB") else f"{v:.2f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ["metric", "unit", "ours", "stock", "ours/stock", "better"]
    body = [
        [
            r["metric"],
            r["unit"],
            _fmt(r["ours"], r["unit"]),
            _fmt(r["stock"], r["unit"]),
            "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}",
            r["better"],
        ]
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [head, *body]) for i in range(len(head))]
    right = {2, 3, 4}

    def line(cells: list[str]) -> str:
        return " | ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        )

    print(line(head))
    print("-+-".join("-" * w for w in widths))
    for cells in body:
        print(line(cells))
    notes = [f"  {r['metric']}: {r['note']}" for r in rows if r["note"]]
    if notes:
        print("\nNotes:")
        print("\n".join(notes))


# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, Plan]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare_pipelines", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer requests (1 pass of each list, 10 conversations x 8)",
    )
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument(
        "--turns",
        type=int,
        default=None,
        help="messages per concurrent conversation (20; 8 with --quick)",
    )
    parser.add_argument("--startup-timeout", type=float, default=600.0)
    parser.add_argument(
        "--stock-epochs",
        type=int,
        default=None,
        help="train the stock pipeline with this many epochs instead of 100 (see the docstring)",
    )
    args = parser.parse_args(argv)
    if args.stock_epochs is not None and not 1 <= args.stock_epochs <= 100:
        parser.error("--stock-epochs must be between 1 and 100")
    turns = args.turns if args.turns is not None else (8 if args.quick else 20)
    plan = Plan(
        parse_passes=1 if args.quick else 3,
        rest_passes=1 if args.quick else 2,
        conversations=max(1, min(args.conversations, 100)),
        turns=max(1, min(turns, 200)),
        startup_timeout=max(10.0, min(args.startup_timeout, 1800.0)),
    )
    return args, plan


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, plan = parse_args(argv)
    os.chdir(ROOT)
    cmd = command_line(argv)
    print(f"Command: {cmd}", flush=True)
    run_id = time.strftime("%Y%m%d%H%M%S")
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    procs: list[Proc] = []

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    measured: dict[str, Measured] = {}
    try:
        # Train (or find) both models first, so no training overlaps a measurement.
        configs = {"ours": CONFIGS["ours"], "stock": stock_config(args.stock_epochs)}
        models: dict[str, tuple[Path, float | None, str]] = {}
        for label, config in configs.items():
            models[label] = get_model(label, config)
            if label == "stock" and args.stock_epochs is not None:
                path, seconds, source = models[label]
                models[label] = (path, seconds, f"{source}; {args.stock_epochs} epochs, not 100")
        for label, config in configs.items():
            path, seconds, source = models[label]
            m = bench_config(label, config, path, plan, run_id, tmp, procs)
            m.training_s, m.training_source = seconds, source
            measured[label] = m
    except BenchmarkError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 2
    finally:
        for proc in reversed(procs):
            proc.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    rows = rows_for(measured, plan)
    print()
    print_table(rows)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "compare_pipelines.json"
    report = {
        "command": cmd,
        "started_at": started_at,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "plan": plan.__dict__,
        "messages": len(MESSAGES),
        "ratio": "ours / stock",
        "rows": rows,
        "configs": {
            label: {
                "config": m.config,
                "model": m.model,
                "training_source": m.training_source,
                "loadavg_before_start": m.loadavg_before,
                "rss_processes": m.rss_processes,
                "rest_empty_replies": m.rest_empty,
                "errors": {
                    "parse": m.parse_errors,
                    "rest": m.rest_errors,
                    "concurrent": m.conc_errors,
                },
                "latencies_ms": {
                    "parse": [round(x * 1000, 2) for x in m.parse_lat],
                    "rest": [round(x * 1000, 2) for x in m.rest_lat],
                    "concurrent": [round(x * 1000, 2) for x in m.conc_lat],
                },
            }
            for label, m in measured.items()
        },
    }
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nWritten: {rel(out)}")
    print(f"Command: {cmd}")
    errors = sum(m.parse_errors + m.rest_errors + m.conc_errors for m in measured.values())
    if errors:
        print(f"warning: {errors} request(s) failed; see bench/results/logs/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
