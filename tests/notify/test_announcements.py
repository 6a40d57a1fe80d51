"""Announcements end to end on SQLite and PostgreSQL: the four-eyes approval, choosing the
recipients, the sender against the in-process fake Graph and Zalo APIs (window, blocked,
unsubscribed meanwhile, retries, a crash mid-request), and the report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot.announcements import delivery, subscriptions
from bot.announcements import service as ann
from bot.announcements.report import report, report_csv
from bot.announcements.rules import load_rules
from bot.db.engine import session_scope
from bot.db.models import (
    Announcement,
    AnnouncementRecipient,
    AnnouncementStatus,
    ChannelUser,
    Outbox,
    OutboxKind,
    OutboxStatus,
    Staff,
    StaffRole,
    Subscription,
)
from bot.db.types import utcnow
from bot.fakes.platforms import FakeGraph, FakeZalo
from bot.notify.announcements import AnnouncementSender
from bot.notify.outbox import WorkerOptions, deliver_pass, session_factory
from bot.settings import FacebookConfig, ZaloConfig
from bot.staff import accounts

UTC = timezone.utc
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
OPTIONS = WorkerOptions(jitter=0.0, max_attempts=3)


def _staff(engine: Engine, login: str, unit: str, role: StaffRole) -> int:
    with session_scope(engine) as session:
        return int(
            accounts.create_staff(
                session, login=login, unit_code=unit, role=role, password="mat-khau-thu-nghiem-1"
            ).id
        )


@pytest.fixture
def people(engine: Engine) -> dict[str, int]:
    return {
        "hoa": _staff(engine, "hoa", "p_lang", StaffRole.UNIT_ADMIN),
        "binh": _staff(engine, "binh", "p_lang", StaffRole.UNIT_ADMIN),
        "lan": _staff(engine, "lan", "p_lang", StaffRole.OFFICER),
        "tinh": _staff(engine, "tinh", "hn", StaffRole.UNIT_ADMIN),
    }


def _draft(engine: Engine, author: int, **extra: object) -> int:
    with session_scope(engine) as session:
        values = {
            "text": "Ngày hội Đại đoàn kết tại nhà văn hoá tổ 5, 8 giờ sáng Chủ nhật.",
            "topic": "su_kien",
            "target_units": ["p_lang"],
            "allowed_units": {"p_lang"},
            "submit_now": True,
            "now": utcnow(),
            **extra,
        }
        return int(ann.create(session, session.get(Staff, author), **values).id)  # type: ignore[arg-type]


def _do(engine: Engine, step: str, announcement_id: int, who: int, **kwargs: object) -> None:
    with session_scope(engine) as session:
        getattr(ann, step)(
            session,
            session.get(Announcement, announcement_id),
            session.get(Staff, who),
            now=utcnow(),
            **kwargs,
        )


# --------------------------------------------------------------------------- approval


def test_the_author_cannot_approve_their_own(engine: Engine, people: dict[str, int]) -> None:
    aid = _draft(engine, people["hoa"])
    with pytest.raises(ann.AnnouncementError) as refused:
        _do(engine, "approve", aid, people["hoa"])
    assert refused.value.code == "own_announcement"
    with pytest.raises(ann.AnnouncementError) as refused:
        _do(engine, "reject", aid, people["hoa"], reason="tự từ chối")
    assert refused.value.code == "own_announcement"
    with pytest.raises(ann.AnnouncementError) as refused:
        _do(engine, "approve", aid, people["lan"])  # an officer of the unit
    assert refused.value.code == "not_admin"
    with pytest.raises(ann.AnnouncementError) as refused:
        _do(engine, "approve", aid, people["tinh"])  # an admin of another (higher) unit
    assert refused.value.code == "other_unit"
    _do(engine, "approve", aid, people["binh"])
    with session_scope(engine) as session:
        row = session.get(Announcement, aid)
        assert AnnouncementStatus(row.status) == AnnouncementStatus.APPROVED
        assert row.approver_id == people["binh"]
        events = [(e.action, e.staff_id) for e in ann.events_of(session, aid)]
    assert events == [
        ("created", people["hoa"]),
        ("submitted", people["hoa"]),
        ("approved", people["binh"]),
    ]
    with pytest.raises(ann.AnnouncementError):  # decided already
        _do(engine, "reject", aid, people["binh"], reason="muộn")


def test_reject_needs_a_reason_and_schedules_must_be_ahead(
    engine: Engine, people: dict[str, int]
) -> None:
    aid = _draft(engine, people["hoa"])
    with pytest.raises(ann.AnnouncementError) as refused:
        _do(engine, "reject", aid, people["binh"], reason="  ")
    assert refused.value.code == "reason_required"
    with pytest.raises(ann.AnnouncementError) as refused:
        _do(engine, "approve", aid, people["binh"], send_at=utcnow() - timedelta(minutes=1))
    assert refused.value.code == "schedule_past"
    _do(engine, "approve", aid, people["binh"], send_at=utcnow() + timedelta(hours=2))
    with session_scope(engine) as session:
        assert session.get(Announcement, aid).status == AnnouncementStatus.SCHEDULED
        # Not due yet: the worker's scan leaves it.
        assert delivery.start_due(session, now=utcnow()) == []


def test_only_unit_admins_write_and_only_to_their_units(
    engine: Engine, people: dict[str, int]
) -> None:
    for author, extra, code in (
        (people["lan"], {}, "not_admin"),
        (people["hoa"], {"target_units": ["p_cau_giay"]}, "bad_unit"),
        (people["hoa"], {"topic": "quang_cao"}, "bad_topic"),
        (people["hoa"], {"text": "   "}, "empty_text"),
        (people["hoa"], {"image_url": "javascript:alert(1)"}, "bad_url"),
    ):
        with pytest.raises(ann.AnnouncementError) as refused:
            _draft(engine, author, **extra)
        assert refused.value.code == code


# --------------------------------------------------------------------------- delivery


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeGraph, FakeZalo]]:
    graph, zalo = FakeGraph(), FakeZalo()
    await graph.start()
    await zalo.start()
    try:
        yield graph, zalo
    finally:
        await graph.stop()
        await zalo.stop()


def _subscribe(
    engine: Engine,
    channel: str,
    sender: str,
    *,
    unit: str = "p_lang",
    topics: tuple[str, ...] = ("su_kien",),
    last: timedelta | None = timedelta(hours=1),
    unfollowed: timedelta | None = None,
    withdrawn: bool = False,
    now: datetime = datetime(2026, 12, 4, 3, 0, tzinfo=UTC),
) -> None:
    """A subscription and the platform account, as of ``now`` (the tests' fixed day)."""
    with session_scope(engine) as session:
        session.add(
            Subscription(
                channel=channel,
                sender_id=sender,
                unit_code=unit,
                topics=list(topics),
                consented_at=now,
                withdrawn_at=now if withdrawn else None,
            )
        )
        if channel != "web":
            session.add(
                ChannelUser(
                    channel=channel,
                    user_id=sender,
                    last_inbound_at=now - last if last else None,
                    unfollowed_at=now - unfollowed if unfollowed else None,
                )
            )


def _statuses(engine: Engine, aid: int) -> dict[str, tuple[str, str | None]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(AnnouncementRecipient).where(AnnouncementRecipient.announcement_id == aid)
        ).scalars()
        return {f"{r.channel}:{r.sender_id}": (r.status.value, r.reason) for r in rows}


async def _pass(
    engine: Engine,
    graph: FakeGraph,
    zalo: FakeZalo,
    *,
    rounds: int = 1,
    now: datetime | None = None,
    rules: dict | None = None,
) -> None:
    rules = rules or load_rules()
    async with aiohttp.ClientSession() as http:
        sender = AnnouncementSender(
            engine,
            http,
            rules=rules,
            tz=HANOI,
            max_attempts=OPTIONS.max_attempts,
            facebook=FacebookConfig(page_access_token=graph.page_token, graph_base=graph.url),
            zalo=ZaloConfig(access_token=zalo.access_token, api_base=zalo.url),
            clock=(lambda: now) if now else utcnow,
        )
        for _ in range(rounds):
            await deliver_pass(
                session_factory(engine), {OutboxKind.ANNOUNCEMENT: sender}, options=OPTIONS, now=now
            )


async def test_each_subscriber_gets_what_their_platform_allows(
    engine: Engine, people: dict[str, int], fakes: tuple[FakeGraph, FakeZalo]
) -> None:
    graph, zalo = fakes
    _subscribe(engine, "facebook", "fb-ok")
    _subscribe(engine, "facebook", "fb-late", last=timedelta(hours=30))
    _subscribe(engine, "facebook", "fb-blocked")
    _subscribe(engine, "zalo", "za-ok", unit="p_lang", last=timedelta(days=20))
    _subscribe(engine, "zalo", "za-unfollowed", unfollowed=timedelta(minutes=5))
    _subscribe(engine, "zalo", "za-leaves")
    _subscribe(engine, "web", "web-1")
    _subscribe(engine, "facebook", "fb-withdrawn", withdrawn=True)
    _subscribe(engine, "facebook", "fb-other-topic", topics=("bau_cu",))
    _subscribe(engine, "facebook", "fb-other-unit", unit="p_cau_giay")
    graph.blocked.add("fb-blocked")
    aid = _draft(engine, people["hoa"], link_url="https://mttq.example.vn/ngay-hoi")
    _do(engine, "approve", aid, people["binh"])
    day = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội: not Zalo's quiet hours
    with session_scope(engine) as session:
        assert delivery.start_due(session, now=day) == [(aid, 7)]
    # Withdraws after the approval, before the worker reaches them: receives nothing.
    with session_scope(engine) as session:
        session.execute(
            update(Subscription)
            .where(Subscription.sender_id == "za-leaves")
            .values(withdrawn_at=utcnow(), topics=[])
        )
    await _pass(engine, graph, zalo, now=day)

    assert _statuses(engine, aid) == {
        "facebook:fb-ok": ("sent", None),
        "facebook:fb-late": ("not_allowed", "outside_window"),
        "facebook:fb-blocked": (
            "blocked",
            "facebook 551/1545041: (#551) This person isn't available right now.",
        ),
        "zalo:za-ok": ("sent", None),
        "zalo:za-unfollowed": ("blocked", "unfollowed"),
        "zalo:za-leaves": ("unsubscribed", "withdrew_after_approval"),
        "web:web-1": ("not_allowed", "no_push_channel"),
    }
    [fb_body] = graph.to("fb-ok")
    assert fb_body["messaging_type"] == "UPDATE"
    assert "https://mttq.example.vn/ngay-hoi" in fb_body["message"]["text"]
    assert "hủy nhận tin" in fb_body["message"]["text"]
    assert len(zalo.to("za-ok")) == 1
    assert graph.to("fb-late") == [] and zalo.to("za-leaves") == []
    assert not any(c["body"]["recipient"].get("id") == "fb-late" for c in graph.sent)
    with session_scope(engine) as session:
        assert delivery.finish_done(session, now=day) == [aid]
        data = report(session, aid)
        csv_text = report_csv(session, aid)
        outbox = (
            session.execute(select(Outbox.status).where(Outbox.kind == OutboxKind.ANNOUNCEMENT))
            .scalars()
            .all()
        )
    assert (
        data.targeted,
        data.sent,
        data.not_allowed,
        data.blocked,
        data.failed,
        data.unsubscribed,
        data.pending,
    ) == (7, 2, 2, 2, 0, 1, 0)
    assert csv_text.splitlines()[1] == f"{aid},7,2,2,2,0,1,0"
    assert "fb-ok" not in csv_text  # no platform ids in the export
    assert sorted(s.value for s in outbox).count(OutboxStatus.SENT.value) == 2
    # Another pass sends nothing more: every recipient is settled.
    before = len(graph.sent) + len(zalo.sent)
    await _pass(engine, graph, zalo, now=day + timedelta(hours=1))
    assert len(graph.sent) + len(zalo.sent) == before


async def test_zalo_waits_for_morning_and_temporary_errors_are_retried(
    engine: Engine, people: dict[str, int], fakes: tuple[FakeGraph, FakeZalo]
) -> None:
    graph, zalo = fakes
    _subscribe(engine, "zalo", "za-night")
    _subscribe(engine, "facebook", "fb-flaky")
    aid = _draft(engine, people["hoa"])
    _do(engine, "approve", aid, people["binh"])
    night = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)  # 23:30 in Hà Nội
    graph.fail_next.append((500, {"message": "temporary", "code": 2}))
    with session_scope(engine) as session:
        delivery.start_due(session, now=night)
    await _pass(engine, graph, zalo, now=night)
    assert _statuses(engine, aid) == {
        "zalo:za-night": ("pending", None),
        "facebook:fb-flaky": ("pending", None),
    }
    assert zalo.sent == [] and len(graph.sent) == 1
    with session_scope(engine) as session:
        due = dict(session.execute(select(Outbox.target, Outbox.next_attempt_at)).all())
    assert due["zalo:za-night"].astimezone(HANOI).hour == 6
    morning = datetime(2026, 12, 4, 23, 5, tzinfo=UTC)  # 06:05
    await _pass(engine, graph, zalo, now=morning)
    assert _statuses(engine, aid) == {
        "zalo:za-night": ("sent", None),
        "facebook:fb-flaky": ("sent", None),
    }
    assert len(graph.to("fb-flaky")) == 1 and len(zalo.to("za-night")) == 1


