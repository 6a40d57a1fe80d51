"""The morning summary in each unit's Telegram group (issue 12: quarantined messages are counted
where officers see them every day), through the real outbox worker and python-telegram-bot
against the fake Bot API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cases.daily_summary import queue_daily_summaries
from bot.cases.inbound import quarantine
from bot.db.engine import session_scope
from bot.db.models import Case, CaseStatus, Outbox, OutboxKind
from bot.delivery.senders import senders_for
from bot.fakes.telegram import FakeTelegram
from bot.notify.messages import render_daily_summary
from bot.notify.outbox import deliver_due, session_factory
from bot.notify.telegram import TelegramService
from tests.notify.conftest import LANG_CHAT, OPTIONS, PROVINCE_CHAT, link_chat, new_case

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
#: 07:45 on Thursday 3 December 2026, Hà Nội time.
MORNING = datetime(2026, 12, 3, 7, 45, tzinfo=TZ)


def _summaries(engine: Engine) -> list[dict[str, object]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Outbox).where(Outbox.kind == OutboxKind.DAILY_SUMMARY).order_by(Outbox.id)
        ).scalars().all()
        return [{"target": r.target, **r.payload} for r in rows]


def _queue(engine: Engine, now: datetime) -> int:
    with session_scope(engine) as session:
        return queue_daily_summaries(session, tz=TZ, now=now)


def test_one_summary_per_linked_unit_per_day_after_half_past_seven(engine: Engine) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    link_chat(engine, "hn", PROVINCE_CHAT)
    yesterday = MORNING - timedelta(days=1)
    new_case(engine, "p_lang", now=yesterday)
    new_case(engine, "p_lang", now=yesterday, sla_due_at=MORNING - timedelta(hours=2))
    finished = new_case(engine, "p_lang", now=yesterday - timedelta(days=3))
    new_case(engine, "p_lang", now=MORNING - timedelta(minutes=5))  # today: not yesterday's
    with session_scope(engine) as session:
        case = session.get(Case, finished)
        assert case is not None
        case.status, case.updated_at = CaseStatus.RESOLVED, yesterday
        quarantine(session, channel="facebook", channel_user_id="psid-x",
                   text="Nạp đầu tặng 100% tại fv88", reason="gambling", now=yesterday)

    assert _queue(engine, MORNING.replace(hour=7, minute=20)) == 0  # before 07:30
    assert _queue(engine, MORNING) == 2
    assert _queue(engine, MORNING + timedelta(hours=3)) == 0  # once a day, whoever scans
    summaries = {s["target"]: s for s in _summaries(engine)}
    lang = summaries["p_lang"]
    assert (lang["day"], lang["received"], lang["finished"], lang["open"], lang["overdue"]) == (
        "2026-12-02", 2, 1, 3, 1)
    assert lang["quarantined"] is None  # a ward does not review moderation
    assert summaries["hn"]["quarantined"] == 1  # the city committee does
    assert _queue(engine, MORNING + timedelta(days=1)) == 2  # the next morning, again


async def test_the_summary_reaches_the_group_in_vietnamese(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram
) -> None:
    link_chat(engine, "hn", PROVINCE_CHAT)
    with session_scope(engine) as session:
        quarantine(session, channel="zalo", channel_user_id="u-1", text="vay nhanh 24/7",
                   reason="loan_spam", now=MORNING - timedelta(hours=10))
    assert _queue(engine, MORNING) == 1
    before = len(fake_tg.calls_of("sendMessage"))
    assert await deliver_due(session_factory(engine), senders_for(service), options=OPTIONS,
                             now=MORNING) >= 1
    sends = fake_tg.calls_of("sendMessage")[before:]
    summary = [c.params for c in sends if "Tóm tắt ngày" in str(c.params.get("text"))]
    assert len(summary) == 1
    assert summary[0]["chat_id"] == PROVINCE_CHAT
    assert "Tóm tắt ngày 02/12/2026" in summary[0]["text"]
    assert "chờ cán bộ xem lại: 1" in summary[0]["text"]
    assert "/staff/quarantine" in summary[0]["text"]


def test_the_worker_scan_queues_them_at_the_configured_hour(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.notify.scans import scan_once

    link_chat(engine, "p_lang", LANG_CHAT)
    monkeypatch.setenv("DAILY_SUMMARY_AT", "off")
    scan_once(session_factory(engine))
    assert _summaries(engine) == []
    monkeypatch.setenv("DAILY_SUMMARY_AT", "00:00")  # any hour of the day the test runs
    scan_once(session_factory(engine))
    scan_once(session_factory(engine))
    assert [s["target"] for s in _summaries(engine)] == ["p_lang"]


def test_the_text_escapes_and_leaves_out_what_a_unit_does_not_review() -> None:
    text = render_daily_summary(
        {"day": "2026-12-02", "received": 3, "finished": 1, "open": 7, "overdue": 2,
         "quarantined": None},
        "Phường <Láng>", "https://mttq.example/",
    )
    assert text.splitlines() == [
        "<b>Tóm tắt ngày 02/12/2026 — Phường &lt;Láng&gt;</b>",
        "• Hồ sơ mới tiếp nhận: 3",
        "• Đã xử lý xong: 1",
        "• Đang mở: 7 (quá hạn: 2)",
        "Danh sách hồ sơ: https://mttq.example/staff/cases",
    ]


def test_the_worker_scan_forgets_old_platform_message_ids(engine: Engine) -> None:
    from bot.cases.inbound import record_seen_message
    from bot.db.models import SeenMessage
    from bot.db.types import utcnow
    from bot.notify.scans import scan_once

    with session_scope(engine) as session:
        record_seen_message(session, "facebook", "m-old", utcnow() - timedelta(days=8))
        record_seen_message(session, "facebook", "m-new", utcnow() - timedelta(hours=3))
    scan_once(session_factory(engine))
    with session_scope(engine) as session:
        kept = session.execute(select(SeenMessage.message_id)).scalars().all()
    assert kept == ["m-new"]
