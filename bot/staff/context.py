"""Resources of the staff service and the one-database-session-per-request helpers.

``database_ctx`` (an ``app.cleanup_ctx`` entry) migrates the database, creates the engine, syncs
the unit tree and loads the categories on start-up, and disposes of the engine on shutdown.

Handlers are plain synchronous functions of a :class:`StaffContext`. The decorators
:func:`console_view` and :func:`api_view` read the request body on the event loop, then run
authentication, the CSRF check and the handler in a worker thread inside one
``session_scope`` — one session and one transaction per request, committed when the handler
returns, rolled back when it raises — so SQLAlchemy's blocking calls never stall the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.cases.casework import case_for_staff, visible_unit_codes
from bot.cases.intake import Category, load_categories
from bot.cases.service import Actor
from bot.db.engine import make_engine, session_scope
from bot.db.migrate import upgrade_to_head
from bot.db.models import Case, Staff, StaffRole
from bot.db.types import utcnow
from bot.knowledge.unit_sync import sync_units
from bot.knowledge.units import UnitTree, load_units
from bot.settings import Settings
from bot.staff import accounts
from bot.staff import html as h
from bot.web.keys import SETTINGS

logger = logging.getLogger(__name__)

ENGINE = web.AppKey("staff_engine", Engine)
UNITS = web.AppKey("staff_units", UnitTree)
CATEGORIES = web.AppKey("staff_categories", tuple)

SESSION_COOKIE = "mttq_staff"
LOGIN_CSRF_COOKIE = "mttq_login_csrf"

T = TypeVar("T")


# --------------------------------------------------------------------------- start-up / shutdown


def _start(settings: Settings) -> tuple[Engine, UnitTree, tuple[Category, ...]]:
    upgrade_to_head(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        tree = load_units(settings.units_file)
        with session_scope(engine) as session:
            sync_units(session, tree)
        categories = load_categories(settings.content_dir / "categories.yml")
    except BaseException:
        engine.dispose()
        raise
    return engine, tree, categories


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    """Engine, unit tree and categories for the life of the app (``cleanup_ctx``)."""
    settings = app[SETTINGS]
    loop = asyncio.get_running_loop()
    engine, tree, categories = await loop.run_in_executor(None, _start, settings)
    app[ENGINE] = engine
    app[UNITS] = tree
    app[CATEGORIES] = categories
    logger.info("staff console ready on %s (%d units)", engine.url.get_backend_name(), len(tree))
    try:
        yield
    finally:
        await loop.run_in_executor(None, engine.dispose)


async def run_in_session(
    app: web.Application, work: Callable[[Session], T], *, read_only: bool = False
) -> T:
    """Run ``work`` in a worker thread inside one session_scope (commit on return)."""
    engine = app[ENGINE]

    def _run() -> T:
        with session_scope(engine, read_only=read_only) as session:
            return work(session)

    return await asyncio.get_running_loop().run_in_executor(None, _run)


# --------------------------------------------------------------------------- request context


@dataclass
class StaffContext:
    """What a handler needs: the request's DB session, who is asking, and what they sent."""

    request: web.Request
    session: Session
    staff: Staff
    tree: UnitTree
    categories: tuple[Category, ...]
    settings: Settings
    now: datetime
    form: Mapping[str, Any] = field(default_factory=dict)
    body: Any = None
    csrf: str = ""

    @property
    def actor(self) -> Actor:
        return Actor.staff(int(self.staff.id))

    @functools.cached_property
    def visible(self) -> set[str]:
        return visible_unit_codes(self.tree, self.staff)

    @functools.cached_property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def role(self) -> StaffRole:
        return StaffRole(self.staff.role)

    def case(self, case_id: int) -> Case | None:
        return case_for_staff(self.session, case_id, self.staff, self.tree)

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default)
        return value if isinstance(value, str) else default

    def category_names(self) -> dict[str, str]:
        return {c.code: c.name for c in self.categories}

    def unit_name(self, code: str | None) -> str:
        unit = self.tree.get(code)
        return unit.short_name if unit is not None else (code or "")

    def match_int(self, name: str) -> int | None:
        try:
            return int(self.request.match_info[name])
        except (KeyError, ValueError):
            return None


def _context(request: web.Request, session: Session, staff: Staff, **extra: Any) -> StaffContext:
    return StaffContext(
        request=request,
        session=session,
        staff=staff,
        tree=request.app[UNITS],
        categories=request.app[CATEGORIES],
        settings=request.app[SETTINGS],
        now=utcnow(),
        **extra,
    )


# --------------------------------------------------------------------------- responses


