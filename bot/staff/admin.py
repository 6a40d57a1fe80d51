"""Account management in the console: unit admins manage their own unit's officers; system
admins manage every account. Passwords chosen here are shown once and never stored in clear."""

from __future__ import annotations

from aiohttp import web

from bot.db.models import Staff, StaffRole
from bot.staff import accounts
from bot.staff import html as h
from bot.staff.context import StaffContext, console_view, html_response, not_found_page
from bot.staff.views import ADMIN_ROLES, nav


def can_manage(actor: Staff, target: Staff) -> bool:
    """May ``actor`` disable, enable or reset the password of ``target``?"""
    if actor.id == target.id:
        return False  # one's own password: /staff/password; never lock oneself out
    if StaffRole(actor.role) == StaffRole.SYSTEM_ADMIN:
        return True
    return (
        StaffRole(actor.role) == StaffRole.UNIT_ADMIN
        and StaffRole(target.role) == StaffRole.OFFICER
        and target.unit_code == actor.unit_code
    )


def _listed(ctx: StaffContext) -> list[Staff]:
    if ctx.role == StaffRole.SYSTEM_ADMIN:
        return accounts.list_staff(ctx.session)
    return accounts.list_staff(ctx.session, [str(ctx.staff.unit_code)])


def _page(
    ctx: StaffContext, *, message: str | None = None, error: str | None = None, status: int = 200
) -> web.Response:
    csrf = h.hidden_csrf(ctx.csrf)
    rows = []
    for staff in _listed(ctx):
        actions = h.Markup("")
        if can_manage(ctx.staff, staff):
            actions = h.fmt(
                '<form method="post" action="/staff/accounts/{id}/active">{csrf}'
                '<input type="hidden" name="active" value="{flip}">'
                '<button type="submit" class="secondary">{label}</button></form> '
                '<form method="post" action="/staff/accounts/{id}/password">{csrf}'
                '<input type="password" name="password" placeholder="Để trống: tạo ngẫu nhiên" '
                'autocomplete="new-password" aria-label="Mật khẩu mới cho {login}"> '
                '<button type="submit" class="secondary">Đặt lại mật khẩu</button></form>',
                id=staff.id,
                csrf=csrf,
                flip="0" if staff.active else "1",
                label="Khoá" if staff.active else "Mở khoá",
                login=staff.login,
            )
        rows.append(
            h.fmt(
                "<tr><td>{login}</td><td>{name}</td><td>{unit}</td><td>{role}</td><td>{state}</td>"
                "<td>{actions}</td></tr>",
                login=staff.login,
                name=staff.display_name or "",
                unit=ctx.unit_name(staff.unit_code),
                role=h.ROLE_LABELS[StaffRole(staff.role)],
                state="Hoạt động" if staff.active else "Đã khoá",
                actions=actions,
            )
        )
    if ctx.role == StaffRole.SYSTEM_ADMIN:
        roles = [(r.value, h.ROLE_LABELS[r]) for r in StaffRole]
        units = [(u.code, u.short_name) for u in ctx.tree]
    else:
        roles = [(StaffRole.OFFICER.value, h.ROLE_LABELS[StaffRole.OFFICER])]
        units = [(str(ctx.staff.unit_code), ctx.unit_name(ctx.staff.unit_code))]
    body = h.fmt(
        "<h1>Tài khoản cán bộ</h1>"
        "<table><thead><tr><th>Tên đăng nhập</th><th>Họ tên</th><th>Đơn vị</th><th>Vai trò</th>"
        "<th>Trạng thái</th><th>Thao tác</th></tr></thead><tbody>{rows}</tbody></table>"
        '<div class="card" style="max-width:520px"><h2>Tạo tài khoản</h2>'
        '<form method="post" action="/staff/accounts">{csrf}'
        '<p><label for="new-login">Tên đăng nhập</label><br>'
        '<input type="text" id="new-login" name="login" required pattern="[a-z0-9][a-z0-9._\\-]{{2,63}}"></p>'
        '<p><label for="new-name">Họ tên</label><br><input type="text" id="new-name" name="display_name"></p>'
        '<p><label for="new-unit">Đơn vị</label><br><select id="new-unit" name="unit_code">{units}</select></p>'
        '<p><label for="new-role">Vai trò</label><br><select id="new-role" name="role">{roles}</select></p>'
        '<p><label for="new-password">Mật khẩu</label> <span class="muted">(để trống: hệ thống tạo '
        "ngẫu nhiên và hiện một lần)</span><br>"
        '<input type="password" id="new-password" name="password" autocomplete="new-password"></p>'
        '<button type="submit">Tạo tài khoản</button></form></div>',
        rows=h.join(rows),
        csrf=csrf,
        units=h.options(units, None),
        roles=h.options(roles, None),
    )
    flash = h.flash_box(error, error=True) if error else h.flash_box(message)
    return html_response(h.page("Tài khoản cán bộ", body, nav=nav(ctx), flash=flash), status)


