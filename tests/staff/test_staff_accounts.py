"""Staff accounts: password hashing, tokens, lockout timing and the command line."""

from __future__ import annotations

import io
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine, session_scope
from bot.db.models import ApiToken, LoginAttempt, Staff, StaffRole
from bot.staff import accounts, accounts_cli
from bot.staff.accounts import AccountError

UTC = timezone.utc
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
GOOD = "mat-khau-that-dai-1"


# --------------------------------------------------------------------------- passwords


def test_password_hash_is_salted_scrypt_and_verifies() -> None:
    first, second = accounts.hash_password(GOOD), accounts.hash_password(GOOD)
    assert first.startswith("scrypt$16384$8$1$") and first != second and GOOD not in first
    assert accounts.verify_password(GOOD, first) and accounts.verify_password(GOOD, second)
    assert not accounts.verify_password(GOOD + "x", first)
    assert not accounts.verify_password("", first)


@pytest.mark.parametrize(
    "stored",
    ["", "plain", "pbkdf2$1$2$3$4$5", "scrypt$16384$8$1$%%%$abc", "scrypt$x$8$1$YQ==$YQ=="],
)
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert accounts.verify_password(GOOD, stored) is False


def test_generated_passwords_are_long_enough_and_differ() -> None:
    made = {accounts.generate_password() for _ in range(20)}
    assert len(made) == 20 and all(len(p) >= accounts.MIN_PASSWORD_CHARS for p in made)


# --------------------------------------------------------------------------- accounts


