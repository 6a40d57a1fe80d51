"""An announcement to N subscribers over the fake Graph and Zalo APIs, with a worker killed
mid-send (issue 16, "Done when").

    python -m bench.announce --subscribers 10000 [--workers 2] [--concurrency 6]
        [--facebook-rate R] [--zalo-rate R] [--zalo-quota N] [--database-url URL]

It builds a fresh database (a new PostgreSQL schema, dropped afterwards; or ``--database-url``),
the sample unit tree, two unit_admins of one ward, and N subscriptions across the wards below
Hà Nội: about half Messenger, half Zalo, a few on the chat page. Among them, as in life: Messenger
users who last wrote more than 24 h ago (the fake would refuse them as outside the window too),
people who blocked the page or unfollowed the OA (the fakes answer the documented errors), people
who withdrew before the approval and some who withdraw *while* it is being sent. One admin writes
the announcement, the other approves it; ``--workers`` processes of ``python -m
bot.notify.announcements`` deliver it; once a third of the messages are out the first worker is
killed with SIGKILL and started again.

It prints the time to deliver and checks, from what the fakes received:

* the busiest second per platform never exceeds the configured rate;
* nobody received it twice (no duplicate after the kill) and everyone recorded as sent received it
  exactly once (nothing lost), and nobody not recorded as sent received it — except a recipient
  whose request was in flight when the worker died: that one is recorded failed ("interrupted")
  and not sent again, and the printout counts them;
* nobody who withdrew received it after withdrawing, nobody who withdrew before was even tried;
* nothing was tried outside the platform's rules (no call to anyone outside the window, on the
  chat page, or who had unfollowed).

Exit status 1 when a check fails. The rates and the Zalo monthly quota default to
``content/platform_rules.yml``; overriding them writes a copy of the rules file for the workers
(``ANNOUNCE_RULES_FILE``) and the printout says so.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Engine

from bot.announcements import service
from bot.announcements.delivery import INTERRUPTED_REASON
from bot.announcements.report import report
from bot.announcements.rules import load_rules, rules_file
from bot.db.engine import make_engine, session_scope
from bot.db.migrate import upgrade_to_head
from bot.db.models import (
    Announcement,
    AnnouncementRecipient,
    ChannelUser,
    RecipientStatus,
    Staff,
    StaffRole,
    Subscription,
)
from bot.db.types import utcnow
from bot.fakes.platforms import FakesProcess
from bot.knowledge.unit_sync import sync_units
from bot.knowledge.units import load_units

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TOPIC = "cuu_tro"


def _database(url: str | None) -> tuple[str, Any]:
    """(URL, cleanup) — a fresh PostgreSQL schema unless a URL is given."""
    if url:
        return url, lambda: None
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, future=True)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    bench_url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return bench_url.render_as_string(hide_password=False), drop


def _population(engine: Engine, n: int, rng: random.Random) -> dict[str, set[tuple[str, str]]]:
    """N subscriptions and their platform accounts; returns who is what, by (channel, id)."""
    tree = load_units(ROOT / "content" / "units.sample.yml")
    with session_scope(engine) as session:
        sync_units(session, tree)
    wards = [u.code for u in tree if u.level == "commune"]
    now = utcnow()
    kinds: dict[str, set[tuple[str, str]]] = {
        k: set()
        for k in (
            "outside_window",
            "fb_blocked",
            "zalo_unfollowed",
            "zalo_blocked",
            "web",
            "withdrawn_before",
            "other_topic",
        )
    }
    subs, users = [], []
    for i in range(n):
        roll = rng.random()
        channel = "web" if roll < 0.02 else ("facebook" if roll < 0.51 else "zalo")
        sender = f"{channel[:2]}-{i:06d}"
        key = (channel, sender)
        last = now - timedelta(hours=rng.uniform(0.1, 20))
        unfollowed = None
        r = rng.random()
        if channel == "facebook" and r < 0.15:
            last = now - timedelta(days=rng.uniform(2, 30))
            kinds["outside_window"].add(key)
        elif channel == "facebook" and r < 0.17:
            kinds["fb_blocked"].add(key)
        elif channel == "zalo" and r < 0.03:
            unfollowed = now - timedelta(minutes=5)
            kinds["zalo_unfollowed"].add(key)
        elif channel == "zalo" and r < 0.05:
            kinds["zalo_blocked"].add(key)
        if channel == "web":
            kinds["web"].add(key)
        topics = [TOPIC, "su_kien"]
        if rng.random() < 0.05:
            topics = ["bau_cu"]
            kinds["other_topic"].add(key)
        withdrawn = None
        if rng.random() < 0.03:
            withdrawn = now - timedelta(hours=1)
            kinds["withdrawn_before"].add(key)
        subs.append(
            {
                "channel": channel,
                "sender_id": sender,
                "unit_code": rng.choice(wards),
                "topics": topics,
                "consented_at": now - timedelta(days=3),
                "withdrawn_at": withdrawn,
                "updated_at": now,
            }
        )
        if channel != "web":
            users.append(
                {
                    "channel": channel,
                    "user_id": sender,
                    "last_inbound_at": last,
                    "unfollowed_at": unfollowed,
                    "updated_at": now,
                }
            )
    with session_scope(engine) as session:
        session.execute(insert(Subscription), subs)
        session.execute(insert(ChannelUser), users)
    return kinds


def _announce(engine: Engine) -> int:
    from bot.staff import accounts

    now = utcnow()
    with session_scope(engine) as session:
        a = accounts.create_staff(
            session,
            login="bench_a",
            unit_code="hn",
            role=StaffRole.UNIT_ADMIN,
            password="bench-password-1",
        )
        b = accounts.create_staff(
            session,
            login="bench_b",
            unit_code="hn",
            role=StaffRole.UNIT_ADMIN,
            password="bench-password-2",
        )
        session.flush()
        announcement = service.create(
            session,
            a,
            text="Ủy ban MTTQ kêu gọi ủng hộ đồng bào vùng lũ (bench).",
            topic=TOPIC,
            target_units=["hn"],
            allowed_units={"hn"},
            submit_now=True,
            now=now,
        )
        service.approve(session, announcement, session.get(Staff, b.id), now=utcnow())
        return int(announcement.id)


def _worker(env: dict[str, str], log: Path, concurrency: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.notify.announcements",
            "--concurrency",
            str(concurrency),
            "--lease-seconds",
            "15",
            "--backoff-seconds",
            "1",
            "--poll",
            "0.5",
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _count(engine: Engine, announcement_id: int, *statuses: RecipientStatus) -> int:
    with session_scope(engine, read_only=True) as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(AnnouncementRecipient)
                .where(
                    AnnouncementRecipient.announcement_id == announcement_id,
                    AnnouncementRecipient.status.in_([s.value for s in statuses]),
                )
            ).scalar_one()
        )


def _withdraw_some(engine: Engine, announcement_id: int, n: int) -> dict[tuple[str, str], float]:
    """Withdraw ``n`` subscribers whose message has not gone yet; {(channel, id): when}."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(AnnouncementRecipient.channel, AnnouncementRecipient.sender_id)
            .where(
                AnnouncementRecipient.announcement_id == announcement_id,
                AnnouncementRecipient.status == RecipientStatus.PENDING,
                AnnouncementRecipient.channel != "web",
            )
            .order_by(AnnouncementRecipient.id.desc())
            .limit(n)
        ).all()
        when = time.time()
        for channel, sender in rows:
            session.execute(
                update(Subscription)
                .where(Subscription.channel == channel, Subscription.sender_id == sender)
                .values(withdrawn_at=utcnow(), topics=[])
            )
    return {(c, s): when for c, s in rows}


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    url, cleanup = _database(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-announce-"))
    fakes: FakesProcess | None = None
    workers: list[subprocess.Popen[bytes]] = []
    try:
        upgrade_to_head(url)
        engine = make_engine(url)
        kinds = _population(engine, args.subscribers, rng)
        rules_path = rules_file()
        raw = yaml.safe_load(rules_path.read_text(encoding="utf-8"))
        overridden = []
        for channel, value in (("facebook", args.facebook_rate), ("zalo", args.zalo_rate)):
            if value is not None:
                raw[channel]["rate_per_second"] = value
                overridden.append(f"{channel} rate {value}/s")
        if args.zalo_quota is not None:
            raw["zalo"]["monthly_quota"] = args.zalo_quota
            overridden.append(f"zalo monthly quota {args.zalo_quota}")
        if overridden:
            rules_path = workdir / "platform_rules.yml"
            rules_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        rules = load_rules(rules_path)
        fakes = FakesProcess(
            graph={
                "blocked": {s for _, s in kinds["fb_blocked"]},
                "window_closed": {s for _, s in kinds["outside_window"]},
            },
            zalo={"blocked": {s for _, s in kinds["zalo_blocked"]}},
        ).start()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "VAR_DIR": str(workdir),
            "ANNOUNCE_RULES_FILE": str(rules_path),
            "FACEBOOK_GRAPH_BASE": fakes.urls["graph"],
            "FACEBOOK_PAGE_ACCESS_TOKEN": "PAGE-TOKEN",
            "ZALO_API_BASE": fakes.urls["zalo"],
            "ZALO_ACCESS_TOKEN": fakes.urls["zalo_access_token"],
        }
        log = workdir / "workers.log"
        announcement_id = _announce(engine)
        started = time.monotonic()
        workers = [_worker(env, log, args.concurrency) for _ in range(args.workers)]
        killed = False
        withdrawn: dict[tuple[str, str], float] = {}
        deadline = started + args.timeout
        while time.monotonic() < deadline:
            time.sleep(0.5)
            with session_scope(engine, read_only=True) as session:
                status = session.get(Announcement, announcement_id).status
                total = session.execute(
                    select(func.count())
                    .select_from(AnnouncementRecipient)
                    .where(AnnouncementRecipient.announcement_id == announcement_id)
                ).scalar_one()
            if status == "sent":
                break
            sent = _count(engine, announcement_id, RecipientStatus.SENT)
            if not withdrawn and total and sent >= total * 0.2:
                withdrawn = _withdraw_some(engine, announcement_id, args.withdraw)
            if not killed and total and sent >= total * 0.33:
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()
                print(
                    f"killed worker 1 (SIGKILL) after {sent} of {total} recipients were sent; "
                    "restarting it",
                    flush=True,
                )
                workers[0] = _worker(env, log, args.concurrency)
                killed = True
        elapsed = time.monotonic() - started
        calls = fakes.calls()
        with session_scope(engine, read_only=True) as session:
            result = report(session, announcement_id)
            rows = session.execute(
                select(
                    AnnouncementRecipient.channel + ":" + AnnouncementRecipient.sender_id,
                    AnnouncementRecipient.status,
                    AnnouncementRecipient.reason,
                ).where(AnnouncementRecipient.announcement_id == announcement_id)
            ).all()
            final = {key: value for key, value, _ in rows}
            interrupted = {key for key, _, reason in rows if reason == INTERRUPTED_REASON}
            status = session.get(Announcement, announcement_id).status
        return _check(
            args,
            rules,
            calls,
            final,
            interrupted,
            kinds,
            withdrawn,
            result,
            status,
            elapsed,
            killed,
            overridden,
        )
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
        if fakes is not None:
            fakes.stop()
        cleanup()


