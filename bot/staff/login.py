"""Signing in and out, and changing one's own password: ``/staff/login``, ``/staff/logout``,
``/staff/password`` (and ``/staff``, which sends a signed-in officer on to the queue).

They belong together because they are the pages that issue or drop the session cookie.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.orm import Session

from bot.staff import accounts, login_csrf
from bot.staff import html as h
from bot.staff.context import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    StaffContext,
    console_view,
    html_response,
    redirect,
    run_in_session,
)
from bot.staff.views import DONE_MESSAGES, nav
from bot.web.client_address import client_address, forwarded_for, parse_trusted
from bot.web.keys import SETTINGS


def _session_cookie(response: web.StreamResponse, request: web.Request, raw: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=int(accounts.SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )


def _safe_next(value: str | None) -> str:
    """Only a path inside the console: never another site (open redirect)."""
    if not value:
        return "/staff/cases"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/staff") or "\\" in value:
        return "/staff/cases"
    if value.startswith(("/staff/login", "/staff/logout")):
        return "/staff/cases"
    return value


def _login_page(
    request: web.Request, nonce: str, *, next_url: str, login: str = "",
    error: str | None = None, status: int = 200,
) -> web.Response:
    token = login_csrf.field_for(nonce, _address(request), _csrf_secret(request))
    body = h.fmt(
        '<div class="login card"><h1>Đăng nhập cổng cán bộ</h1>{flash}'
        '<form method="post" action="/staff/login">'
        '<input type="hidden" name="csrf_token" value="{token}">'
        '<input type="hidden" name="next" value="{next}">'
        '<p><label for="login">Tên đăng nhập</label><br>'
        '<input type="text" id="login" name="login" value="{login}" autocomplete="username" '
        "required autofocus></p>"
        '<p><label for="password">Mật khẩu</label><br>'
        '<input type="password" id="password" name="password" autocomplete="current-password" '
        "required></p>"
        '<p><button type="submit">Đăng nhập</button></p></form>'
        '<p class="muted">Quên mật khẩu? Hãy nhờ quản trị đơn vị đặt lại.</p></div>',
        flash=h.flash_box(error, error=True),
        token=token,
        next=next_url,
        login=login,
    )
    response = html_response(h.page("Đăng nhập", body), status=status)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, nonce, path="/staff/login", httponly=True, samesite="Lax",
        max_age=login_csrf.MAX_AGE_SECONDS,
    )
    return response


def _address(request: web.Request) -> str:
    """The client (``X-Forwarded-For`` only from a trusted proxy): what lockouts count against."""
    trusted = parse_trusted(request.app[SETTINGS].trusted_proxies)
    return client_address(request.remote, forwarded_for(request.headers), trusted)


def _csrf_secret(request: web.Request) -> str:
    return request.app[SETTINGS].rasa_token or ""


def _usable_nonce(request: web.Request) -> str:
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    return nonce if login_csrf.valid_nonce(nonce) else login_csrf.new_nonce()


async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(request, _usable_nonce(request),
                       next_url=_safe_next(request.query.get("next")))


async def login_submit(request: web.Request) -> web.StreamResponse:
    if login_csrf.cross_site(request.headers.get("Origin"),
                             request.headers.get("Sec-Fetch-Site"), request.host):
        return _login_page(request, login_csrf.new_nonce(), next_url="/staff/cases",
                           error="Yêu cầu đăng nhập không đến từ trang của cổng cán bộ.",
                           status=403)
    form = await request.post()
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    given = form.get("csrf_token")
    if not login_csrf.verify(cookie_token, given, _address(request), _csrf_secret(request)):
        return _login_page(
            request,
            login_csrf.new_nonce(),
            next_url="/staff/cases",
            error="Phiên đăng nhập đã hết hạn. Vui lòng nhập lại.",
            status=403,
        )
    login = form.get("login")
    password = form.get("password")
    login = login if isinstance(login, str) else ""
    password = password if isinstance(password, str) else ""
    raw_next = form.get("next")
    next_url = _safe_next(raw_next if isinstance(raw_next, str) else None)
    ip = _address(request)

    def work(session: Session) -> tuple[accounts.LoginResult, str | None]:
        result = accounts.attempt_login(session, login, password, ip)
        if result.staff is None:
            return result, None
        return result, accounts.start_session(session, int(result.staff.id))

    result, raw = await run_in_session(request.app, work)
    if raw is None:
        status = 429 if result.locked_until is not None else 401
        return _login_page(
            request, cookie_token, next_url=next_url, login=login[:128], error=result.error,
            status=status,
        )
    response = redirect(next_url)
    _session_cookie(response, request, raw)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/staff/login")
    return response


@console_view()
def logout(ctx: StaffContext) -> web.StreamResponse:
    accounts.end_session(ctx.session, ctx.request.cookies.get(SESSION_COOKIE))
    response = redirect("/staff/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def staff_root(request: web.Request) -> web.StreamResponse:
    return redirect("/staff/cases")


def _password_page(
    ctx: StaffContext, *, error: str | None = None, done: bool = False, status: int = 200
) -> web.Response:
    body = h.fmt(
        '<div class="card" style="max-width:460px"><h1>Đổi mật khẩu</h1>'
        '<form method="post" action="/staff/password">{csrf}'
        '<p><label for="current">Mật khẩu hiện tại</label><br>'
        '<input type="password" id="current" name="current" autocomplete="current-password" required></p>'
        '<p><label for="new">Mật khẩu mới (ít nhất {n} ký tự)</label><br>'
        '<input type="password" id="new" name="new" autocomplete="new-password" required></p>'
        '<p><label for="confirm">Nhập lại mật khẩu mới</label><br>'
        '<input type="password" id="confirm" name="confirm" autocomplete="new-password" required></p>'
        '<button type="submit">Đổi mật khẩu</button></form></div>',
        csrf=h.hidden_csrf(ctx.csrf),
        n=accounts.MIN_PASSWORD_CHARS,
    )
    flash = (
        h.flash_box(error, error=True)
        if error
        else h.flash_box(DONE_MESSAGES["password"] if done else None)
    )
    return html_response(h.page("Đổi mật khẩu", body, nav=nav(ctx), flash=flash), status)


@console_view()
def password_form(ctx: StaffContext) -> web.StreamResponse:
    return _password_page(ctx)


@console_view()
def password_submit(ctx: StaffContext) -> web.StreamResponse:
    if not accounts.verify_password(ctx.field("current"), ctx.staff.password_hash):
        return _password_page(ctx, error="Mật khẩu hiện tại không đúng.", status=422)
    if ctx.field("new") != ctx.field("confirm"):
        return _password_page(ctx, error="Hai lần nhập mật khẩu mới không khớp.", status=422)
    try:
        with ctx.session.begin_nested():
            accounts.set_password(ctx.session, int(ctx.staff.id), ctx.field("new"))
    except accounts.AccountError as error:
        return _password_page(ctx, error=str(error), status=422)
    raw = accounts.start_session(ctx.session, int(ctx.staff.id))
    ctx.csrf = accounts.csrf_token_for(raw)
    response = _password_page(ctx, done=True)
    _session_cookie(response, ctx.request, raw)
    return response


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff", staff_root)
    app.router.add_get("/staff/", staff_root)
    app.router.add_get("/staff/login", login_form)
    app.router.add_post("/staff/login", login_submit)
    app.router.add_post("/staff/logout", logout)
    app.router.add_get("/staff/password", password_form)
    app.router.add_post("/staff/password", password_submit)