async def test_a_crash_mid_request_is_never_sent_twice(
    engine: Engine, people: dict[str, int], fakes: tuple[FakeGraph, FakeZalo]
) -> None:
    graph, zalo = fakes
    _subscribe(engine, "facebook", "fb-crash")
    _subscribe(engine, "facebook", "fb-fine")
    aid = _draft(engine, people["hoa"])
    _do(engine, "approve", aid, people["binh"])
    day = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        delivery.start_due(session, now=day)
        # As a worker killed between posting and hearing back leaves it.
        session.execute(
            update(AnnouncementRecipient)
            .where(AnnouncementRecipient.sender_id == "fb-crash")
            .values(sending_since=day)
        )
    await _pass(engine, graph, zalo, now=day)
    assert _statuses(engine, aid) == {
        "facebook:fb-crash": ("failed", "interrupted_mid_request"),
        "facebook:fb-fine": ("sent", None),
    }
    assert graph.to("fb-crash") == []


def test_rate_slots_are_spaced_across_sessions(engine: Engine) -> None:
    """Each reservation moves the shared bucket on by one interval, whoever reserves."""
    from bot.announcements.ratelimit import SAFETY, reserve

    slots = []
    for _ in range(3):  # separate transactions, as separate workers would be
        with session_scope(engine) as session:
            slots.append(reserve(session, "zalo", 10, clock=lambda: 1000.0))
    interval = 1 / (10 * SAFETY)
    assert slots[0] == 1000.0
    assert slots[1] == pytest.approx(1000.0 + interval)
    assert slots[2] == pytest.approx(1000.0 + 2 * interval)
    with session_scope(engine) as session:  # idle since: the next slot is now
        assert reserve(session, "zalo", 10, clock=lambda: 2000.0) == 2000.0
        assert reserve(session, "facebook", 20, clock=lambda: 2000.0) == 2000.0


