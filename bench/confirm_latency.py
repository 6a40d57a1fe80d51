"""Latency of the petition confirm turn (the one that writes the case) against a plain turn.

Starts the action server and Rasa once with our model, on a fresh feedback DB (SQLite by default,
``--database-url`` for PostgreSQL), then for N conversations walks the intake form up to the
summary and times the final "Gửi" (``/affirm``): that turn runs the form, the submit action and
the transaction that writes case + event + outbox row. The same conversations also time a
greeting turn, so the cost of saving is reported as a ratio measured in the same run.

    PYTHONPATH=. .venv/bin/python -m bench.confirm_latency [--conversations 40]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from bench.stats import pct
from bot.settings import ROOT
from tools import model
from tools.env import scratch_stack_env
from tools.procs import action_server, free_ports, rasa_server, wait_ready

RESULTS = ROOT / "bench" / "results"
FORM = [
    "toi muon gui kien nghi",
    "Đèn chiếu sáng ngõ 12 hỏng cả tuần nay, buổi tối rất tối và nguy hiểm",
    "phường Láng",
    '/inform{"category":"trat_tu_do_thi"}',
    "/deny",
]


def _post(port: int, sender: str, message: str) -> tuple[float, list[dict]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": message}).encode(),
        headers={"Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    return (time.perf_counter() - started) * 1000, body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args(argv)
    if not 1 <= args.conversations <= 500:
        parser.error("--conversations must be between 1 and 500")

    trained = model.train(quiet=True).path
    tmp = Path(tempfile.mkdtemp(prefix="bench-confirm-"))
    rasa_port, action_port = free_ports(2)
    env = scratch_stack_env(
        tmp, action_port, {"DATABASE_URL": args.database_url} if args.database_url else None
    )
    actions = action_server(action_port, log=tmp / "actions.log", env=env)
    rasa = rasa_server(trained, rasa_port, log=tmp / "rasa.log", env=env)
    confirm_ms: list[float] = []
    greet_ms: list[float] = []
    saved = 0
    try:
        actions.start()
        rasa.start()
        wait_ready([actions, rasa], timeout=300)
        for _ in range(3):  # warm-up: first DB connection, migrations, caches
            sender = f"warm-{uuid.uuid4()}"
            for message in FORM + ["/affirm"]:
                _post(rasa_port, sender, message)
        for _ in range(args.conversations):
            sender = f"bench-{uuid.uuid4()}"
            greet_ms.append(_post(rasa_port, sender, "xin chào")[0])
            for message in FORM:
                _post(rasa_port, sender, message)
            elapsed, body = _post(rasa_port, sender, "/affirm")
            confirm_ms.append(elapsed)
            saved += any("mã hồ sơ KN-" in (m.get("text") or "") for m in body)
    finally:
        rasa.stop()
        actions.stop()

    result = {
        "command": "PYTHONPATH=. .venv/bin/python -m bench.confirm_latency "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "database": "postgresql" if args.database_url.startswith("postgres") else "sqlite",
        "conversations": args.conversations,
        "cases_confirmed": saved,
        "confirm_p50_ms": round(statistics.median(confirm_ms), 1),
        "confirm_p95_ms": round(pct(confirm_ms, 0.95), 1),
        "greet_p50_ms": round(statistics.median(greet_ms), 1),
        "greet_p95_ms": round(pct(greet_ms, 0.95), 1),
    }
    result["confirm_over_greet_p50"] = round(result["confirm_p50_ms"] / result["greet_p50_ms"], 2)
    print(f"$ {result['command']}")
    print(f"database: {result['database']}; {saved}/{args.conversations} cases confirmed")
    print(f"{'turn':<22}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'confirm (saves case)':<22}{result['confirm_p50_ms']:>10}{result['confirm_p95_ms']:>10}")
    print(f"{'greeting':<22}{result['greet_p50_ms']:>10}{result['greet_p95_ms']:>10}")
    print(f"confirm / greeting (p50): {result['confirm_over_greet_p50']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "confirm_latency.json").write_text(json.dumps(result, indent=2))
    return 0 if saved == args.conversations else 1


if __name__ == "__main__":
    raise SystemExit(main())
