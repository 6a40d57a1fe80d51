"""Staff accounts: passwords, console sessions, API tokens, login lockout.

The console, the JSON API and the command line (``bot.staff.accounts_cli``, ``./mttq accounts``)
all call these functions.

Secrets are never stored as given:

* passwords: scrypt (n=2**14, r=8, p=1) with a random 16-byte salt per user, compared in constant
  time; the stored form names its parameters (``scrypt$16384$8$1$salt$hash``) so they can change;
* console session tokens and API tokens: 32 random bytes handed out once; the database keeps
  only their SHA-256 (they are random, so a slow hash adds nothing), so a copy of the database
  cannot be used to sign in;
* the CSRF token of a console session is an HMAC of the raw session token, so it needs no storage
  and the database cannot reveal it either.

Brute force: after :data:`MAX_FAILURES` failed logins for one login name *from one address*, or
from one address for any names, within :data:`FAILURE_WINDOW`, further attempts from that
address are refused for :data:`LOCKOUT` without checking the password. Counting per name alone
let anyone who knew an officer's login lock the officer out from anywhere (issue 18); a guesser
spreading tries over many addresses still meets :data:`MAX_FAILURES_ANY_ADDRESS` for the name,
which then locks every address except those the name signed in from before (the officer's own).
The address is the client's as :mod:`bot.web.client_address` finds it (``X-Forwarded-For`` only from
a trusted proxy), an IPv6 client counted by its /64. Every function takes the caller's
``Session`` and never commits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.db.models import ApiToken, LoginAttempt, Staff, StaffRole, StaffSession, Unit
from bot.db.types import ensure_aware, utcnow
from bot.web.client_address import lockout_address

__all__ = [
    "FAILURE_WINDOW",
    "LOCKOUT",
    "MAX_FAILURES",
    "MAX_FAILURES_ANY_ADDRESS",
    "ROLE_LABELS",
    "SESSION_TTL",
    "AccountError",
    "LoginResult",
    "attempt_login",
    "create_api_token",
    "create_staff",
    "csrf_token_for",
    "end_session",
    "find_staff",
    "generate_password",
    "hash_password",
    "list_staff",
    "set_active",
    "set_password",
    "staff_for_api_token",
    "staff_for_session",
    "start_session",
    "verify_password",
]

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
#: Failures for one name from all addresses together that lock the name for unknown addresses.
MAX_FAILURES_ANY_ADDRESS = 20
#: Attempts older than this are deleted as new ones come in.
ATTEMPT_RETENTION = timedelta(days=2)

SESSION_TTL = timedelta(hours=12)

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024
API_TOKEN_PREFIX = "mttq_"

ROLE_LABELS = {
    StaffRole.OFFICER: "Cán bộ",
    StaffRole.UNIT_ADMIN: "Quản trị đơn vị",
    StaffRole.SYSTEM_ADMIN: "Quản trị hệ thống",
}


class AccountError(ValueError):
    """A refused account operation; ``str(error)`` is a Vietnamese sentence for staff."""


# --------------------------------------------------------------------------- passwords


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32
    )


def hash_password(password: str) -> str:
    """The storable scrypt hash of ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