def _password_message(login: str, password: str, generated: bool) -> str:
    if not generated:
        return f"Đã đặt mật khẩu cho {login}."
    return (
        f"Mật khẩu của {login}: {password} — chỉ hiện một lần; hãy trao tận tay hoặc qua kênh an "
        "toàn, và nhắc cán bộ đổi mật khẩu sau khi đăng nhập."
    )


@console_view(roles=ADMIN_ROLES)
def accounts_page(ctx: StaffContext) -> web.StreamResponse:
    return _page(ctx)


@console_view(roles=ADMIN_ROLES)
def accounts_create(ctx: StaffContext) -> web.StreamResponse:
    role = ctx.field("role")
    unit_code = ctx.field("unit_code")
    if ctx.role != StaffRole.SYSTEM_ADMIN and (
        role != StaffRole.OFFICER.value or unit_code != ctx.staff.unit_code
    ):
        return _page(ctx, error="Bạn chỉ tạo được tài khoản cán bộ của đơn vị mình.", status=403)
    password = ctx.field("password")
    generated = not password
    if generated:
        password = accounts.generate_password()
    try:
        with ctx.session.begin_nested():
            staff = accounts.create_staff(
                ctx.session,
                login=ctx.field("login"),
                unit_code=unit_code,
                role=role,
                password=password,
                display_name=ctx.field("display_name") or None,
            )
    except accounts.AccountError as error:
        return _page(ctx, error=str(error), status=422)
    return _page(
        ctx, message="Đã tạo tài khoản. " + _password_message(staff.login, password, generated)
    )


def _target(ctx: StaffContext) -> Staff | None:
    staff_id = ctx.match_int("staff_id")
    target = ctx.session.get(Staff, staff_id) if staff_id is not None else None
    if target is None or not can_manage(ctx.staff, target):
        return None
    return target


@console_view(roles=ADMIN_ROLES)
def accounts_active(ctx: StaffContext) -> web.StreamResponse:
    target = _target(ctx)
    if target is None:
        return not_found_page()
    active = ctx.field("active") == "1"
    accounts.set_active(ctx.session, int(target.id), active)
    return _page(ctx, message=f"Đã {'mở khoá' if active else 'khoá'} tài khoản {target.login}.")


@console_view(roles=ADMIN_ROLES)
def accounts_password(ctx: StaffContext) -> web.StreamResponse:
    target = _target(ctx)
    if target is None:
        return not_found_page()
    password = ctx.field("password")
    generated = not password
    if generated:
        password = accounts.generate_password()
    try:
        with ctx.session.begin_nested():
            accounts.set_password(ctx.session, int(target.id), password)
    except accounts.AccountError as error:
        return _page(ctx, error=str(error), status=422)
    return _page(ctx, message=_password_message(target.login, password, generated))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/accounts", accounts_page)
    app.router.add_post("/staff/accounts", accounts_create)
    app.router.add_post(r"/staff/accounts/{staff_id:\d+}/active", accounts_active)
    app.router.add_post(r"/staff/accounts/{staff_id:\d+}/password", accounts_password)
