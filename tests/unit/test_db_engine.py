"""The engine factory, the unit-of-work helper and the portable column types, on both databases."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError

from bot.db.engine import make_engine, session_scope
from bot.db.models import ActorKind, Case, CaseEvent, CaseKind, Outbox, Unit
from bot.db.types import UTC

ICT = timezone(timedelta(hours=7))


def _unit(session, code: str = "hn") -> Unit:
    unit = Unit(code=code, name="Hà Nội", level="province")
    session.add(unit)
    session.flush()
    return unit


def _case(ref: str, **overrides) -> Case:
    fields = dict(
        ref_code=ref,
        kind=CaseKind.PETITION,
        content="x",
        unit_code="hn",
        channel="web",
        channel_user_id="u1",
    )
    fields.update(overrides)
    return Case(**fields)


def test_connection_settings(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        if db_engine.dialect.name == "sqlite":
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 30_000
        else:
            assert db_engine.dialect.name == "postgresql"
            assert db_engine.pool._pre_ping is True
    assert db_engine._is_future  # 2.0-style engine


def test_foreign_keys_are_enforced(db_engine: Engine) -> None:
    with pytest.raises(IntegrityError):
        with session_scope(db_engine) as session:
            session.add(_case("KN-2611-0001", unit_code="nowhere"))


def test_session_scope_commits_on_success_and_rolls_back_on_error(db_engine: Engine) -> None:
    with session_scope(db_engine) as session:
        _unit(session)
    with pytest.raises(RuntimeError):
        with session_scope(db_engine) as session:
            _unit(session, "p_lang")
            raise RuntimeError("boom")
    with session_scope(db_engine) as session:
        codes = session.execute(select(Unit.code)).scalars().all()
    assert codes == ["hn"]


def test_objects_stay_readable_after_the_scope(db_engine: Engine) -> None:
    with session_scope(db_engine) as session:
        unit = _unit(session)
    assert unit.name == "Hà Nội"


@pytest.mark.parametrize(
    "given",
    [
        datetime(2026, 11, 1, 0, 30, tzinfo=ICT),
        datetime(2026, 10, 31, 17, 30, 0, 123456, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_timestamps_come_back_as_aware_utc(db_engine: Engine, given: datetime) -> None:
    with session_scope(db_engine) as session:
        _unit(session)
        session.add(_case("KN-2611-0001", created_at=given, updated_at=given))
    with session_scope(db_engine) as session:
        case = session.execute(select(Case)).scalar_one()
        assert case.created_at == given
        assert case.created_at.utcoffset() == timedelta(0)
        # The same instant is also what the database compares with.
        found = session.execute(
            select(func.count())
            .select_from(Case)
            .where(Case.created_at < given + timedelta(seconds=1))
        ).scalar_one()
        assert found == 1


def test_naive_timestamps_are_refused(db_engine: Engine) -> None:
    with pytest.raises(StatementError, match="timezone-aware"):
        with session_scope(db_engine) as session:
            _unit(session)
            session.add(_case("KN-2611-0001", created_at=datetime(2026, 1, 1)))


def test_enum_columns_refuse_unknown_values(db_engine: Engine) -> None:
    with pytest.raises((StatementError, LookupError)):
        with session_scope(db_engine) as session:
            _unit(session)
            session.add(_case("KN-2611-0001", status="lost"))
    with pytest.raises(IntegrityError):  # and the CHECK constraint stops raw SQL too
        with db_engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO units (code, name, level, active) VALUES ('hn','HN','province',true)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO cases (ref_code, kind, content, unit_code, channel, channel_user_id,"
                    " consent, status, anonymised, created_at, updated_at) VALUES ('KN-1', 'petition',"
                    " 'x', 'hn', 'web', 'u', false, 'lost', false, '2026-01-01', '2026-01-01')"
                )
            )


def test_rating_must_be_one_to_five(db_engine: Engine) -> None:
    with pytest.raises(IntegrityError):
        with session_scope(db_engine) as session:
            _unit(session)
            session.add(_case("KN-2611-0001", rating=6))


def test_json_payload_round_trips_vietnamese(db_engine: Engine) -> None:
    payload = {"text": "Cảm ơn cán bộ phường 🙏", "n": [1, 2.5, None], "nested": {"ok": True}}
    with session_scope(db_engine) as session:
        session.add(Outbox(kind="citizen_reply", target="web:u1", payload=payload))
    with session_scope(db_engine) as session:
        assert session.execute(select(Outbox.payload)).scalar_one() == payload
    with db_engine.connect() as connection:
        raw = connection.execute(text("SELECT payload FROM outbox")).scalar_one()
    assert "Cảm ơn" in raw  # stored readable, not as \\u escapes


def test_case_events_are_append_only(db_engine: Engine) -> None:
    with session_scope(db_engine) as session:
        _unit(session)
        case = _case("KN-2611-0001")
        session.add(case)
        session.flush()
        session.add(CaseEvent(case_id=case.id, actor_kind=ActorKind.BOT, action="created"))
    with pytest.raises(ValueError, match="append-only"):
        with session_scope(db_engine) as session:
            event = session.execute(select(CaseEvent)).scalar_one()
            event.action = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        with session_scope(db_engine) as session:
            session.delete(session.execute(select(CaseEvent)).scalar_one())
    with session_scope(db_engine) as session:
        assert session.execute(select(CaseEvent.action)).scalars().all() == ["created"]


def test_in_memory_sqlite_is_shared_across_sessions() -> None:
    engine = make_engine("sqlite://")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT x FROM t").scalar() == 1
    finally:
        engine.dispose()


def test_read_only_sessions_do_not_wait_for_a_writer(db_engine: Engine) -> None:
    with session_scope(db_engine) as session:
        _unit(session)
    with db_engine.begin() as writer:  # holds the write lock (SQLite) / a row lock (PostgreSQL)
        writer.execute(text("UPDATE units SET name = 'đang sửa' WHERE code = 'hn'"))
        started = time.monotonic()
        with session_scope(db_engine, read_only=True) as reader:
            assert reader.execute(select(Unit.name)).scalar_one() == "Hà Nội"
        assert time.monotonic() - started < 5
    with session_scope(db_engine, read_only=True) as reader:
        assert reader.execute(select(Unit.name)).scalar_one() == "đang sửa"