def _check(
    args: argparse.Namespace,
    rules: Any,
    calls: dict[str, Any],
    final: dict[str, str],
    interrupted: set[str],
    kinds: dict[str, set[tuple[str, str]]],
    withdrawn: dict[tuple[str, str], float],
    result: Any,
    status: str,
    elapsed: float,
    killed: bool,
    overridden: list[str],
) -> int:
    failures: list[str] = []
    accepted: dict[str, int] = {}
    tried: set[str] = set()
    late: list[str] = []
    for channel in ("facebook", "zalo"):
        for user, at, ok, _code in calls[channel]["calls"]:
            key = f"{channel}:{user}"
            tried.add(key)
            if ok:
                accepted[key] = accepted.get(key, 0) + 1
                if (channel, user) in withdrawn and at > withdrawn[(channel, user)]:
                    late.append(key)
        rate = rules[channel].rate_per_second
        busiest = calls[channel]["max_per_second"]
        print(
            f"{channel}: {len(calls[channel]['calls'])} requests, busiest second {busiest} "
            f"(configured {rate:g}/s)"
        )
        if busiest > rate:
            failures.append(f"{channel}: {busiest} requests in one second > {rate:g}")
    for channel in ("facebook", "zalo"):
        got = sum(1 for key in accepted if key.startswith(channel + ":"))
        quota = rules[channel].monthly_quota
        print(
            f"{channel}: {got} subscribers received it"
            + (f" (monthly quota {quota})" if quota is not None else "")
        )
        if quota is not None and got > quota:
            failures.append(f"{channel}: {got} messages over the monthly quota of {quota}")
    duplicates = sorted(k for k, n in accepted.items() if n > 1)
    lost = sorted(k for k, s in final.items() if s == "sent" and accepted.get(k, 0) != 1)
    unrecorded = sorted(k for k in accepted if final.get(k) != "sent" and k not in interrupted)
    print(
        f"interrupted by the kill (failed, not resent): {len(interrupted)}, of which the "
        f"platform had received {len(interrupted & set(accepted))}"
    )
    outside = {
        f"{c}:{s}" for c, s in kinds["outside_window"] | kinds["web"] | kinds["zalo_unfollowed"]
    }
    never = {f"{c}:{s}" for c, s in kinds["withdrawn_before"] | kinds["other_topic"]}
    for name, found in (
        ("received it twice", duplicates),
        ("recorded sent, not received", lost),
        ("received, not recorded sent", unrecorded),
        ("received after withdrawing", late),
        ("tried outside the platform's rules", sorted(outside & tried)),
        ("tried though not targeted", sorted(never & tried)),
    ):
        print(f"{name}: {len(found)}")
        if found:
            failures.append(f"{len(found)} {name}, e.g. {found[:3]}")
    print(
        f"announcement status: {status}; targeted {result.targeted}, sent {result.sent}, "
        f"not allowed {result.not_allowed}, blocked {result.blocked}, failed {result.failed}, "
        f"unsubscribed afterwards {result.unsubscribed}, pending {result.pending}"
    )
    print(f"withdrew during sending: {len(withdrawn)}; worker killed and restarted: {killed}")
    if overridden:
        print("rules overridden for this run: " + ", ".join(overridden))
    print(
        f"time to deliver: {elapsed:.1f} s for {args.subscribers} subscribers "
        f"({args.workers} workers × {args.concurrency} loops)"
    )
    if status != "sent":
        failures.append(f"the announcement is {status}, not sent, after {args.timeout} s")
    if not killed:
        failures.append("the worker was never killed (finished too fast?)")
    for failure in failures:
        print("FAIL:", failure)
    print("all checks passed" if not failures else f"{len(failures)} checks failed")
    return 0 if not failures else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--facebook-rate", type=float, default=None)
    parser.add_argument("--zalo-rate", type=float, default=None)
    parser.add_argument("--zalo-quota", type=int, default=None)
    parser.add_argument("--withdraw", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
