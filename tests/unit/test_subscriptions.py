"""Subscriptions to announcements and their consent record (issue 16), on SQLite and PostgreSQL:
the service over a session (bot.announcements.subscriptions) and the citizen's units of work
(bot.cases.citizen), including erasure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.announcements import subscriptions as subs
from bot.cases.citizen import (
    StoreUnavailable,
    erase_personal_data,
    submit_case,
    subscribe_to_announcements,
    subscription_status,
    withdraw_from_announcements,
)
from bot.db.engine import session_scope
from bot.db.models import SUBSCRIPTION_TOPICS, Subscription, SubscriptionEvent
from bot.db.runtime import dispose_all, get_engine
from bot.settings import get_settings

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


def _events(
    engine: Engine, sender: str = "u1"
) -> list[tuple[str, str | None, list[str] | None, str | None]]:
    with session_scope(engine, read_only=True) as session:
        rows = (
            session.execute(
                select(SubscriptionEvent)
                .where(SubscriptionEvent.sender_id == sender)
                .order_by(SubscriptionEvent.id)
            )
            .scalars()
            .all()
        )
        return [(r.action, r.unit_code, r.topics, r.consent_version) for r in rows]


def test_subscribe_change_withdraw_and_subscribe_again(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        view = subs.subscribe(session, "zalo", "u1", "p_lang", ["cuu_tro", "su_kien"], "v1", now=T0)
    assert view.active and view.topics == ("su_kien", "cuu_tro")  # the standard order
    assert view.consented_at == T0 and view.withdrawn_at is None

    with session_scope(db_with_units) as session:  # a change of topics on an active one
        view = subs.subscribe(
            session, "zalo", "u1", "p_lang", ["bau_cu"], "v2", now=T0 + timedelta(days=1)
        )
    assert view.topics == ("bau_cu",) and view.consented_at == T0 + timedelta(days=1)

    with session_scope(db_with_units) as session:
        assert subs.withdraw(session, "zalo", "u1", now=T0 + timedelta(days=2)) is True
    with session_scope(db_with_units) as session:
        assert subs.withdraw(session, "zalo", "u1") is False  # idempotent: nothing recorded
        view = subs.subscription_of(session, "zalo", "u1")
    assert view is not None and not view.active and view.topics == ()
    assert view.withdrawn_at == T0 + timedelta(days=2)

    with session_scope(db_with_units) as session:
        again = subs.subscribe(session, "zalo", "u1", "p_ba_dinh", SUBSCRIPTION_TOPICS, "v2")
    assert again.active and again.unit_code == "p_ba_dinh"

    assert _events(db_with_units) == [
        ("subscribe", "p_lang", ["su_kien", "cuu_tro"], "v1"),
        ("update", "p_lang", ["bau_cu"], "v2"),
        ("withdraw", "p_lang", ["bau_cu"], None),  # what was withdrawn, for the report
        ("subscribe", "p_ba_dinh", list(SUBSCRIPTION_TOPICS), "v2"),
    ]
    with session_scope(db_with_units, read_only=True) as session:
        assert session.execute(select(func.count()).select_from(Subscription)).scalar_one() == 1


def test_one_subscription_per_channel_and_sender(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        subs.subscribe(session, "zalo", "u1", "p_lang", ["su_kien"], "v1")
        subs.subscribe(session, "facebook", "u1", "p_lang", ["cuu_tro"], "v1")
        subs.subscribe(session, "zalo", "u2", "p_lang", ["bau_cu"], "v1")
    with session_scope(db_with_units) as session:
        assert subs.withdraw(session, "zalo", "u1") is True
        assert subs.subscription_of(session, "facebook", "u1").active  # type: ignore[union-attr]
        assert subs.subscription_of(session, "zalo", "u2").active  # type: ignore[union-attr]
        assert subs.subscription_of(session, "web", "u1") is None


def test_what_cannot_be_subscribed(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        with pytest.raises(ValueError, match="at least one topic"):
            subs.subscribe(session, "zalo", "u1", "p_lang", [], "v1")
        with pytest.raises(ValueError, match="unknown subscription topics: thoi_tiet"):
            subs.subscribe(session, "zalo", "u1", "p_lang", ["thoi_tiet"], "v1")
        with pytest.raises(ValueError, match="unknown unit"):
            subs.subscribe(session, "zalo", "u1", "p_nowhere", ["su_kien"], "v1")
        assert subs.subscription_of(session, "zalo", "u1") is None


def test_erasure_deletes_the_subscription_and_its_record_only(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        subs.subscribe(session, "zalo", "u1", "p_lang", ["su_kien"], "v1")
        subs.withdraw(session, "zalo", "u1")
        subs.subscribe(session, "zalo", "u2", "p_lang", ["su_kien"], "v1")
    with session_scope(db_with_units) as session:
        assert subs.erase_subscriptions(session, "zalo", "u1") == 1
        assert subs.erase_subscriptions(session, "zalo", "u1") == 0
    assert _events(db_with_units, "u1") == []
    assert [e[0] for e in _events(db_with_units, "u2")] == ["subscribe"]


@pytest.mark.parametrize(
    "typed,expected",
    [
        ("tất cả", SUBSCRIPTION_TOPICS),
        ("tat ca", SUBSCRIPTION_TOPICS),
        ("nhận hết", SUBSCRIPTION_TOPICS),
        ("Sự kiện, cứu trợ", ("su_kien", "cuu_tro")),
        ("canh bao lua dao va bau cu", ("bau_cu", "canh_bao_lua_dao")),
        ("lịch tiếp dân", ("lich_tiep_dan",)),
        ("1 và 3", ("su_kien", "bau_cu")),
        ("mưa lũ", ("cuu_tro",)),
        ("thời tiết", None),
        ("", None),
    ],
)
def test_topics_as_typed(typed: str, expected: tuple[str, ...] | None) -> None:
    assert subs.parse_topics(typed) == expected


@pytest.mark.parametrize(
    "typed,about",
    [
        ("hủy đăng kí", True),
        ("huy dk", True),
        ("hủy nhận thông báo", True),
        ("hủy", False),
        ("hủy phản ánh này", False),
        ("thôi không gửi nữa", False),
    ],
)
def test_a_stop_request_about_announcements(typed: str, about: bool) -> None:
    assert subs.names_subscription(typed) is about


def test_the_consent_version_follows_the_notice_text() -> None:
    version = subs.consent_version()
    assert version.startswith("notice-") and len(version) <= 32  # the column's width
    assert subs.consent_version() == version


# --------------------------------------------------------------------------- units of work


def test_the_citizens_requests_and_erasure(database: str) -> None:
    assert subscription_status("web", "owner") is None
    assert withdraw_from_announcements("web", "owner") is False
    saved = subscribe_to_announcements("web", "owner", "p_lang", ["canh_bao_lua_dao"], "v1")
    assert saved.active and subscription_status("web", "owner") == saved
    submit_case(
        kind="petition",
        content="Rác ở đầu ngõ 5 chưa được dọn",
        channel="web",
        channel_user_id="owner",
        unit_code="p_lang",
        category="moi_truong",
        location="ngõ 5",
        consent=True,
        person_name="Nguyễn Văn An",
        phone="0912345678",
        moderation_marker=None,
        attachments=[],
        idempotency_key="key-owner",
    )
    redacted: list[str] = []
    erased = erase_personal_data("web", "owner", redact_conversation=redacted.append)
    assert (erased.cases, erased.subscriptions, redacted) == (1, 1, ["owner"])
    assert subscription_status("web", "owner") is None
    assert _events(get_engine(database), "owner") == []


def test_a_database_away_is_store_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    get_settings.cache_clear()
    dispose_all()
    try:
        with pytest.raises(StoreUnavailable):
            withdraw_from_announcements("web", "owner")
        with pytest.raises(StoreUnavailable):
            subscription_status("web", "owner")
    finally:
        dispose_all()
        get_settings.cache_clear()