def test_create_staff_checks_its_input(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        staff = accounts.create_staff(
            session, login=" Lan.Nguyen ", unit_code="p_lang", role="officer", password=GOOD
        )
        assert staff.login == "lan.nguyen" and staff.role == StaffRole.OFFICER
    cases = [
        ({"login": "lan.nguyen"}, "đã có người dùng"),
        ({"login": "a"}, "Tên đăng nhập"),
        ({"login": "có dấu"}, "Tên đăng nhập"),
        ({"unit_code": "khong_co"}, "Không tìm thấy đơn vị"),
        ({"role": "boss"}, "Vai trò"),
        ({"password": "ngan"}, "ít nhất 10 ký tự"),
        ({"password": " co-dau-cach-o-dau "}, "dấu cách"),
    ]
    for overrides, message in cases:
        fields = {"login": "moi", "unit_code": "p_lang", "role": "officer", "password": GOOD}
        fields.update(overrides)
        with pytest.raises(AccountError, match=message), session_scope(db_with_units) as session:
            accounts.create_staff(session, **fields)  # type: ignore[arg-type]


def test_api_tokens_are_stored_hashed_and_can_be_revoked(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        staff = accounts.create_staff(
            session, login="lan", unit_code="p_lang", role="officer", password=GOOD
        )
        raw = accounts.create_api_token(session, staff.id, "báo cáo")
        assert raw.startswith("mttq_") and len(raw) > 40
        [row] = session.execute(select(ApiToken)).scalars().all()
        assert row.token_hash != raw and raw not in row.token_hash
        assert accounts.staff_for_api_token(session, raw).id == staff.id
        assert accounts.staff_for_api_token(session, raw + "x") is None
        assert accounts.staff_for_api_token(session, "") is None
        accounts.set_active(session, staff.id, False)
        assert row.revoked_at is not None
        accounts.set_active(session, staff.id, True)
        assert accounts.staff_for_api_token(session, raw) is None  # revoked stays revoked


def test_sessions_expire_and_end_with_a_new_password(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        staff = accounts.create_staff(
            session, login="lan", unit_code="p_lang", role="officer", password=GOOD
        )
        raw = accounts.start_session(session, staff.id, now=T0)
        assert accounts.staff_for_session(session, raw, now=T0 + timedelta(hours=11)) is staff
        assert accounts.staff_for_session(session, raw, now=T0 + timedelta(hours=12)) is None
        raw = accounts.start_session(session, staff.id)
        assert accounts.csrf_token_for(raw) != accounts.csrf_token_for(raw + "x")
        accounts.set_password(session, staff.id, "mat-khau-moi-12345")
        assert accounts.staff_for_session(session, raw) is None


# --------------------------------------------------------------------------- lockout


def _attempt(engine: Engine, login: str, password: str, at: datetime, ip: str = "10.0.0.1"):
    with session_scope(engine) as session:
        return accounts.attempt_login(session, login, password, ip, now=at)


def test_lockout_lasts_fifteen_minutes_after_the_fifth_failure(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        accounts.create_staff(
            session, login="lan", unit_code="p_lang", role="officer", password=GOOD
        )
    for minute in range(5):  # five failures within five minutes
        result = _attempt(db_with_units, "lan", "sai-mat-khau", T0 + timedelta(minutes=minute))
        assert result.staff is None
    assert result.locked_until == T0 + timedelta(minutes=19)
    during = _attempt(db_with_units, "lan", GOOD, T0 + timedelta(minutes=18, seconds=30))
    assert during.staff is None and "thử lại sau 1 phút" in (during.error or "")
    # Issue 18: whoever failed at 10.0.0.1 cannot lock the officer out from another address.
    elsewhere = _attempt(db_with_units, "lan", GOOD, T0 + timedelta(minutes=10), ip="10.9.9.9")
    assert elsewhere.staff is not None
    after = _attempt(db_with_units, "lan", GOOD, T0 + timedelta(minutes=19, seconds=1))
    assert after.staff is not None
    with session_scope(db_with_units) as session:
        recorded = session.execute(select(LoginAttempt)).scalars().all()
    assert len(recorded) == 7  # 5 failures, 2 successes: the refused attempt is not recorded


def test_guessing_from_many_addresses_locks_unknown_addresses_not_the_officers(
        db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        accounts.create_staff(
            session, login="lan", unit_code="p_lang", role="officer", password=GOOD
        )
    assert _attempt(db_with_units, "lan", GOOD, T0 - timedelta(hours=1), ip="10.0.0.1").staff
    for n in range(accounts.MAX_FAILURES_ANY_ADDRESS):  # one try from each of 20 addresses
        _attempt(db_with_units, "lan", "sai", T0 + timedelta(seconds=20 * n), ip=f"10.7.0.{n}")
    at = T0 + timedelta(minutes=8)
    stranger = _attempt(db_with_units, "lan", GOOD, at, ip="10.8.8.8")
    assert stranger.staff is None and stranger.locked_until is not None
    assert _attempt(db_with_units, "lan", GOOD, at, ip="10.0.0.1").staff is not None


def test_spread_out_failures_do_not_lock(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        accounts.create_staff(
            session, login="lan", unit_code="p_lang", role="officer", password=GOOD
        )
    for i in range(8):  # one failure every four minutes: never five within fifteen
        result = _attempt(db_with_units, "lan", "sai-mat-khau", T0 + timedelta(minutes=4 * i))
        assert result.locked_until is None
    assert _attempt(db_with_units, "lan", GOOD, T0 + timedelta(minutes=33)).staff is not None


def test_success_resets_the_login_count_but_not_the_address(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        accounts.create_staff(
            session, login="lan", unit_code="p_lang", role="officer", password=GOOD
        )
        accounts.create_staff(
            session, login="minh", unit_code="p_lang", role="officer", password=GOOD
        )
    for minute in range(4):
        _attempt(db_with_units, "lan", "sai", T0 + timedelta(minutes=minute), ip="10.0.0.2")
    assert _attempt(db_with_units, "lan", GOOD, T0 + timedelta(minutes=4), ip="10.0.0.3").staff
    # Four more failures for lan from a third address: counted afresh after the success.
    for minute in range(5, 9):
        _attempt(db_with_units, "lan", "sai", T0 + timedelta(minutes=minute), ip=f"10.1.0.{minute}")
    assert _attempt(db_with_units, "lan", GOOD, T0 + timedelta(minutes=9), ip="10.0.0.4").staff
    # Guessing other logins from one address: the address locks after five.
    for minute in range(10, 15):
        _attempt(db_with_units, f"ai{minute}", "sai", T0 + timedelta(minutes=minute), ip="10.6.6.6")
    blocked = _attempt(db_with_units, "minh", GOOD, T0 + timedelta(minutes=15), ip="10.6.6.6")
    assert blocked.staff is None and blocked.locked_until is not None


def test_disabled_account_gets_a_clear_message_only_with_the_right_password(
    db_with_units: Engine,
) -> None:
    with session_scope(db_with_units) as session:
        staff = accounts.create_staff(
            session, login="lan", unit_code="p_lang", role="officer", password=GOOD
        )
        accounts.set_active(session, staff.id, False)
    wrong = _attempt(db_with_units, "lan", "sai-mat-khau", T0)
    right = _attempt(db_with_units, "lan", GOOD, T0 + timedelta(seconds=1))
    assert wrong.error == accounts.BAD_CREDENTIALS
    assert right.staff is None and "đã bị khoá" in (right.error or "")


# --------------------------------------------------------------------------- command line


def test_command_line_create_list_token_disable(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(GOOD + "\n"))
    args = ["--database-url", db_url]
    assert (
        accounts_cli.main(
            [
                *args,
                "create",
                "--login",
                "lan",
                "--unit",
                "p_lang",
                "--role",
                "officer",
                "--name",
                "Nguyễn Thị Lan",
                "--password-stdin",
            ]
        )
        == 0
    )
    assert "Đã tạo tài khoản lan" in capsys.readouterr().out
    assert accounts_cli.main([*args, "list", "--unit", "p_lang"]) == 0
    listing = capsys.readouterr().out
    assert "lan\tofficer\tp_lang\thoạt động\tNguyễn Thị Lan" in listing

    assert accounts_cli.main([*args, "token", "--login", "lan", "--label", "báo cáo"]) == 0
    token = capsys.readouterr().out.strip()
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            assert accounts.staff_for_api_token(session, token).login == "lan"
            staff = session.execute(select(Staff)).scalar_one()
            assert accounts.verify_password(GOOD, staff.password_hash)

        monkeypatch.setattr(sys, "stdin", io.StringIO("mat-khau-moi-12345\n"))
        assert accounts_cli.main([*args, "set-password", "--login", "lan", "--password-stdin"]) == 0
        assert accounts_cli.main([*args, "disable", "--login", "lan"]) == 0
        with session_scope(engine) as session:
            staff = session.execute(select(Staff)).scalar_one()
            assert accounts.verify_password("mat-khau-moi-12345", staff.password_hash)
            assert staff.active is False
            assert accounts.staff_for_api_token(session, token) is None
    finally:
        engine.dispose()

    monkeypatch.setattr(sys, "stdin", io.StringIO("ngan\n"))
    capsys.readouterr()
    code = accounts_cli.main(
        [
            *args,
            "create",
            "--login",
            "b",
            "--unit",
            "p_lang",
            "--role",
            "officer",
            "--password-stdin",
        ]
    )
    assert code == 1 and "Lỗi:" in capsys.readouterr().err
    assert accounts_cli.main([*args, "disable", "--login", "khong-co"]) == 1