async def test_the_monthly_quota_is_never_exceeded(
    engine: Engine, people: dict[str, int], fakes: tuple[FakeGraph, FakeZalo]
) -> None:
    import dataclasses

    graph, zalo = fakes
    for n in range(3):
        _subscribe(engine, "zalo", f"za-{n}")
    rules = load_rules()
    rules["zalo"] = dataclasses.replace(rules["zalo"], monthly_quota=2)
    aid = _draft(engine, people["hoa"])
    _do(engine, "approve", aid, people["binh"])
    day = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        delivery.start_due(session, now=day)
    await _pass(engine, graph, zalo, now=day, rules=rules)
    outcomes = sorted(_statuses(engine, aid).values())
    assert outcomes == [("not_allowed", "monthly_quota_used"), ("sent", None), ("sent", None)]
    assert len([c for c in zalo.sent if c["answer"]["error"] == 0]) == 2


async def test_erasure_before_delivery_sends_nothing_and_forgets_the_id(
    engine: Engine, people: dict[str, int], fakes: tuple[FakeGraph, FakeZalo]
) -> None:
    """"xóa dữ liệu của tôi" between approval and delivery: the citizen receives nothing, and
    neither the recipient row nor the outbox message still names them; the report adds up."""
    graph, zalo = fakes
    _subscribe(engine, "zalo", "za-stays")
    _subscribe(engine, "zalo", "za-erases")
    aid = _draft(engine, people["hoa"])
    _do(engine, "approve", aid, people["binh"])
    day = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        assert delivery.start_due(session, now=day) == [(aid, 2)]
    with session_scope(engine) as session:
        assert subscriptions.erase_subscriptions(session, "zalo", "za-erases") == 1
    await _pass(engine, graph, zalo, now=day)

    assert len(zalo.to("za-stays")) == 1 and zalo.to("za-erases") == []
    statuses = _statuses(engine, aid)
    assert statuses.pop("zalo:za-stays") == ("sent", None)
    [(key, (status, _reason))] = statuses.items()
    assert key.startswith("zalo:erased-") and status == "unsubscribed"
    with session_scope(engine) as session:
        targets = session.execute(select(Outbox.target)).scalars().all()
        assert not any("za-erases" in t for t in targets)
        assert report(session, aid).targeted == 2
