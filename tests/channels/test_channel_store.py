"""What the channels keep in the feedback DB, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.channels import store
from bot.channels.pipeline import LoopDatabase
from bot.channels.render import Choice
from bot.db.engine import session_scope
from bot.db.models import ChannelUser, SeenMessage

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


def _seen(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(SeenMessage)).scalar_one())


def test_admit_records_each_id_once(db_engine: Engine) -> None:
    first = store.admit(db_engine, "facebook", [
        store.Arrival("m1", "u1", NOW - timedelta(minutes=5)),
        store.Arrival("m2", "u2", NOW - timedelta(minutes=4)),
        store.Arrival("m1", "u1", NOW - timedelta(minutes=5)),  # twice in one batch
    ], now=NOW)
    assert first == [True, True, False]
    assert store.admit(db_engine, "facebook", [store.Arrival("m2", "u2", NOW)], now=NOW) == [False]
    # The same id on another channel is another message.
    assert store.admit(db_engine, "zalo", [store.Arrival("m1", "u1", NOW)], now=NOW) == [True]
    assert _seen(db_engine) == 3


def test_last_inbound_only_moves_forward_and_never_past_now(db_engine: Engine) -> None:
    assert store.last_inbound(db_engine, "facebook", "u1") is None
    store.admit(db_engine, "facebook", [store.Arrival("a", "u1", NOW - timedelta(hours=2))],
                now=NOW)
    store.admit(db_engine, "facebook", [store.Arrival("b", "u1", NOW - timedelta(hours=5))],
                now=NOW)  # late delivery of an older message
    assert store.last_inbound(db_engine, "facebook", "u1") == NOW - timedelta(hours=2)
    store.admit(db_engine, "facebook", [store.Arrival("c", "u1", NOW + timedelta(days=1))],
                now=NOW)  # a clock ahead of ours
    assert store.last_inbound(db_engine, "facebook", "u1") == NOW
    store.admit(db_engine, "facebook", [store.Arrival("d", "u1", None)], now=NOW)  # no window
    assert store.last_inbound(db_engine, "zalo", "u1") is None


def test_redelivery_does_not_move_the_window(db_engine: Engine) -> None:
    store.admit(db_engine, "facebook", [store.Arrival("a", "u1", NOW - timedelta(days=2))],
                now=NOW - timedelta(days=2))
    store.admit(db_engine, "facebook", [store.Arrival("a", "u1", NOW)], now=NOW)
    assert store.last_inbound(db_engine, "facebook", "u1") == NOW - timedelta(days=2)


def test_options_set_get_expire_and_clear(db_engine: Engine) -> None:
    options = [Choice("Gửi phản ánh", "/submit_petition"), Choice("Gặp cán bộ", "/request_human")]
    store.set_options(db_engine, "zalo", "u1", options, now=NOW)
    assert store.get_options(db_engine, "zalo", "u1", now=NOW + timedelta(minutes=1)) == options
    assert store.get_options(db_engine, "zalo", "u2", now=NOW) == []
    assert store.get_options(db_engine, "facebook", "u1", now=NOW) == []
    assert store.get_options(db_engine, "zalo", "u1", now=NOW + store.OPTIONS_TTL
                             + timedelta(seconds=1)) == []
    store.set_options(db_engine, "zalo", "u1", None, now=NOW)
    assert store.get_options(db_engine, "zalo", "u1", now=NOW) == []


def test_unfollow_is_recorded(db_engine: Engine) -> None:
    store.mark_unfollowed(db_engine, "zalo", "u9", NOW)
    with session_scope(db_engine) as session:
        row = session.execute(select(ChannelUser).where(ChannelUser.user_id == "u9")).scalar_one()
        assert (row.channel, row.unfollowed_at, row.last_inbound_at) == ("zalo", NOW, None)


def test_tokens_are_replaced(db_engine: Engine) -> None:
    assert store.load_token(db_engine, "zalo") is None
    store.save_token(db_engine, "zalo", store.StoredToken("a1", "r1", None, "seed"))
    store.save_token(db_engine, "zalo", store.StoredToken("a2", "r2", NOW, "seed"))
    assert store.load_token(db_engine, "zalo") == store.StoredToken("a2", "r2", NOW, "seed")


async def test_loop_database_records_on_both_backends(db_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.db.runtime import dispose_all
    from bot.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    db = LoopDatabase()
    try:
        await asyncio.to_thread(db.prepare)  # migrates, then opens the loop's own engine
        hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
        arrival = store.Arrival("m-loop", "u-loop", hour_ago)
        assert await db.call(store.admit, "zalo", [arrival]) == [True]
        assert await db.call(store.admit, "zalo", [arrival]) == [False]
        assert await db.call(store.last_inbound, "zalo", "u-loop") == hour_ago
    finally:
        db.close()
        dispose_all()
        get_settings.cache_clear()