def html_response(body: h.Markup, status: int = 200) -> web.Response:
    return web.Response(text=str(body), status=status, content_type="text/html", charset="utf-8")


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser GETs ``location``."""
    return web.Response(status=303, headers={"Location": location})


def error_page(status: int, title: str, message: str) -> web.Response:
    body = h.fmt(
        '<div class="card"><h1>{title}</h1><p>{message}</p>'
        '<p><a href="/staff/cases">Về danh sách hồ sơ</a></p></div>',
        title=title,
        message=message,
    )
    return html_response(h.page(title, body), status=status)


def not_found_page() -> web.Response:
    return error_page(404, "Không tìm thấy", "Không tìm thấy trang hoặc hồ sơ này.")


def json_error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _login_redirect(request: web.Request) -> web.Response:
    target = request.path_qs if request.method == "GET" else "/staff/cases"
    response = redirect("/staff/login?next=" + quote(target, safe=""))
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def same_token(given: Any, expected: str) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# --------------------------------------------------------------------------- decorators

ConsoleHandler = Callable[[StaffContext], web.StreamResponse]
AioHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def console_view(
    roles: frozenset[StaffRole] | None = None,
    *,
    writes: bool = False,
) -> Callable[[ConsoleHandler], AioHandler]:
    """A console page: session cookie required, CSRF token required on POST, optional roles.

    ``writes=True`` for a page whose GET also writes (the audit of a protected sender's identity
    shown): it then runs in a write transaction, because on SQLite a read transaction that later
    writes fails at once ("database is locked") when another writer committed meanwhile."""

    def decorate(handler: ConsoleHandler) -> AioHandler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            is_post = request.method == "POST"
            form: Mapping[str, Any] = await request.post() if is_post else {}
            raw = request.cookies.get(SESSION_COOKIE)
            if not raw:
                if is_post:
                    return error_page(403, "Không được phép", "Phiên làm việc đã hết hạn.")
                return _login_redirect(request)

            def work(session: Session) -> web.StreamResponse:
                staff = accounts.staff_for_session(session, raw, touch=is_post)
                if staff is None:
                    return _login_redirect(request)
                csrf = accounts.csrf_token_for(raw)
                if is_post and not same_token(form.get("csrf_token"), csrf):
                    return error_page(
                        403,
                        "Không được phép",
                        "Yêu cầu thiếu mã bảo vệ (CSRF) hoặc mã không đúng. "
                        "Hãy tải lại trang rồi thử lại.",
                    )
                if roles is not None and StaffRole(staff.role) not in roles:
                    return error_page(
                        403, "Không được phép", "Bạn không có quyền dùng chức năng này."
                    )
                return handler(_context(request, session, staff, form=form, csrf=csrf))

            return await run_in_session(request.app, work, read_only=not (is_post or writes))

        return wrapper

    return decorate


ApiHandler = Callable[[StaffContext], web.StreamResponse]


def api_view(handler: ApiHandler) -> AioHandler:
    """A JSON API endpoint: ``Authorization: Bearer <token>``; no cookies, so no CSRF."""
    return _api_view(handler, writes=False)


def api_view_writing(handler: ApiHandler) -> AioHandler:
    """:func:`api_view` for an endpoint whose GET also writes (an identity-view audit): a write
    transaction from the start, for the reason :func:`console_view` gives."""
    return _api_view(handler, writes=True)


def _api_view(handler: ApiHandler, *, writes: bool) -> AioHandler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return json_error(
                401,
                "Thiếu mã truy cập (Authorization: Bearer <mã>).",
                **{"WWW-Authenticate": 'Bearer realm="mttq"'},
            )
        is_write = request.method in ("POST", "PUT", "PATCH", "DELETE")
        raw_body = await request.read() if is_write else b""

        def work(session: Session) -> web.StreamResponse:
            staff = accounts.staff_for_api_token(session, token, touch=is_write)
            if staff is None:
                return json_error(
                    401,
                    "Mã truy cập không hợp lệ hoặc đã bị thu hồi.",
                    **{"WWW-Authenticate": 'Bearer realm="mttq", error="invalid_token"'},
                )
            body: Any = None
            if is_write:
                try:
                    body = json.loads(raw_body.decode("utf-8")) if raw_body else {}
                except (UnicodeDecodeError, ValueError):
                    return json_error(400, "Nội dung JSON không hợp lệ.")
                if not isinstance(body, dict):
                    return json_error(400, "Nội dung phải là một đối tượng JSON.")
            return handler(_context(request, session, staff, body=body))

        return await run_in_session(request.app, work, read_only=not (is_write or writes))

    return wrapper
