"""Monday's digest in each unit's Telegram group (issue 15 item 2): queued once per unit and week
after the configured hour, carried by the real outbox worker and python-telegram-bot to the fake
Bot API, in Vietnamese, with the link to the digest page; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cases.linking import link_case
from bot.cases.weekly_digest import queue_weekly_digests
from bot.db.engine import session_scope
from bot.db.models import Case, Outbox, OutboxKind
from bot.delivery.senders import senders_for
from bot.fakes.telegram import FakeTelegram
from bot.notify.messages import render_weekly_digest
from bot.notify.outbox import deliver_due, session_factory
from bot.notify.telegram import TelegramService
from tests.notify.conftest import LANG_CHAT, OPTIONS, PROVINCE_CHAT, link_chat, new_case

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
#: 07:50 on Monday 30 November 2026, Hà Nội time.
MONDAY = datetime(2026, 11, 30, 7, 50, tzinfo=TZ)
FLOOD = "Ngõ 5 phố Láng Hạ cứ mưa là ngập, nước tràn vào nhà số {n}. Tôi là Vũ Thị Lan 0912345678"


def _digests(engine: Engine) -> list[dict[str, object]]:
    with session_scope(engine) as session:
        rows = (
            session.execute(
                select(Outbox).where(Outbox.kind == OutboxKind.WEEKLY_DIGEST).order_by(Outbox.id)
            )
            .scalars()
            .all()
        )
        return [{"target": r.target, **r.payload} for r in rows]


def _queue(engine: Engine, now: datetime) -> int:
    with session_scope(engine) as session:
        return queue_weekly_digests(session, tz=TZ, now=now)


def _floods(engine: Engine, n: int = 3) -> None:
    ids = [
        new_case(
            engine,
            "p_lang",
            content=FLOOD.format(n=i),
            category="ha_tang",
            now=MONDAY - timedelta(days=2, hours=i),
        )
        for i in range(n)
    ]
    with session_scope(engine) as session:
        for case_id in ids:
            link_case(session, session.get(Case, case_id))


def test_one_digest_per_linked_unit_per_week_on_monday_morning(engine: Engine) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    link_chat(engine, "hn", PROVINCE_CHAT)
    _floods(engine)
    new_case(engine, "p_cau_giay", now=MONDAY - timedelta(days=3))

    assert _queue(engine, MONDAY.replace(hour=7, minute=30)) == 0  # before 07:45
    assert _queue(engine, MONDAY - timedelta(days=1)) == 0  # a Sunday
    assert _queue(engine, MONDAY) == 2
    assert _queue(engine, MONDAY + timedelta(hours=5)) == 0  # once a week, whoever scans
    digests = {d["target"]: d for d in _digests(engine)}
    lang, city = digests["p_lang"], digests["hn"]
    assert (lang["first_day"], lang["last_day"], lang["received"]) == (
        "2026-11-23",
        "2026-11-29",
        3,
    )
    assert city["received"] == 4  # the city and every ward below it
    assert [t["key"] for t in lang["topics"]][:1] == ["flood"]
    assert lang["topics"][0]["cluster_size"] == 3
    assert lang["path"] == "/staff/digest?unit=p_lang&days=7&end=2026-11-29"
    assert "0912345678" not in str(digests) and "Vũ Thị Lan" not in str(digests)
    assert _queue(engine, MONDAY + timedelta(days=7)) == 2  # the next Monday, again


async def test_the_digest_reaches_the_group_with_its_link(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram
) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    _floods(engine)
    assert _queue(engine, MONDAY) == 1
    before = len(fake_tg.calls_of("sendMessage"))
    assert (
        await deliver_due(
            session_factory(engine), senders_for(service), options=OPTIONS, now=MONDAY
        )
        >= 1
    )
    sends = [
        c.params
        for c in fake_tg.calls_of("sendMessage")[before:]
        if "Bản tin dư luận" in str(c.params.get("text"))
    ]
    assert len(sends) == 1 and sends[0]["chat_id"] == LANG_CHAT
    text = str(sends[0]["text"])
    assert "Bản tin dư luận tuần 23/11–29/11" in text
    assert "Hồ sơ nhận: 3" in text and "Ngập" in text and "nhóm 3 người cùng phản ánh" in text
    assert "/staff/digest?unit=p_lang&amp;days=7&amp;end=2026-11-29" in text


def test_the_worker_scan_queues_it_at_the_configured_hour(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.notify.scans import scan_once

    link_chat(engine, "p_lang", LANG_CHAT)
    monkeypatch.setenv("WEEKLY_DIGEST_AT", "off")
    scan_once(session_factory(engine))
    assert _digests(engine) == []
    monkeypatch.setenv("WEEKLY_DIGEST_AT", "00:00")
    scan_once(session_factory(engine))
    expected = ["p_lang"] if datetime.now(TZ).weekday() == 0 else []  # Mondays only
    assert [d["target"] for d in _digests(engine)] == expected


def test_the_text_escapes_and_reads_without_a_baseline() -> None:
    text = render_weekly_digest(
        {
            "first_day": "2026-11-23",
            "last_day": "2026-11-29",
            "received": 2,
            "baseline": 0,
            "overdue": 1,
            "unanswered": 2,
            "first_response_median": 5400,
            "resolution_median": None,
            "rating_average": None,
            "ratings": 0,
            "topics": [],
            "path": "/staff/digest?unit=p_lang",
        },
        "Phường <Láng>",
        "https://mttq.example/",
    )
    assert text.splitlines() == [
        "<b>Bản tin dư luận tuần 23/11–29/11 — Phường &lt;Láng&gt;</b>",
        "• Hồ sơ nhận: 2",
        "• Đang quá hạn: 1; chưa ai phản hồi: 2",
        "• Phản hồi đầu tiên (trung vị): 1 giờ 30 phút; giải quyết (trung vị): —",
        "Xem đầy đủ: https://mttq.example/staff/digest?unit=p_lang",
    ]
