"""Link codes: one use, expiry, purpose, hashing, races; the CLI that prints them; migration 0004."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine, session_scope
from bot.db.migrate import downgrade_to, upgrade_to_head
from bot.db.models import Staff, TelegramLinkCode, TelegramMember, Unit, metadata
from bot.notify import links
from bot.notify.__main__ import main as cli
from tests.notify.conftest import LANG_CHAT, add_staff

UTC = timezone.utc
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_code_format_and_normalisation(engine: Engine) -> None:
    with session_scope(engine) as session:
        code = links.create_group_link_code(session, "p_lang", now=NOW)
    assert len(code) == 9 and code[4] == "-"
    assert not set(code.replace("-", "")) & set("01OILSB58")  # no look-alikes
    typed = " " + code.lower().replace("-", " ") + " "
    with session_scope(engine) as session:
        link = links.link_group(session, typed, chat_id=LANG_CHAT, telegram_user_id=1, now=NOW)
    assert (link.unit_code, link.chat_id, link.previous_chat_id) == ("p_lang", LANG_CHAT, None)


@pytest.mark.parametrize(
    ("used_at", "message"),
    [
        (NOW + timedelta(minutes=29), None),
        (NOW + timedelta(minutes=30), "hết hạn"),
        (NOW + timedelta(days=1), "hết hạn"),
    ],
)
def test_group_codes_expire(engine: Engine, used_at: datetime, message: str | None) -> None:
    with session_scope(engine) as session:
        code = links.create_group_link_code(session, "p_lang", now=NOW)
    with session_scope(engine) as session:
        if message is None:
            links.link_group(session, code, chat_id=LANG_CHAT, telegram_user_id=1, now=used_at)
        else:
            with pytest.raises(links.LinkError, match=message):
                links.link_group(session, code, chat_id=LANG_CHAT, telegram_user_id=1, now=used_at)


def test_codes_are_single_use_even_when_raced(engine: Engine) -> None:
    with session_scope(engine) as session:
        code = links.create_group_link_code(session, "p_lang", now=NOW)
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def use(chat_id: int) -> None:
        barrier.wait()
        try:
            with session_scope(engine) as session:
                links.link_group(session, code, chat_id=chat_id, telegram_user_id=chat_id, now=NOW)
            outcomes.append("ok")
        except links.LinkError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=use, args=(-100 - i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert all("đã được dùng" in o for o in outcomes if o != "ok")
    with session_scope(engine, read_only=True) as session:
        row = session.execute(select(TelegramLinkCode)).scalar_one()
        assert session.get(Unit, "p_lang").telegram_chat_id == row.used_in_chat_id


def test_member_codes_link_one_account_per_staff(engine: Engine) -> None:
    staff_id = add_staff(engine, "can_bo", "p_lang")
    with session_scope(engine) as session:
        first = links.create_member_link_code(session, staff_id, now=NOW)
        second = links.create_member_link_code(session, staff_id, now=NOW)
    with session_scope(engine) as session:
        links.link_member(session, first, telegram_user_id=11, chat_id=11, now=NOW)
    with session_scope(engine) as session:  # a new phone: the old account is unlinked
        links.link_member(session, second, telegram_user_id=22, chat_id=22, now=NOW)
    with session_scope(engine, read_only=True) as session:
        assert links.linked_staff(session, 11) is None
        assert links.linked_staff(session, 22).id == staff_id
    with session_scope(engine) as session:
        assert links.unlink_member(session, staff_id)
        assert links.linked_staff(session, 22) is None


def test_inactive_staff_cannot_act_or_get_codes(engine: Engine) -> None:
    staff_id = add_staff(engine, "nghi_viec", "p_lang", telegram_user_id=33)
    with session_scope(engine) as session:
        session.get(Staff, staff_id).active = False
    with session_scope(engine) as session:
        assert links.linked_staff(session, 33) is None
        with pytest.raises(links.LinkError):
            links.create_member_link_code(session, staff_id)


def test_unknown_unit_gets_no_code(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(links.LinkError):
        links.create_group_link_code(session, "p_khong_co")


def test_cli_prints_codes_that_work(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from bot.settings import get_settings

    add_staff(engine, "admin_lang", "p_lang")
    officer = add_staff(engine, "can_bo_lang", "p_lang")
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        assert cli(["link-code", "--unit", "p_lang", "--by", "Admin_Lang"]) == 0
        group_code = capsys.readouterr().out.strip()
        assert cli(["member-code", "--login", "can_bo_lang"]) == 0
        member_code = capsys.readouterr().out.strip()
        assert cli(["link-code", "--unit", "p_khong_co"]) == 1
    finally:
        get_settings.cache_clear()
    with session_scope(engine) as session:
        links.link_group(session, group_code, chat_id=LANG_CHAT, telegram_user_id=5)
        links.link_member(session, member_code, telegram_user_id=6, chat_id=LANG_CHAT)
    with session_scope(engine, read_only=True) as session:
        assert session.execute(select(TelegramMember.staff_id)).scalar_one() == officer


def test_migration_0004_matches_the_models_and_downgrades(db_url: str) -> None:
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "target_metadata": metadata}
            )
            assert compare_metadata(context, metadata) == []
        new_tables = {
            "telegram_link_codes",
            "telegram_members",
            "telegram_messages",
            "overdue_notices",
        }
        assert new_tables <= set(inspect(engine).get_table_names())
        downgrade_to(db_url, "0003")
        assert not new_tables & set(inspect(engine).get_table_names())
        upgrade_to_head(db_url)
        assert new_tables <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
