"""Forwarded cases followed up (issue 17 items 2–4): the body's answer has a clock from
content/legal_deadlines.yml, the scan reminds the unit's group once before it passes and once when
it is late, the Telegram card shows the next legal step, and a tố cáo's sender appears in no
Telegram call and no log line on the way."""

from __future__ import annotations

import io
import logging
from datetime import date, datetime

import pytest
from sqlalchemy.engine import Engine

from bot.cases.follow_up import scan_follow_ups, warn_from
from bot.cases.forwarding import answer_due, forward_case, record_body_answer
from bot.cases.service import Actor, CaseDraft, create_case
from bot.cases.sla import load_calendar
from bot.db.engine import session_scope
from bot.db.models import Case, CaseKind, OutboxKind
from bot.delivery.senders import senders_for
from bot.fakes.telegram import FakeTelegram
from bot.notify.outbox import deliver_due, session_factory
from bot.notify.telegram import TelegramService
from bot.observability import logs
from tests.notify.conftest import (
    HANOI,
    OPTIONS,
    UTC,
    add_staff,
    link_chat,
    new_case,
    outbox_rows,
)

LANG_CHAT = -1001000000001


def at(day: date, hour: int = 9) -> datetime:
    """A local working-day moment, as UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=HANOI).astimezone(UTC)


# --------------------------------------------------------------------------- the clock


@pytest.mark.parametrize(
    ("case_type", "due", "basis", "steps"),
    [
        # Điều 27: accepted within 10 days (14/02 … 23/02, Monday after Tết); Điều 28: decided
        # within 30 days of acceptance -> Wednesday 25/03/2026.
        ("khieu_nai", date(2026, 3, 25), "law", ("accept", "decide")),
        # Điều 24 has no verified number, so acceptance is taken as the day of forwarding
        # (an estimate); Điều 30: 30 days -> Sunday 15/03 -> Monday 16/03.
        ("to_cao", date(2026, 3, 16), "law_est", ("receive_and_check", "decide")),
        # Quy chế (QĐ 33/2017, amended by QĐ 30/2020) Điều 12: 60 days -> Tuesday 14/04.
        ("kien_nghi_cu_tri", date(2026, 4, 14), "law", ("answer",)),
        # No clock of the body in the data: the committee's FOLLOW_UP_DAYS (30 calendar days).
        ("phan_anh", date(2026, 3, 15), "policy", ()),
        (None, date(2026, 3, 15), "policy", ()),
    ],
)
def test_the_bodys_answer_is_due_by_the_data_and_the_calendar(
    case_type: str | None, due: date, basis: str, steps: tuple[str, ...]
) -> None:
    # Forwarded on Friday 13/02/2026, the last working day before Tết Bính Ngọ (14–22/02).
    got = answer_due(case_type, date(2026, 2, 13), policy_days=30)
    assert (got.due_on, got.basis, got.steps) == (due, basis, steps)


def test_the_warning_starts_working_days_before_the_due_day() -> None:
    calendar = load_calendar()
    # Two working days before Monday 23/02/2026 are Thursday 12/02 and Friday 13/02 (Tết between).
    assert warn_from(date(2026, 2, 23), 2, calendar) == date(2026, 2, 12)
    assert warn_from(date(2026, 3, 25), 2, calendar) == date(2026, 3, 23)


# --------------------------------------------------------------------------- reminders


def _forward(engine: Engine, case_id: int, legal_type: str, on: date, officer: int) -> int:
    with session_scope(engine) as session:
        session.get(Case, case_id).legal_type = legal_type
        session.get(Case, case_id).assignee_id = officer
    with session_scope(engine) as session:
        row = forward_case(
            session,
            case_id,
            body_name="UBND phường Láng",
            method="letter",
            reference="123/MTTQ-BTT",
            forwarded_on=on,
            actor=Actor.staff(officer),
            now=at(on, 10),
        )
        return int(row.id)


async def test_a_late_forwarded_case_reminds_the_officer_once_before_and_once_after(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram
) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    officer = add_staff(engine, "can_bo_lang", "p_lang", display_name="Chị Lan")
    case_id = new_case(engine, now=at(date(2026, 2, 10)))
    forwarded = _forward(engine, case_id, "khieu_nai", date(2026, 2, 13), officer)
    told = outbox_rows(engine, OutboxKind.CITIZEN_REPLY)
    assert [r.payload["text"] for r in told] == [
        "Mặt trận đã chuyển hồ sơ của bạn đến UBND phường Láng ngày 13/02/2026 để giải quyết "
        "theo thẩm quyền và sẽ theo dõi kết quả. Khi cơ quan trả lời, chúng tôi sẽ báo bạn."
    ]
    factory = session_factory(engine)
    await deliver_due(factory, senders_for(service), options=OPTIONS)  # the new-case card
    posted = len(fake_tg.calls_of("sendMessage"))

    def scan(day: date) -> int:
        with session_scope(engine) as session:
            return scan_follow_ups(session, now=at(day), warn_working_days=2)

    assert scan(date(2026, 3, 20)) == 0  # due 25/03: the warning starts on Monday 23/03
    assert scan(date(2026, 3, 23)) == 1
    assert scan(date(2026, 3, 24)) == 0  # once
    assert scan(date(2026, 3, 25)) == 0  # due today: not late yet
    assert scan(date(2026, 3, 26)) == 1  # late
    assert scan(date(2026, 3, 30)) == 0  # once
    rows = outbox_rows(engine, OutboxKind.FOLLOW_UP)
    assert [(r.payload["stage"], r.payload["due_on"], r.target) for r in rows] == [
        ("soon", "2026-03-25", "p_lang"),
        ("late", "2026-03-25", "p_lang"),
    ]
    assert rows[0].payload["forwarding_id"] == forwarded

    sent = await deliver_due(factory, senders_for(service), options=OPTIONS)
    assert sent == 2
    soon, late = [c.params["text"] for c in fake_tg.calls_of("sendMessage")[posted:]]
    assert "Sắp đến hạn cơ quan trả lời" in soon
    assert "CƠ QUAN CHƯA TRẢ LỜI, ĐÃ QUÁ HẠN" in late
    for text in (soon, late):
        assert "Đã chuyển đến: UBND phường Láng (số/mã: 123/MTTQ-BTT)" in text
        assert "Hạn cơ quan trả lời: 25/03/2026" in text
        assert "Cán bộ phụ trách đôn đốc: Chị Lan" in text
        assert "Bước tiếp theo: Chờ UBND phường Láng trả lời — hạn 25/03/2026" in text

    # The answer stops the reminders and goes to the citizen in their channel.
    with session_scope(engine) as session:
        record_body_answer(
            session,
            forwarded,
            text="Đã ra quyết định giải quyết số 45/QĐ-UBND.",
            reference="45/QĐ-UBND",
            answered_on=date(2026, 3, 27),
            actor=Actor.staff(officer),
            now=at(date(2026, 3, 27)),
        )
    assert scan(date(2026, 4, 30)) == 0
    relayed = outbox_rows(engine, OutboxKind.CITIZEN_REPLY)[-1].payload["text"]
    assert relayed == (
        "UBND phường Láng đã trả lời ngày 27/03/2026 (số văn bản: 45/QĐ-UBND): "
        "Đã ra quyết định giải quyết số 45/QĐ-UBND."
    )


async def test_no_reminder_for_a_finished_case_or_one_without_a_clock(engine: Engine) -> None:
    officer = add_staff(engine, "can_bo_lang", "p_lang")
    case_id = new_case(engine, now=at(date(2026, 2, 10)))
    _forward(engine, case_id, "khieu_nai", date(2026, 2, 13), officer)
    with session_scope(engine) as session:
        session.get(Case, case_id).status = "rejected"
        assert scan_follow_ups(session, now=at(date(2026, 4, 1))) == 0


# --------------------------------------------------------------------------- tố cáo


NAME, PHONE, CHANNEL_ID = "Nguyễn Văn Tốcáo", "0987654321", "psid-nguoi-to-cao-771"


async def test_a_denouncers_identity_is_in_no_telegram_call_and_no_log_line(
    engine: Engine,
    service: TelegramService,
    fake_tg: FakeTelegram,
) -> None:
    """Issue 17 item 4: the new card, the forwarding, both reminders and the answer's relay,
    with the project's log set-up at DEBUG (as ``test_no_token_in_logs`` does)."""
    stream = io.StringIO()
    root = logging.getLogger()
    before = list(root.handlers), root.level
    handler = logs.configure("notify", fmt="json", level="DEBUG", stream=stream)
    try:
        await _denunciation_followed_up(engine, service)
    finally:
        root.removeHandler(handler)
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    logged = stream.getvalue()
    assert "sendMessage" in logged  # the log did capture the work...
    assert len(fake_tg.calls_of("sendMessage")) == 3  # the card and two reminders
    kinds = {r.kind for r in outbox_rows(engine) if r.target == "p_lang"}
    assert kinds == {OutboxKind.STAFF_NOTIFY, OutboxKind.FOLLOW_UP}
    calls = repr([(c.method, c.params) for c in fake_tg.calls])
    staff_rows = repr([r.payload for r in outbox_rows(engine) if r.target == "p_lang"])
    for secret in (NAME, PHONE, CHANNEL_ID):
        assert secret not in calls
        assert secret not in logged  # ...and none of the sender's identity
        assert secret not in staff_rows