#: Verified against when the login does not exist, so timing does not reveal which logins do.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def generate_password() -> str:
    """A random password that is easy to read out over the phone (no 0/O, 1/l/I)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(14))


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD_CHARS} ký tự.")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"Mật khẩu dài quá {MAX_PASSWORD_CHARS} ký tự.")
    if password.strip() != password or "\x00" in password:
        raise AccountError("Mật khẩu không được bắt đầu hoặc kết thúc bằng dấu cách.")
    return password


def normalise_login(login: str) -> str:
    return (login or "").strip().lower()


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _now(now: datetime | None) -> datetime:
    return ensure_aware(now, "now") if now is not None else utcnow()


# --------------------------------------------------------------------------- accounts


def find_staff(session: Session, login: str) -> Staff | None:
    return session.execute(
        select(Staff).where(Staff.login == normalise_login(login))
    ).scalar_one_or_none()


def create_staff(
    session: Session,
    *,
    login: str,
    unit_code: str,
    role: StaffRole | str,
    password: str,
    display_name: str | None = None,
    now: datetime | None = None,
) -> Staff:
    """Create an active account; refuses a taken login, an unknown unit or a short password."""
    login = normalise_login(login)
    if not LOGIN_RE.match(login):
        raise AccountError(
            "Tên đăng nhập gồm 3–64 ký tự: chữ thường không dấu, chữ số, dấu chấm, gạch nối."
        )
    try:
        role = StaffRole(role)
    except ValueError:
        raise AccountError("Vai trò không hợp lệ.") from None
    unit = session.get(Unit, unit_code)
    if unit is None or not unit.active:
        raise AccountError(f"Không tìm thấy đơn vị {unit_code!r}.")
    if find_staff(session, login) is not None:
        raise AccountError(f"Tên đăng nhập {login!r} đã có người dùng.")
    staff = Staff(
        login=login,
        password_hash=hash_password(_check_password(password)),
        display_name=(display_name or "").strip() or None,
        unit_code=unit.code,
        role=role,
        active=True,
        created_at=_now(now),
    )
    session.add(staff)
    session.flush()
    return staff


def list_staff(session: Session, unit_codes: Iterable[str] | None = None) -> list[Staff]:
    stmt = select(Staff).order_by(Staff.unit_code, Staff.login)
    if unit_codes is not None:
        stmt = stmt.where(Staff.unit_code.in_(sorted(set(unit_codes))))
    return list(session.execute(stmt).scalars())


def _end_all_sessions(session: Session, staff_id: int) -> None:
    session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))


def set_active(
    session: Session, staff_id: int, active: bool, *, now: datetime | None = None
) -> None:
    """Enable or disable an account; disabling ends its sessions and revokes its API tokens."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise AccountError("Không tìm thấy tài khoản.")
    staff.active = active
    if not active:
        _end_all_sessions(session, staff_id)
        session.execute(
            update(ApiToken)
            .where(ApiToken.staff_id == staff_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=_now(now))
        )
    session.flush()


