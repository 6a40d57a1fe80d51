"""The digest at scale (issue 15 item 3): a unit with 100,000 cases, its page timed in the running
staff app.

Generates a district (``bench``) with ``--wards`` wards below it and ``--cases`` cases spread over
the last year across them (more in recent weeks, as a unit in service sees), with what the
digest reads: signatures from the same-issue reader (texts drawn from a pool of generated
complaints, each pool text read once), same-issue clusters, events (created, first response,
resolution, rating) and a due date. PostgreSQL is filled with ``COPY`` (SQLite with batched
inserts). The schema comes from the migrations, as in service (so the digest's indexes are there),
and the database is ``ANALYZE``d as autovacuum would.

Then it starts the staff app (``bot.web.app.create_app``) on that database with a units file
naming the district, signs an admin of the district in, and times ``GET /staff/digest`` (the
district, all its cases; and one ward) ``--repeat`` times each after one warm-up, plus the CSV
and the PDF export once each. Target: the district's page under 2 s on PostgreSQL.

    PYTHONPATH=. .venv/bin/python -m bench.digest --db postgresql://127.0.0.1:5432/test
    PYTHONPATH=. .venv/bin/python -m bench.digest                     # a temporary SQLite file

On PostgreSQL it works in a fresh schema that it drops afterwards (the database is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import io
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from bench.clusters import _postgres_url, generated
from bot.cases.clusters import signature
from bot.db.engine import make_engine, session_scope
from bot.db.migrate import upgrade_to_head
from bot.db.models import Case, CaseClusterKey, CaseEvent, StaffRole
from bot.settings import Settings

PASSWORD = "bench-mat-khau-123456"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
#: Share of cases that join a same-issue cluster of an earlier case with the same text.
CLUSTERED = 0.3
OPEN_STATUSES = ("new", "acknowledged", "in_progress")

_CASE_COLUMNS = (
    "id",
    "ref_code",
    "kind",
    "category",
    "content",
    "location_text",
    "unit_code",
    "channel",
    "channel_user_id",
    "conversation_id",
    "consent",
    "status",
    "sla_due_at",
    "anonymised",
    "legal_type",
    "rating",
    "cluster_id",
    "signature",
    "topic_terms",
    "first_response_at",
    "created_at",
    "updated_at",
)
_KEY_COLUMNS = ("case_id", "key", "unit_code")
_EVENT_COLUMNS = ("id", "case_id", "actor_kind", "actor_id", "action", "detail", "created_at")


def units_yaml(wards: int) -> str:
    lines = [
        "units:",
        "  - code: bench",
        "    name: Ủy ban MTTQ quận Thử Tải",
        "    short_name: quận Thử Tải",
        "    level: province",
        "    children:",
    ]
    for w in range(wards):
        lines += [
            f"      - code: bench_{w:02d}",
            f"        name: Ủy ban MTTQ phường Thử {w}",
            f"        short_name: phường Thử {w}",
            "        level: commune",
        ]
    return "\n".join(lines) + "\n"


def _created(rng: random.Random, now: datetime) -> datetime:
    """Over the last year, a third of it in the last 8 weeks (a unit in service is busier now
    than a year ago, and the digest reads the recent weeks)."""
    days = rng.uniform(0, 56) if rng.random() < 1 / 3 else rng.uniform(0, 365)
    return now - timedelta(days=days, seconds=rng.randint(0, 3600))


def generate(
    n: int, wards: int, now: datetime, seed: int = 15, pool_size: int = 4000
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(cases, cluster keys, events) as rows, ids given, oldest case first."""
    rng = random.Random(seed)
    pool = []
    for _ in range(pool_size):
        category, body = generated(rng)
        sig = signature(body, category)
        pool.append(
            (
                category,
                body,
                json.dumps(sig.to_json(), ensure_ascii=False),
                list(dict.fromkeys(k[:96] for k in sig.keys())),
                json.dumps(sig.topics(), ensure_ascii=False),
            )
        )
    stamps = sorted(_created(rng, now) for _ in range(n))
    cases: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    last_with_text: dict[tuple[str, int], int] = {}
    cluster_of: dict[int, int | None] = {}
    for i, created in enumerate(stamps, start=1):
        unit = f"bench_{rng.randrange(wards):02d}"
        t = rng.randrange(pool_size)
        category, body, sig_json, sig_keys, topics = pool[t]
        age = (now - created).days
        if age > 30:
            status = rng.choice(("resolved", "resolved", "closed", "rejected", "in_progress"))
        else:
            status = rng.choice(("new", "acknowledged", "in_progress", "in_progress", "resolved"))
        cluster = None
        earlier = last_with_text.get((unit, t))
        if earlier is not None and rng.random() < CLUSTERED:
            cluster = cluster_of.get(earlier) or earlier
            if cluster_of.get(earlier) is None:
                cluster_of[earlier] = earlier
                cases[earlier - 1]["cluster_id"] = earlier
        cluster_of[i] = cluster
        last_with_text[(unit, t)] = i
        rating = (
            rng.randint(1, 5) if status in ("resolved", "closed") and rng.random() < 0.2 else None
        )
        cases.append(
            {
                "id": i,
                "ref_code": f"KN-B{i:07d}",
                "kind": "petition",
                "category": category,
                "content": body,
                "location_text": None,
                "unit_code": unit,
                "channel": "facebook",
                "channel_user_id": f"psid-{i}",
                "conversation_id": f"conv-{i}",
                "consent": False,
                "status": status,
                "sla_due_at": created + timedelta(days=5),
                "anonymised": False,
                "legal_type": "to_cao" if rng.random() < 0.01 else "phan_anh",
                "rating": rating,
                "cluster_id": cluster,
                "signature": sig_json,
                "topic_terms": topics,
                "first_response_at": None,
                "created_at": created,
                "updated_at": created,
            }
        )
        keys += [{"case_id": i, "key": k, "unit_code": unit} for k in sig_keys]

        def event(
            action: str,
            at: datetime,
            detail: dict[str, Any],
            actor: str = "staff",
            case_id: int = i,
        ) -> None:
            if at <= now:
                events.append(
                    {
                        "id": len(events) + 1,
                        "case_id": case_id,
                        "actor_kind": actor,
                        "actor_id": "1" if actor == "staff" else f"psid-{case_id}",
                        "action": action,
                        "detail": json.dumps(detail),
                        "created_at": at,
                    }
                )

        event("created", created, {"ref_code": f"KN-B{i:07d}", "channel": "facebook"}, "citizen")
        if status != "new" or rng.random() < 0.3:
            first = created + timedelta(minutes=rng.randint(5, 3 * 24 * 60))
            if first <= now:
                cases[-1]["first_response_at"] = first
            event(
                "first_response",
                first,
                {"seconds": int((first - created).total_seconds()), "by": "status_changed"},
            )
            if status in ("resolved", "closed"):
                done = first + timedelta(hours=rng.randint(1, 20 * 24))
                event("status_changed", done, {"from": "in_progress", "to": status})
                if rating is not None:
                    event(
                        "rated",
                        done + timedelta(hours=rng.randint(1, 48)),
                        {"rating": rating, "previous": None},
                        "citizen",
                    )
    return cases, keys, events