async def _denunciation_followed_up(engine: Engine, service: TelegramService) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    officer = add_staff(engine, "can_bo_lang", "p_lang", display_name="Chị Lan")
    with session_scope(engine) as session:
        created = create_case(
            session,
            CaseDraft(
                kind=CaseKind.PETITION,
                content="Tố cáo cán bộ địa chính nhận tiền làm sổ đỏ.",
                channel="facebook",
                channel_user_id=CHANNEL_ID,
                unit_code="p_lang",
                conversation_id=f"conv-{CHANNEL_ID}",
                person_name=NAME,
                phone=PHONE,
                consent=True,
                consent_at=at(date(2026, 2, 10)),
            ),
            idempotency_key="to-cao-1",
            now=at(date(2026, 2, 10)),
        )
    forwarded = _forward(engine, created.id, "to_cao", date(2026, 2, 13), officer)
    with session_scope(engine) as session:
        assert scan_follow_ups(session, now=at(date(2026, 3, 12)), warn_working_days=2) == 1
        assert scan_follow_ups(session, now=at(date(2026, 3, 17)), warn_working_days=2) == 1
    factory = session_factory(engine)
    await deliver_due(factory, senders_for(service), options=OPTIONS)
    with session_scope(engine) as session:
        record_body_answer(
            session,
            forwarded,
            text="Đã kết luận nội dung tố cáo.",
            reference="7/KL-TTr",
            answered_on=date(2026, 3, 18),
            actor=Actor.staff(officer),
            now=at(date(2026, 3, 18)),
        )
    await deliver_due(factory, senders_for(service), options=OPTIONS)