def set_password(session: Session, staff_id: int, password: str) -> None:
    """Set a new password and sign the account out everywhere."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise AccountError("Không tìm thấy tài khoản.")
    staff.password_hash = hash_password(_check_password(password))
    _end_all_sessions(session, staff_id)
    session.flush()


# --------------------------------------------------------------------------- API tokens


def create_api_token(
    session: Session, staff_id: int, label: str | None = None, *, now: datetime | None = None
) -> str:
    """A new bearer token for ``staff_id``; the raw value is returned once and never stored."""
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise AccountError("Không tìm thấy tài khoản hoặc tài khoản đã bị khoá.")
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            staff_id=staff_id,
            token_hash=_token_hash(raw),
            label=(label or "").strip() or None,
            created_at=_now(now),
        )
    )
    session.flush()
    return raw


def staff_for_api_token(
    session: Session, raw: str, *, now: datetime | None = None, touch: bool = True
) -> Staff | None:
    """The active staff member owning the unrevoked token ``raw``, or None.

    ``touch`` records the use (at most every five minutes); read-only requests pass False.
    """
    if not raw or not raw.startswith(API_TOKEN_PREFIX) or len(raw) > 200:
        return None
    row = session.execute(
        select(ApiToken).where(
            ApiToken.token_hash == _token_hash(raw), ApiToken.revoked_at.is_(None)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    staff = session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        return None
    now = _now(now)
    if touch and (row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5)):
        row.last_used_at = now
    return staff


# --------------------------------------------------------------------------- console sessions


def start_session(session: Session, staff_id: int, *, now: datetime | None = None) -> str:
    """Open a console session; returns the raw token for the cookie (stored hashed)."""
    now = _now(now)
    raw = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            staff_id=staff_id,
            token_hash=_token_hash(raw),
            created_at=now,
            expires_at=now + SESSION_TTL,
            last_seen_at=now,
        )
    )
    # Expired sessions of anyone are tidied as new ones start.
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    session.flush()
    return raw


def staff_for_session(
    session: Session, raw: str | None, *, now: datetime | None = None, touch: bool = True
) -> Staff | None:
    """The active staff member of the unexpired session ``raw``, or None.

    ``touch`` records activity (at most every five minutes); read-only requests pass False.
    """
    if not raw or len(raw) > 200:
        return None
    now = _now(now)
    row = session.execute(
        select(StaffSession).where(StaffSession.token_hash == _token_hash(raw))
    ).scalar_one_or_none()
    if row is None or row.expires_at <= now:
        return None
    staff = session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        return None
    if touch and now - row.last_seen_at > timedelta(minutes=5):
        row.last_seen_at = now
    return staff


def end_session(session: Session, raw: str | None) -> None:
    if raw:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(raw)))


def csrf_token_for(raw_session_token: str) -> str:
    """The CSRF token of a console session: HMAC-SHA256 of a fixed label keyed by the token."""
    return hmac.new(raw_session_token.encode("utf-8"), b"staff-console-csrf", "sha256").hexdigest()


# --------------------------------------------------------------------------- login and lockout


@dataclass(frozen=True)
class LoginResult:
    """``staff`` on success; otherwise ``error`` (Vietnamese) and, when locked, ``locked_until``."""

    staff: Staff | None
    error: str | None = None
    locked_until: datetime | None = None


def _lock_end(times: Sequence[datetime], limit: int = MAX_FAILURES) -> datetime | None:
    """When the lockout caused by these failure times (ascending) ends, or None if none does."""
    end = None
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] <= FAILURE_WINDOW:
            end = times[i] + LOCKOUT
    return end


def locked_until(
    session: Session, login: str, ip: str, *, now: datetime | None = None
) -> datetime | None:
    """The end of the current lockout for this login at this address, or None when not locked.

    A successful login clears the count for its login name (not for its address, so one valid
    account cannot be used to keep guessing others from the same machine).
    """
    now = _now(now)
    since = now - FAILURE_WINDOW - LOCKOUT
    last_success = session.execute(
        select(LoginAttempt.created_at)
        .where(LoginAttempt.login == login, LoginAttempt.succeeded.is_(True))
        .order_by(LoginAttempt.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    login_since = max(since, last_success) if last_success is not None else since

    def failures(*where: Any, after: datetime) -> list[datetime]:
        return list(session.execute(
            select(LoginAttempt.created_at)
            .where(*where, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at > after)
            .order_by(LoginAttempt.created_at)
        ).scalars())

    ends = [
        _lock_end(failures(LoginAttempt.login == login, LoginAttempt.ip == ip, after=login_since)),
        _lock_end(failures(LoginAttempt.ip == ip, after=since)),
    ]
    known_address = session.execute(
        select(LoginAttempt.id).where(LoginAttempt.login == login, LoginAttempt.ip == ip,
                                      LoginAttempt.succeeded.is_(True)).limit(1)
    ).first() is not None
    if not known_address:
        ends.append(_lock_end(failures(LoginAttempt.login == login, after=login_since),
                              MAX_FAILURES_ANY_ADDRESS))
    found = [e for e in ends if e is not None]
    end = max(found) if found else None
    return end if end is not None and end > now else None


def lockout_message(until: datetime, now: datetime) -> str:
    minutes = max(1, -(-int((until - now).total_seconds()) // 60))
    return (
        "Bạn đã đăng nhập sai quá nhiều lần. Để bảo vệ tài khoản, hệ thống tạm khoá đăng nhập; "
        f"vui lòng thử lại sau {minutes} phút."
    )


BAD_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."


def attempt_login(
    session: Session, login: str, password: str, ip: str, *, now: datetime | None = None
) -> LoginResult:
    """Check a login form; records the attempt (commit even when it fails)."""
    now = _now(now)
    login = normalise_login(login)[:128]
    ip = lockout_address(ip or "unknown")[:64]
    session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - ATTEMPT_RETENTION))
    until = locked_until(session, login, ip, now=now)
    if until is not None:
        return LoginResult(None, lockout_message(until, now), until)
    staff = find_staff(session, login) if login else None
    if staff is None:
        verify_password(password, _dummy_hash())
        password_ok = False
    else:
        password_ok = verify_password(password, staff.password_hash)
    ok = password_ok and staff is not None and bool(staff.active)
    session.add(LoginAttempt(login=login, ip=ip, succeeded=ok, created_at=now))
    session.flush()
    if ok:
        return LoginResult(staff)
    if password_ok:  # right password, disabled account: say so rather than "wrong password"
        return LoginResult(None, "Tài khoản này đã bị khoá. Hãy liên hệ quản trị đơn vị.")
    until = locked_until(session, login, ip, now=now)
    if until is not None:
        return LoginResult(None, lockout_message(until, now), until)
    return LoginResult(None, BAD_CREDENTIALS)
