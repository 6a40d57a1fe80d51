"""Fixtures of the notification tests: a fake Bot API, the real python-telegram-bot, a database
with the sample units (SQLite and PostgreSQL via ``db_url``), staff, cases and a fake citizen
sender."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from telegram import Bot

from bot.cases.service import CaseDraft, create_case
from bot.db.engine import session_scope
from bot.db.models import CaseKind, Outbox, Staff, StaffRole, TelegramMember, Unit
from bot.delivery.senders import DeliveryResult, OutboxRow
from bot.fakes.telegram import FakeTelegram
from bot.knowledge.units import UnitTree, load_units
from bot.notify.outbox import SessionFactory, WorkerOptions, session_factory
from bot.notify.telegram import TelegramService
from bot.settings import NotifyConfig

UTC = timezone.utc
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
SAMPLE_UNITS = Path(__file__).resolve().parents[2] / "content" / "units.sample.yml"
TOKEN = "123456:TEST-fake-token"
SECRET = "s3cret_Token-for-tests"
LANG_CHAT = -1001000000001
PROVINCE_CHAT = -1001000000099

#: Deterministic worker tuning: no jitter, 30 s doubling backoff, 2-minute lease.
OPTIONS = WorkerOptions(jitter=0.0, max_attempts=4)

_keys = itertools.count(1)


@pytest.fixture
def tree() -> UnitTree:
    return load_units(SAMPLE_UNITS)


@pytest.fixture
async def fake_tg() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(token=TOKEN)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def config(fake_tg: FakeTelegram) -> NotifyConfig:
    return NotifyConfig(
        telegram_bot_token=TOKEN,
        telegram_api_base=fake_tg.base_url,
        telegram_webhook_secret=SECRET,
        staff_public_url="http://127.0.0.1:8080",
    )


@pytest.fixture
def engine(db_with_units: Engine) -> Engine:
    return db_with_units


@pytest.fixture
def factory(engine: Engine) -> SessionFactory:
    return session_factory(engine)


async def start_service(engine: Engine, config: NotifyConfig, tree: UnitTree) -> TelegramService:
    bot = Bot(config.telegram_bot_token, base_url=config.telegram_api_base)
    service = TelegramService(bot, engine, config=config, tree=tree, tz=HANOI)
    await service.start()
    return service


@pytest.fixture
async def service(
    engine: Engine, config: NotifyConfig, tree: UnitTree
) -> AsyncIterator[TelegramService]:
    svc = await start_service(engine, config, tree)
    try:
        yield svc
    finally:
        await svc.stop()


# --------------------------------------------------------------------------- data helpers


def add_staff(
    engine: Engine,
    login: str,
    unit_code: str = "p_lang",
    *,
    role: StaffRole = StaffRole.OFFICER,
    telegram_user_id: int | None = None,
    display_name: str | None = None,
) -> int:
    """A staff member, optionally already linked to a Telegram account."""
    with session_scope(engine) as session:
        staff = Staff(
            login=login,
            password_hash="!unusable",
            display_name=display_name or login,
            unit_code=unit_code,
            role=role,
            active=True,
        )
        session.add(staff)
        session.flush()
        if telegram_user_id is not None:
            session.add(TelegramMember(telegram_user_id=telegram_user_id, staff_id=staff.id))
        return int(staff.id)


def link_chat(engine: Engine, unit_code: str, chat_id: int | None) -> None:
    with session_scope(engine) as session:
        unit = session.get(Unit, unit_code)
        assert unit is not None
        unit.telegram_chat_id = chat_id


def new_case(
    engine: Engine,
    unit_code: str = "p_lang",
    *,
    content: str = "Đèn đường ngõ 5 phố Láng Hạ bị hỏng một tuần nay.",
    category: str | None = "trat_tu_do_thi",
    now: datetime | None = None,
    sla_due_at: datetime | None = None,
    channel: str = "facebook",
) -> int:
    """A petition filed through ``bot.cases.service.create_case`` (which queues its staff_notify row)."""
    key = next(_keys)
    with session_scope(engine) as session:
        created = create_case(
            session,
            CaseDraft(
                kind=CaseKind.PETITION,
                content=content,
                channel=channel,
                channel_user_id=f"psid-{key}",
                unit_code=unit_code,
                category=category,
                location_text="ngõ 5 phố Láng Hạ",
                conversation_id=f"conv-{key}",
                sla_due_at=sla_due_at,
            ),
            idempotency_key=f"test-{key}",
            now=now,
        )
        return created.id


def outbox_rows(engine: Engine, kind: str | None = None) -> list[Outbox]:
    with session_scope(engine, read_only=True) as session:
        query = select(Outbox).order_by(Outbox.id)
        if kind is not None:
            query = query.where(Outbox.kind == kind)
        return list(session.execute(query).scalars())


def buttons(markup: dict[str, Any]) -> list[dict[str, Any]]:
    return [button for row in markup["inline_keyboard"] for button in row]


# --------------------------------------------------------------------------- a fake citizen side


@dataclass
class FakeCitizenSender:
    """A :class:`~bot.delivery.senders.CitizenSender` answering from a script, recording rows."""

    results: list[DeliveryResult] = field(default_factory=list)
    sent: list[OutboxRow] = field(default_factory=list)
    calls: int = 0

    async def send(self, row: OutboxRow) -> DeliveryResult:
        self.calls += 1
        result = self.results.pop(0) if self.results else DeliveryResult.sent()
        if result.ok:
            self.sent.append(row)
        return result
