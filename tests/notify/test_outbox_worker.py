"""The outbox worker on SQLite and PostgreSQL: retries with backoff, exactly-once marking with two
workers, leases after a crash, waiting without a token, giving up, the overdue scan."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cases.casework import change_status, reply_to_citizen
from bot.cases.service import Actor
from bot.db.engine import make_engine, session_scope
from bot.db.models import CaseStatus, Outbox, OutboxStatus, OverdueNotice, TelegramMessage, Unit
from bot.delivery.senders import DeliveryResult, OutboxKind, OutboxRow, senders_for
from bot.fakes.telegram import FakeTelegram
from bot.knowledge.units import UnitTree
from bot.notify.outbox import (
    SessionFactory,
    WorkerOptions,
    backoff_delay,
    claim_next,
    deliver_due,
    record_result,
    requeue,
    run_worker,
    session_factory,
)
from bot.notify.scans import scan_overdue
from bot.notify.telegram import TelegramService, make_bot
from bot.notify.web import SECRET_HEADER, outbox_worker_context, telegram_routes
from bot.settings import NotifyConfig
from tests.notify.conftest import (
    LANG_CHAT,
    OPTIONS,
    FakeCitizenSender,
    add_staff,
    link_chat,
    new_case,
    outbox_rows,
    start_service,
)

UTC = timezone.utc
#: Monday 23 November 2026, 09:00 in Hà Nội.
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
STAFF = frozenset({OutboxKind.STAFF_NOTIFY})


def only_row(engine: Engine, kind: str = OutboxKind.STAFF_NOTIFY) -> Outbox:
    [row] = outbox_rows(engine, kind)
    return row


def citizen_reply(
    engine: Engine,
    case_id: int,
    text: str = "Cảm ơn bạn đã phản ánh.",
    now: datetime | None = NOW,
) -> int:
    """A staff reply queued through casework (``now=None``: the real clock)."""
    staff_id = add_staff(engine, f"cb_{case_id}", "p_lang")
    with session_scope(engine) as session:
        return reply_to_citizen(session, case_id, text, actor=Actor.staff(staff_id), now=now)


# --------------------------------------------------------------------------- backoff


@pytest.mark.parametrize(
    ("attempt", "seconds"),
    [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 960), (7, 1920), (8, 3600), (40, 3600)],
)
def test_backoff_doubles_up_to_the_cap(attempt: int, seconds: int) -> None:
    assert backoff_delay(attempt, WorkerOptions(jitter=0)) == timedelta(seconds=seconds)


def test_backoff_jitter_only_adds_up_to_its_fraction() -> None:
    options = WorkerOptions(jitter=0.1)
    assert backoff_delay(1, options, rng=lambda: 0.0) == timedelta(seconds=30)
    assert backoff_delay(1, options, rng=lambda: 1.0) == timedelta(seconds=33)


# --------------------------------------------------------------------------- Telegram retries


async def test_failing_send_is_retried_with_backoff_then_sent_once(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, factory: SessionFactory
) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    new_case(engine, now=NOW)
    senders = senders_for(service)
    fake_tg.fail_next("sendMessage", status=500, description="Internal Server Error", times=2)

    assert await deliver_due(factory, senders, now=NOW, options=OPTIONS) == 0
    row = only_row(engine)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.next_attempt_at == NOW + timedelta(seconds=30)
    assert "Internal Server Error" in row.last_error

    # not due yet: nothing is tried
    assert (
        await deliver_due(factory, senders, now=NOW + timedelta(seconds=29), options=OPTIONS) == 0
    )
    assert len(fake_tg.calls_of("sendMessage")) == 1

    later = NOW + timedelta(seconds=30)
    assert await deliver_due(factory, senders, now=later, options=OPTIONS) == 0
    row = only_row(engine)
    assert row.attempts == 2 and row.next_attempt_at == later + timedelta(seconds=60)

    last = later + timedelta(seconds=60)
    assert await deliver_due(factory, senders, now=last, options=OPTIONS) == 1
    row = only_row(engine)
    assert (row.status, row.attempts, row.last_error, row.sent_at) == (
        OutboxStatus.SENT,
        3,
        None,
        last,
    )
    assert await deliver_due(factory, senders, now=last + timedelta(days=1), options=OPTIONS) == 0
    assert len(fake_tg.calls_of("sendMessage")) == 3


async def test_flood_control_waits_as_long_as_telegram_says(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, factory: SessionFactory
) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    new_case(engine, now=NOW)
    fake_tg.fail_next(
        "sendMessage",
        status=429,
        description="Too Many Requests: retry after 17",
        parameters={"retry_after": 17},
    )
    assert await deliver_due(factory, senders_for(service), now=NOW, options=OPTIONS) == 0
    row = only_row(engine)
    assert row.next_attempt_at == NOW + timedelta(seconds=17)
    assert "Flood control" in row.last_error


async def test_group_upgraded_to_supergroup_is_followed(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, factory: SessionFactory
) -> None:
    link_chat(engine, "p_lang", -4000001)
    new_case(engine, now=NOW)
    fake_tg.fail_next(
        "sendMessage",
        status=400,
        description="Bad Request: group chat was upgraded to a supergroup chat",
        parameters={"migrate_to_chat_id": LANG_CHAT},
    )
    assert await deliver_due(factory, senders_for(service), now=NOW, options=OPTIONS) == 1
    with session_scope(engine, read_only=True) as session:
        assert session.get(Unit, "p_lang").telegram_chat_id == LANG_CHAT
    assert [c.params["chat_id"] for c in fake_tg.calls_of("sendMessage")] == [-4000001, LANG_CHAT]


async def test_a_request_telegram_refuses_fails_with_the_reason(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, factory: SessionFactory
) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    new_case(engine, now=NOW)
    fake_tg.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    assert await deliver_due(factory, senders_for(service), now=NOW, options=OPTIONS) == 0
    row = only_row(engine)
    assert row.status == OutboxStatus.FAILED
    assert row.last_error == "Telegram refused the message: Chat not found"
    # the console can send it again
    with session_scope(engine) as session:
        assert requeue(session, row.id, now=NOW)
    assert await deliver_due(factory, senders_for(service), now=NOW, options=OPTIONS) == 1


async def test_no_linked_group_anywhere_waits_without_using_up_attempts(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, factory: SessionFactory
) -> None:
    new_case(engine, now=NOW)
    for i in range(OPTIONS.max_attempts + 2):
        await deliver_due(
            factory, senders_for(service), now=NOW + timedelta(hours=i), options=OPTIONS
        )
    row = only_row(engine)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
    assert "/lienket" in row.last_error
    assert fake_tg.calls_of("sendMessage") == []

    link_chat(engine, "p_lang", LANG_CHAT)
    assert (
        await deliver_due(
            factory, senders_for(service), now=NOW + timedelta(days=1), options=OPTIONS
        )
        == 1
    )


# --------------------------------------------------------------------------- citizen side


async def test_citizen_rows_go_to_the_citizen_sender(
    engine: Engine, factory: SessionFactory
) -> None:
    case_id = new_case(engine, now=NOW)
    outbox_id = citizen_reply(engine, case_id, "Phường đã cử người kiểm tra.")
    citizen = FakeCitizenSender()
    assert await deliver_due(factory, senders_for(None, citizen), now=NOW, options=OPTIONS) == 1
    [row] = citizen.sent
    assert (row.id, row.kind, row.case_id, row.attempts) == (outbox_id, "citizen_reply", case_id, 1)
    assert row.payload["text"] == "Phường đã cử người kiểm tra."
    assert row.target.startswith("facebook:")
    # the staff notification of the same case has no sender here: it waits, untouched
    staff = only_row(engine)
    assert (staff.status, staff.attempts, staff.last_error) == (OutboxStatus.PENDING, 0, None)


async def test_platform_refusal_is_undeliverable_with_the_reason(
    engine: Engine, factory: SessionFactory
) -> None:
    case_id = new_case(engine, now=NOW)
    citizen_reply(engine, case_id)
    citizen = FakeCitizenSender(
        results=[DeliveryResult.refused("Zalo -213: người dùng ngoài khung 7 ngày")]
    )
    assert await deliver_due(factory, senders_for(None, citizen), now=NOW, options=OPTIONS) == 0
    row = only_row(engine, OutboxKind.CITIZEN_REPLY)
    assert row.status == OutboxStatus.UNDELIVERABLE
    assert row.last_error == "Zalo -213: người dùng ngoài khung 7 ngày"


async def test_gives_up_after_max_attempts(engine: Engine, factory: SessionFactory) -> None:
    case_id = new_case(engine, now=NOW)
    citizen_reply(engine, case_id)
    citizen = FakeCitizenSender(results=[DeliveryResult.retry("HTTP 502")] * 10)
    for hour in range(8):
        await deliver_due(
            factory, senders_for(None, citizen), now=NOW + timedelta(hours=hour), options=OPTIONS
        )
    assert citizen.calls == OPTIONS.max_attempts == 4
    row = only_row(engine, OutboxKind.CITIZEN_REPLY)
    assert row.status == OutboxStatus.FAILED
    assert row.last_error == "gave up after 4 attempts: HTTP 502"


async def test_a_sender_that_raises_is_retried(engine: Engine, factory: SessionFactory) -> None:
    case_id = new_case(engine, now=NOW)
    citizen_reply(engine, case_id)

    class Broken:
        async def send(self, row: OutboxRow) -> DeliveryResult:
            raise RuntimeError("boom")

    assert await deliver_due(factory, senders_for(None, Broken()), now=NOW, options=OPTIONS) == 0
    row = only_row(engine, OutboxKind.CITIZEN_REPLY)
    assert (row.status, row.attempts, row.last_error) == (
        OutboxStatus.PENDING,
        1,
        "RuntimeError: boom",
    )


# --------------------------------------------------------------------------- exactly once


async def test_two_workers_deliver_every_row_exactly_once(
    db_url: str,
    engine: Engine,
    config: NotifyConfig,
    tree: UnitTree,
    fake_tg: FakeTelegram,
) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    case_ids = [new_case(engine, now=NOW, content=f"Phản ánh số {i}") for i in range(12)]
    fake_tg.latency = 0.02  # each send takes a while, so the workers interleave
    second_engine = make_engine(db_url)  # a second process, as far as the database can tell
    first = await start_service(engine, config, tree)
    second = await start_service(second_engine, config, tree)
    try:
        sent = await asyncio.gather(
            deliver_due(session_factory(engine), senders_for(first), now=NOW, options=OPTIONS),
            deliver_due(
                session_factory(second_engine), senders_for(second), now=NOW, options=OPTIONS
            ),
        )
    finally:
        await first.stop()
        await second.stop()
        second_engine.dispose()

    assert sum(sent) == 12
    assert all(n > 0 for n in sent), f"both workers should have taken rows: {sent}"
    texts = [c.params["text"] for c in fake_tg.calls_of("sendMessage")]
    assert len(texts) == 12
    for i in range(12):
        assert sum(f"Phản ánh số {i}\n" in t for t in texts) == 1
    rows = outbox_rows(engine, OutboxKind.STAFF_NOTIFY)
    assert {(r.status, r.attempts) for r in rows} == {(OutboxStatus.SENT, 1)}
    with session_scope(engine, read_only=True) as session:
        mapped = sorted(session.execute(select(TelegramMessage.case_id)).scalars())
    assert mapped == sorted(case_ids)


async def test_a_claim_abandoned_by_a_dead_worker_is_delivered_once_after_the_lease(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, factory: SessionFactory
) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    new_case(engine, now=NOW)
    dead = claim_next(factory, STAFF, now=NOW, lease=OPTIONS.lease)  # ... and then it dies
    assert dead is not None and dead.attempts == 1
    assert claim_next(factory, STAFF, now=NOW, lease=OPTIONS.lease) is None  # leased

    senders = senders_for(service)
    assert await deliver_due(factory, senders, now=NOW + timedelta(minutes=1), options=OPTIONS) == 0
    assert fake_tg.calls_of("sendMessage") == []

    after_lease = NOW + OPTIONS.lease + timedelta(seconds=1)
    assert await deliver_due(factory, senders, now=after_lease, options=OPTIONS) == 1
    assert await deliver_due(factory, senders, now=after_lease + timedelta(hours=1)) == 0
    assert len(fake_tg.calls_of("sendMessage")) == 1
    row = only_row(engine)
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.SENT, 2, after_lease)

    # the "dead" worker wakes up and reports: its claim is stale and changes nothing
    state = record_result(
        factory, dead, DeliveryResult.sent(), now=after_lease + timedelta(hours=2), options=OPTIONS
    )
    assert state == "lost"
    assert only_row(engine).sent_at == after_lease


def test_only_one_of_many_concurrent_claims_wins(engine: Engine, factory: SessionFactory) -> None:
    new_case(engine, now=NOW)
    barrier = threading.Barrier(6)
    results: list[OutboxRow | None] = []

    def claim() -> None:
        barrier.wait()
        results.append(claim_next(factory, STAFF, now=NOW, lease=OPTIONS.lease))

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([r for r in results if r is not None]) == 1
    assert only_row(engine).attempts == 1


# --------------------------------------------------------------------------- no token


async def test_without_a_token_staff_rows_stay_pending_and_citizen_rows_go(
    engine: Engine, tree: UnitTree
) -> None:
    no_token = NotifyConfig(telegram_bot_token="", telegram_webhook_secret="s3cret")
    assert make_bot(no_token) is None
    case_id = new_case(engine)
    citizen_reply(engine, case_id, now=None)
    citizen = FakeCitizenSender()

    app = web.Application()
    telegram_routes(app, engine=engine, config=no_token, tree=tree)
    app.cleanup_ctx.append(outbox_worker_context(engine=engine, citizen_sender=citizen))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for _ in range(100):
            if citizen.sent:
                break
            await asyncio.sleep(0.05)
        response = await client.post(
            "/telegram/webhook", json={"update_id": 1}, headers={SECRET_HEADER: "s3cret"}
        )
        assert response.status == 503
    assert len(citizen.sent) == 1
    staff = only_row(engine)
    assert (staff.status, staff.attempts, staff.last_error) == (OutboxStatus.PENDING, 0, None)


async def test_staff_service_delivers_once_telegram_comes_up_after_boot(
    engine: Engine,
    config: NotifyConfig,
    tree: UnitTree,
    fake_tg: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bot.notify.web as notify_web

    monkeypatch.setattr(notify_web, "START_RETRY_SECONDS", 0.05)
    link_chat(engine, "p_lang", LANG_CHAT)
    new_case(engine)  # now, by the real clock
    fake_tg.fail_next("getMe", status=502, description="Bad Gateway", times=3)

    app = web.Application()
    telegram_routes(app, engine=engine, config=config, tree=tree)
    app.cleanup_ctx.append(outbox_worker_context(engine=engine, poll_interval=0.05))
    async with TestClient(TestServer(app, host="127.0.0.1")):
        for _ in range(200):
            if fake_tg.calls_of("sendMessage"):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # let the worker record the result
    assert len(fake_tg.calls_of("getMe")) == 4
    assert len(fake_tg.calls_of("sendMessage")) == 1
    row = only_row(engine)
    assert row.status == OutboxStatus.SENT


async def test_run_worker_stops_when_asked(engine: Engine) -> None:
    case_id = new_case(engine)
    citizen_reply(engine, case_id, now=None)
    citizen = FakeCitizenSender()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(engine, senders_for(None, citizen), stop_event=stop, poll_interval=0.05)
    )
    for _ in range(100):
        if citizen.sent:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert len(citizen.sent) == 1
    assert only_row(engine).status == OutboxStatus.PENDING


# --------------------------------------------------------------------------- overdue


async def test_overdue_scan_writes_one_notification_per_case(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, factory: SessionFactory
) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    late = new_case(engine, now=NOW - timedelta(days=3), sla_due_at=NOW - timedelta(hours=1))
    soon = new_case(engine, now=NOW, sla_due_at=NOW + timedelta(hours=1))  # not yet due
    new_case(engine, now=NOW)  # no deadline
    done = new_case(engine, now=NOW - timedelta(days=3), sla_due_at=NOW - timedelta(hours=1))
    with session_scope(engine) as session:
        change_status(session, done, CaseStatus.RESOLVED, actor=Actor.system(), now=NOW)

    with session_scope(engine) as session:
        assert scan_overdue(session, now=NOW) == 1
    with session_scope(engine) as session:
        assert scan_overdue(session, now=NOW + timedelta(minutes=5)) == 0
    [row] = outbox_rows(engine, OutboxKind.OVERDUE)
    assert (row.case_id, row.target) == (late, "p_lang")

    await deliver_due(factory, senders_for(service), now=NOW, options=OPTIONS)
    overdue = [c for c in fake_tg.calls_of("sendMessage") if "QUÁ HẠN" in c.params["text"]]
    assert len(overdue) == 1
    assert "Đã quá hạn từ 08:00 23/11" in overdue[0].params["text"]

    # an hour later the second case is overdue too, and only it
    for _ in range(2):
        with session_scope(engine) as session:
            scan_overdue(session, now=NOW + timedelta(hours=1))
    assert [r.case_id for r in outbox_rows(engine, OutboxKind.OVERDUE)] == [late, soon]


def test_concurrent_overdue_scans_notify_once(engine: Engine) -> None:
    new_case(engine, now=NOW - timedelta(days=3), sla_due_at=NOW - timedelta(hours=1))
    barrier = threading.Barrier(4)
    counts: list[int] = []
    errors: list[BaseException] = []

    def scan() -> None:
        barrier.wait()
        try:
            with session_scope(engine) as session:
                counts.append(scan_overdue(session, now=NOW))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sum(counts) == 1
    assert len(outbox_rows(engine, OutboxKind.OVERDUE)) == 1
    with session_scope(engine, read_only=True) as session:
        notice = session.execute(select(OverdueNotice)).scalar_one()
    assert notice.outbox_id == outbox_rows(engine, OutboxKind.OVERDUE)[0].id
