"""The announcement pages of the console (issue 16): list, compose with previews, the four-eyes
approval, and the delivery report (page and CSV).

Any signed-in officer sees the announcements of the units they can see; only a unit_admin writes
one, and only *another* unit_admin of the same unit approves or rejects it
(``bot.announcements.service``: the rule is enforced there, the page only hides buttons). Every
step is in the announcement's audit trail, shown on its page. No scripts (the console's CSP):
"Xem trước" posts the form and the page comes back with the three previews.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy import select

from bot.announcements import service
from bot.announcements.report import report, report_csv
from bot.announcements.rules import load_rules
from bot.db.models import SUBSCRIPTION_TOPICS, Announcement, AnnouncementStatus, Staff, StaffRole
from bot.staff import announcement_views as v
from bot.staff import html as h
from bot.staff.context import (
    StaffContext,
    console_view,
    html_response,
    not_found_page,
    redirect,
)
from bot.staff.views import nav

DONE = {
    "created": "Đã lưu bản nháp.",
    "submitted": "Đã gửi thông báo để một quản trị viên khác của đơn vị duyệt.",
    "approved": "Đã duyệt. Thông báo sẽ được gửi theo quy định của từng nền tảng.",
    "scheduled": "Đã duyệt và hẹn giờ gửi.",
    "rejected": "Đã từ chối thông báo.",
    "cancelled": "Đã huỷ thông báo.",
}


def _names(ctx: StaffContext, ids: set[int]) -> dict[int, str]:
    rows = ctx.session.execute(
        select(Staff.id, Staff.display_name, Staff.login).where(Staff.id.in_(sorted(ids)))
    ).all()
    return {i: (name or login) for i, name, login in rows}


def _visible(ctx: StaffContext, announcement_id: int | None) -> Announcement | None:
    if announcement_id is None:
        return None
    announcement = ctx.session.get(Announcement, announcement_id)
    if announcement is None or announcement.unit_code not in ctx.visible:
        return None
    return announcement


@console_view()
def announcement_list(ctx: StaffContext) -> web.StreamResponse:
    items = (
        ctx.session.execute(
            select(Announcement)
            .where(Announcement.unit_code.in_(sorted(ctx.visible)))
            .order_by(Announcement.id.desc())
            .limit(200)
        )
        .scalars()
        .all()
    )
    names = _names(ctx, {int(a.author_id) for a in items})
    rows = [
        h.fmt(
            '<tr><td><a href="/staff/announcements/{id}">#{id}</a></td><td>{topic}</td>'
            '<td class="content">{text}</td><td>{units}</td><td>{status}</td><td>{author}</td>'
            "<td>{when}</td></tr>",
            id=a.id,
            topic=v.topic_label(a.topic),
            text=a.text[:120],
            units=", ".join(ctx.unit_name(u) for u in a.target_units or []),
            status=v.status_label(a.status),
            author=names.get(int(a.author_id), ""),
            when=h.local_time(a.created_at, ctx.tz),
        )
        for a in items
    ]
    compose = (
        h.fmt('<p><a href="/staff/announcements/new">Soạn thông báo mới</a></p>')
        if ctx.role == StaffRole.UNIT_ADMIN
        else h.Markup("")
    )
    table = (
        h.fmt(
            "<table><thead><tr><th>Số</th><th>Chủ đề</th><th>Nội dung</th><th>Đơn vị nhận</th>"
            "<th>Trạng thái</th><th>Người soạn</th><th>Ngày soạn</th></tr></thead>"
            "<tbody>{rows}</tbody></table>",
            rows=h.join(rows),
        )
        if rows
        else h.fmt('<p class="muted">Chưa có thông báo nào.</p>')
    )
    body = h.fmt(
        "<h1>Thông báo tới người đăng ký</h1>"
        '<p class="muted">Thông báo chỉ đến người dân đã đăng ký nhận tin của đơn vị và chủ đề '
        "tương ứng, qua kênh họ đã dùng, trong phạm vi nền tảng cho phép. Mỗi thông báo cần một "
        "quản trị viên khác của đơn vị duyệt.</p>{compose}{table}",
        compose=compose,
        table=table,
    )
    flash = h.flash_box(DONE.get(ctx.request.query.get("done", "")))
    return html_response(h.page("Thông báo", body, nav=nav(ctx), flash=flash))


def _form(
    ctx: StaffContext, *, error: str | None = None, preview: bool = False, status: int = 200
) -> web.Response:
    units = sorted(ctx.visible, key=lambda code: (code != ctx.staff.unit_code, code))
    chosen = set(ctx.form.getall("units", [])) if hasattr(ctx.form, "getall") else set()
    if not chosen:
        chosen = {str(ctx.staff.unit_code)}
    unit_boxes = h.join(
        h.fmt(
            '<label style="font-weight:normal"><input type="checkbox" name="units" value="{code}"'
            "{checked}> {name}</label><br>",
            code=code,
            name=ctx.unit_name(code),
            checked=h.Markup(" checked") if code in chosen else h.Markup(""),
        )
        for code in units
    )
    topic_options = h.options(
        ((t, v.topic_label(t)) for t in SUBSCRIPTION_TOPICS), ctx.field("topic")
    )
    shown = h.Markup("")
    if preview and ctx.field("text").strip():
        shown = h.fmt(
            "<h2>Xem trước</h2>{p}",
            p=v.previews(
                text=ctx.field("text"),
                image_url=ctx.field("image_url").strip() or None,
                link_url=ctx.field("link_url").strip() or None,
                unit_name=ctx.unit_name(str(ctx.staff.unit_code)),
            ),
        )
    body = h.fmt(
        "<h1>Soạn thông báo</h1>"
        '<form method="post" action="/staff/announcements/new" class="card">{csrf}'
        '<p><label for="topic">Chủ đề</label><br><select id="topic" name="topic">'
        '<option value="">— chọn —</option>{topics}</select></p>'
        '<p><label for="text">Nội dung</label><br><textarea id="text" name="text" rows="6" '
        'maxlength="4000">{text}</textarea></p>'
        '<p><label for="image_url">Ảnh (đường dẫn, không bắt buộc)</label><br>'
        '<input type="text" id="image_url" name="image_url" size="60" value="{image}"></p>'
        '<p><label for="link_url">Liên kết (không bắt buộc)</label><br>'
        '<input type="text" id="link_url" name="link_url" size="60" value="{link}"></p>'
        "<fieldset><legend>Đơn vị nhận (cùng các đơn vị trực thuộc)</legend>{units}</fieldset>"
        '<p><button type="submit" name="action" value="preview" class="secondary">Xem trước'
        '</button> <button type="submit" name="action" value="save" class="secondary">Lưu nháp'
        '</button> <button type="submit" name="action" value="submit">Gửi duyệt</button></p>'
        "</form>{shown}",
        csrf=h.hidden_csrf(ctx.csrf),
        topics=topic_options,
        text=ctx.field("text"),
        image=ctx.field("image_url"),
        link=ctx.field("link_url"),
        units=unit_boxes,
        shown=shown,
    )
    flash = h.flash_box(error, error=True) if error else None
    return html_response(h.page("Soạn thông báo", body, nav=nav(ctx), flash=flash), status)


@console_view(frozenset({StaffRole.UNIT_ADMIN}))
def announcement_new(ctx: StaffContext) -> web.StreamResponse:
    return _form(ctx)


@console_view(frozenset({StaffRole.UNIT_ADMIN}))
def announcement_create(ctx: StaffContext) -> web.StreamResponse:
    action = ctx.field("action")
    if action == "preview":
        return _form(ctx, preview=True)
    units = ctx.form.getall("units", []) if hasattr(ctx.form, "getall") else []
    try:
        with ctx.session.begin_nested():
            announcement = service.create(
                ctx.session,
                ctx.staff,
                text=ctx.field("text"),
                topic=ctx.field("topic"),
                target_units=[str(u) for u in units],
                allowed_units=ctx.visible,
                image_url=ctx.field("image_url"),
                link_url=ctx.field("link_url"),
                submit_now=action == "submit",
                now=ctx.now,
            )
    except service.AnnouncementError as error:
        return _form(ctx, error=v.ERRORS.get(error.code, str(error)), preview=True, status=422)
    done = "submitted" if action == "submit" else "created"
    return redirect(f"/staff/announcements/{announcement.id}?done={done}")


def _detail(
    ctx: StaffContext, announcement: Announcement, *, error: str | None = None, status: int = 200
) -> web.Response:
    events = service.events_of(ctx.session, int(announcement.id))
    ids = {int(announcement.author_id)} | {int(e.staff_id) for e in events if e.staff_id}
    names = _names(ctx, ids)
    csrf = h.hidden_csrf(ctx.csrf)
    state = AnnouncementStatus(announcement.status)
    actions = []
    is_author = int(ctx.staff.id) == int(announcement.author_id)
    same_admin = ctx.role == StaffRole.UNIT_ADMIN and ctx.staff.unit_code == announcement.unit_code
    base = f"/staff/announcements/{announcement.id}"
    if state == AnnouncementStatus.DRAFT and same_admin:
        actions.append(
            h.fmt(
                '<form method="post" action="{b}/submit">{csrf}<button '
                'type="submit">Gửi duyệt</button></form>',
                b=base,
                csrf=csrf,
            )
        )
    if service.may_approve(announcement, ctx.staff):
        actions.append(
            h.fmt(
                '<form method="post" action="{b}/approve" class="card">{csrf}'
                '<p><label for="send_at">Hẹn giờ gửi (để trống: gửi ngay)</label><br>'
                '<input type="datetime-local" id="send_at" name="send_at"></p>'
                '<button type="submit">Duyệt và gửi</button></form>'
                '<form method="post" action="{b}/reject" class="card">{csrf}'
                '<p><label for="reason">Lý do từ chối</label><br>'
                '<textarea id="reason" name="reason" rows="2"></textarea></p>'
                '<button type="submit" class="secondary">Từ chối</button></form>',
                b=base,
                csrf=csrf,
            )
        )
    elif state == AnnouncementStatus.PENDING_APPROVAL and is_author:
        actions.append(
            h.fmt(
                '<p class="muted">Đang chờ một quản trị viên khác của đơn vị '
                "duyệt (người soạn không tự duyệt).</p>"
            )
        )
    if state in service.EDITABLE and same_admin:
        actions.append(
            h.fmt(
                '<form method="post" action="{b}/cancel">{csrf}<button '
                'type="submit" class="secondary">Huỷ thông báo</button></form>',
                b=base,
                csrf=csrf,
            )
        )
    shown_report = h.Markup("")
    if state in (AnnouncementStatus.SENDING, AnnouncementStatus.SENT):
        shown_report = v.report_table(
            report(ctx.session, int(announcement.id)), int(announcement.id)
        )
    scheduled = ""
    if state == AnnouncementStatus.SCHEDULED:
        scheduled = f" · gửi lúc {h.local_time(announcement.scheduled_at, ctx.tz)}"
    rejected = (
        h.fmt('<p class="error-text">Lý do từ chối: {r}</p>', r=announcement.decision_note)
        if state == AnnouncementStatus.REJECTED
        else h.Markup("")
    )
    body = h.fmt(
        "<h1>Thông báo #{id} · {status}{scheduled}</h1>"
        '<dl class="meta"><dt>Chủ đề</dt><dd>{topic}</dd><dt>Đơn vị nhận</dt><dd>{units}</dd>'
        "<dt>Người soạn</dt><dd>{author}</dd><dt>Người duyệt</dt><dd>{approver}</dd></dl>"
        '{rejected}<div class="actions">{actions}</div>{report}'
        "<h2>Xem trước theo kênh</h2>{previews}"
        '<p class="muted">Giới hạn gửi: {limits}.</p>{history}',
        id=announcement.id,
        status=v.status_label(announcement.status),
        scheduled=scheduled,
        topic=v.topic_label(announcement.topic),
        units=", ".join(ctx.unit_name(u) for u in announcement.target_units or []),
        author=names.get(int(announcement.author_id), ""),
        approver=names.get(int(announcement.approver_id), "") if announcement.approver_id else "—",
        rejected=rejected,
        actions=h.join(actions),
        report=shown_report,
        previews=v.previews(
            text=announcement.text,
            image_url=announcement.image_url,
            link_url=announcement.link_url,
            unit_name=ctx.unit_name(announcement.unit_code),
        ),
        limits=v.rules_note(load_rules()),
        history=v.history(events, names, ctx.tz),
    )
    flash = (
        h.flash_box(error, error=True)
        if error
        else h.flash_box(DONE.get(ctx.request.query.get("done", "")))
    )
    return html_response(
        h.page(f"Thông báo #{announcement.id}", body, nav=nav(ctx), flash=flash), status
    )


@console_view()
def announcement_page(ctx: StaffContext) -> web.StreamResponse:
    announcement = _visible(ctx, ctx.match_int("announcement_id"))
    if announcement is None:
        return not_found_page()
    return _detail(ctx, announcement)


def _send_at(ctx: StaffContext) -> datetime | None:
    raw = ctx.field("send_at").strip()
    if not raw:
        return None
    try:
        local = datetime.strptime(raw, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise service.AnnouncementError("bad_time") from None
    return local.replace(tzinfo=ctx.tz).astimezone(ctx.now.tzinfo)


def _step(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @console_view()
    def handler(ctx: StaffContext) -> web.StreamResponse:
        announcement = _visible(ctx, ctx.match_int("announcement_id"))
        if announcement is None:
            return not_found_page()
        done = name
        try:
            with ctx.session.begin_nested():
                if name == "submit":
                    service.submit(ctx.session, announcement, ctx.staff, now=ctx.now)
                    done = "submitted"
                elif name == "approve":
                    send_at = _send_at(ctx)
                    service.approve(
                        ctx.session, announcement, ctx.staff, now=ctx.now, send_at=send_at
                    )
                    done = "scheduled" if send_at else "approved"
                elif name == "reject":
                    service.reject(
                        ctx.session,
                        announcement,
                        ctx.staff,
                        reason=ctx.field("reason"),
                        now=ctx.now,
                    )
                    done = "rejected"
                else:
                    service.cancel(ctx.session, announcement, ctx.staff, now=ctx.now)
                    done = "cancelled"
        except service.AnnouncementError as error:
            ctx.session.refresh(announcement)
            return _detail(
                ctx,
                announcement,
                error=v.ERRORS.get(error.code, str(error)),
                status=403
                if error.code in ("own_announcement", "not_admin", "other_unit")
                else 422,
            )
        return redirect(f"/staff/announcements/{announcement.id}?done={done}")

    handler.__name__ = f"announcement_{name}"
    return handler


@console_view()
def announcement_csv(ctx: StaffContext) -> web.StreamResponse:
    announcement = _visible(ctx, ctx.match_int("announcement_id"))
    if announcement is None:
        return not_found_page()
    return web.Response(
        text=report_csv(ctx.session, int(announcement.id)),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="announcement-{announcement.id}-report.csv"'
        },
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/announcements", announcement_list)
    app.router.add_get("/staff/announcements/new", announcement_new)
    app.router.add_post("/staff/announcements/new", announcement_create)
    app.router.add_get(r"/staff/announcements/{announcement_id:\d+}", announcement_page)
    app.router.add_get(r"/staff/announcements/{announcement_id:\d+}/report.csv", announcement_csv)
    for name in ("submit", "approve", "reject", "cancel"):
        app.router.add_post(rf"/staff/announcements/{{announcement_id:\d+}}/{name}", _step(name))