def _copy(engine: Engine, table: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """PostgreSQL ``COPY … FROM STDIN`` in CSV (the fastest bulk path); SQLite: batched inserts."""
    if engine.dialect.name != "postgresql":
        model = {"cases": Case, "case_cluster_keys": CaseClusterKey, "case_events": CaseEvent}
        for start in range(0, len(rows), 5000):
            with engine.begin() as connection:
                connection.execute(insert(model[table].__table__), rows[start : start + 5000])
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(
            [
                "\\N"
                if row[c] is None
                else row[c].isoformat()
                if isinstance(row[c], datetime)
                else row[c]
                for c in columns
            ]
        )
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer
        )
        raw.commit()
    finally:
        raw.close()


def fill(url: str, units_file: Path, n: int, wards: int, now: datetime) -> dict[str, float]:
    """Migrate, sync the units, bulk-load the generated cases; returns the seconds each took."""
    from bot.knowledge.unit_sync import sync_units
    from bot.knowledge.units import load_units

    took: dict[str, float] = {}
    start = time.perf_counter()
    upgrade_to_head(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        sync_units(session, load_units(units_file))
    took["migrate"] = time.perf_counter() - start
    start = time.perf_counter()
    cases, keys, events = generate(n, wards, now)
    took["generate"] = time.perf_counter() - start
    start = time.perf_counter()
    if engine.dialect.name == "sqlite":
        for row in cases:
            row["signature"] = json.loads(row["signature"])
            row["topic_terms"] = json.loads(row["topic_terms"])
        for row in events:
            row["detail"] = json.loads(row["detail"])
    _copy(engine, "cases", _CASE_COLUMNS, cases)
    _copy(engine, "case_cluster_keys", _KEY_COLUMNS, keys)
    _copy(engine, "case_events", _EVENT_COLUMNS, events)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in ("cases", "case_events"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    with engine.connect() as connection:  # what autovacuum does in service
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
        )
    took["load"] = time.perf_counter() - start
    took["events"] = len(events)
    engine.dispose()
    return took


async def time_pages(settings: Settings, repeat: int, ward: str) -> dict[str, list[float]]:
    from aiohttp.test_utils import TestClient, TestServer

    from bot.staff import accounts
    from bot.web.app import create_app

    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        accounts.create_staff(
            session, login="bench", unit_code="bench", role=StaffRole.UNIT_ADMIN, password=PASSWORD
        )
    engine.dispose()
    client = TestClient(server)
    await client.start_server()
    timings: dict[str, list[float]] = {}
    try:
        page = await client.get("/staff/login")
        token = CSRF_RE.search(await page.text())
        assert token is not None
        login = await client.post(
            "/staff/login",
            data={"csrf_token": token.group(1), "login": "bench", "password": PASSWORD},
            allow_redirects=False,
        )
        assert login.status == 303, await login.text()

        async def timed(name: str, path: str, times: int) -> None:
            for i in range(times + 1):
                start = time.perf_counter()
                response = await client.get(path)
                body = await response.read()
                elapsed = time.perf_counter() - start
                assert response.status == 200, body[:300]
                if i:  # the first is a warm-up
                    timings.setdefault(name, []).append(elapsed)

        await timed("district page", "/staff/digest?unit=bench", repeat)
        await timed("ward page", f"/staff/digest?unit={ward}", repeat)
        await timed("district CSV", "/staff/digest.csv?unit=bench", 1)
        await timed("district PDF", "/staff/digest.pdf?unit=bench", 1)
        await timed("district page, 28 days", "/staff/digest?unit=bench&days=28", repeat)
    finally:
        await client.close()
        await server.close()
    return timings


@contextmanager
def _database(url: str | None) -> Iterator[str]:
    if url and url.startswith("postgresql"):
        with _postgres_url(url) as scoped:
            yield scoped
        return
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite)")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--wards", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as tmp, _database(args.db) as url:
        units_file = Path(tmp) / "units.yml"
        units_file.write_text(units_yaml(args.wards), encoding="utf-8")
        took = fill(url, units_file, args.cases, args.wards, now)
        kind = url.split(":")[0].split("+")[0]
        print(
            f"{args.cases} cases in {args.wards} wards ({kind}), {int(took['events'])} events:"
            f" generated in {took['generate']:.1f} s, loaded in {took['load']:.1f} s"
        )
        settings = dataclasses.replace(
            Settings(),
            database_url=url,
            units_file=units_file,
            var_dir=Path(tmp),
            rasa_url="http://127.0.0.1:9",
            web_role="staff",
        )
        timings = asyncio.run(time_pages(settings, args.repeat, "bench_00"))
    for name, values in timings.items():
        line = (
            f"  {name}: median {statistics.median(values):.3f} s, max {max(values):.3f} s"
            f" ({len(values)} after a warm-up)"
        )
        if name == "district page":
            line += " (target < 2 s)"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
