"""The case queue: ``/staff/cases`` (filters, paging) and ``/staff/cases.csv``, the same
filtered list as a spreadsheet. One filter form drives both, so they live together.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from bot.cases.follow_up import warn_from
from bot.cases.forwarding import NextDue, local_today, next_dues
from bot.cases.sla import WorkingCalendar, load_calendar
from bot.db.models import TERMINAL_STATUSES, Case, CaseStatus
from bot.settings import legal_warn_working_days
from bot.staff import html as h
from bot.staff import queries
from bot.staff.context import StaffContext, console_view, html_response
from bot.staff.views import DONE_MESSAGES, nav, overdue_badge, status_badge


def _filters_form(ctx: StaffContext, f: queries.CaseFilter) -> h.Markup:
    statuses = [("", "Tất cả"), (queries.OPEN, "Chưa xong")] + [
        (s.value, h.STATUS_LABELS[s]) for s in CaseStatus
    ]
    categories = [("", "Tất cả")] + [(c.code, c.name) for c in ctx.categories]
    units = [u for u in ctx.tree if u.code in ctx.visible]
    unit_select = h.Markup("")
    if len(units) > 1:
        unit_select = h.fmt(
            '<label>Đơn vị<select name="unit">{opts}</select></label>',
            opts=h.options([("", "Tất cả")] + [(u.code, u.short_name) for u in units], f.unit),
        )
    return h.fmt(
        '<form class="filters" method="get" action="/staff/cases">'
        '<label>Trạng thái<select name="status">{statuses}</select></label>'
        '<label>Lĩnh vực<select name="category">{categories}</select></label>{units}'
        '<label>Tìm (nội dung, mã hồ sơ)<input type="search" name="q" value="{q}"></label>'
        '<label><span><input type="checkbox" name="overdue" value="1"{overdue}> Quá hạn</span></label>'
        '<label><span><input type="checkbox" name="mine" value="1"{mine}> Giao cho tôi</span></label>'
        '<button type="submit">Lọc</button> <a href="/staff/cases">Bỏ lọc</a> '
        '<a href="/staff/cases.csv?{qs}">Tải CSV</a></form>',
        statuses=h.options(statuses, f.status),
        categories=h.options(categories, f.category),
        units=unit_select,
        q=f.q,
        overdue=h.Markup(" checked") if f.overdue else h.Markup(""),
        mine=h.Markup(" checked") if f.mine else h.Markup(""),
        qs=f.query_string(page=1),
    )


def _excerpt(text: str, limit: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _legal_cell(
    due: NextDue | None, today: date, case: Case, calendar: WorkingCalendar
) -> h.Markup:
    """The next legal step and its due day, with a badge from LEGAL_WARN_WORKING_DAYS working
    days before it (issue 17 item 2)."""
    if due is None:
        return h.fmt("—")
    if due.due_on is None:
        return h.fmt('{label} <span class="muted">(không có thời hạn)</span>', label=due.label)
    badge = h.Markup("")
    if CaseStatus(case.status) not in TERMINAL_STATUSES:
        if today > due.due_on:
            badge = h.fmt(' <span class="badge overdue">Quá hạn</span>')
        elif today >= warn_from(due.due_on, legal_warn_working_days(), calendar):
            badge = h.fmt(' <span class="badge">Sắp đến hạn</span>')
    return h.fmt("{label}: {due}{badge}", label=due.label, due=f"{due.due_on:%d/%m/%Y}",
                 badge=badge)


@console_view()
def queue_page(ctx: StaffContext) -> web.StreamResponse:
    f = queries.CaseFilter.from_query(ctx.request.query)
    cases, total = queries.queue(ctx.session, f, int(ctx.staff.id), ctx.visible, ctx.now)
    names = queries.staff_names(ctx.session, (c.assignee_id for c in cases))
    category_names = ctx.category_names()
    together = queries.cluster_sizes(ctx.session, [c.cluster_id for c in cases])
    calendar = load_calendar()
    legal = next_dues(ctx.session, cases, calendar)
    today = local_today(ctx.now, calendar)
    rows = []
    for case in cases:
        overdue = queries.is_overdue(case, ctx.now)
        rows.append(
            h.fmt(
                '<tr class="{cls}"><td><a href="/staff/cases/{id}">{ref}</a>{together}</td><td>{created}</td>'
                "<td>{kind}</td><td>{category}</td><td>{content}</td><td>{unit}</td>"
                "<td>{status}{overdue}</td><td>{due}</td><td class=\"legal-next\">{legal}</td>"
                "<td>{assignee}</td></tr>",
                cls="overdue" if overdue else "",
                id=case.id,
                ref=case.ref_code,
                together=h.fmt(' <span class="badge" title="Cùng phản ánh một sự việc">'
                               "+{n} người cùng phản ánh</span>",
                               n=together[case.cluster_id] - 1)
                if case.cluster_id is not None and together.get(case.cluster_id, 1) > 1
                else "",
                created=h.local_time(case.created_at, ctx.tz),
                kind=h.kind_label(case.kind),
                category=category_names.get(case.category or "", case.category or ""),
                content=_excerpt(case.content),
                unit=ctx.unit_name(case.unit_code),
                status=status_badge(case.status),
                overdue=overdue_badge(case, ctx),
                due=h.local_time(case.sla_due_at, ctx.tz),
                legal=_legal_cell(legal.get(case.id), today, case, calendar),
                assignee=names.get(case.assignee_id, "") if case.assignee_id else "—",
            )
        )
    pages = max(1, -(-total // f.per_page))
    pager = [h.fmt("<span>Trang {p}/{n} · {t} hồ sơ</span>", p=f.page, n=pages, t=total)]
    if f.page > 1:
        pager.append(
            h.fmt(
                '<a href="/staff/cases?{qs}">« Trang trước</a>', qs=f.query_string(page=f.page - 1)
            )
        )
    if f.page < pages:
        pager.append(
            h.fmt('<a href="/staff/cases?{qs}">Trang sau »</a>', qs=f.query_string(page=f.page + 1))
        )
    table = (
        h.fmt(
            "<table><thead><tr><th>Mã hồ sơ</th><th>Ngày gửi</th><th>Loại</th><th>Lĩnh vực</th>"
            "<th>Nội dung</th><th>Đơn vị</th><th>Trạng thái</th><th>Hạn xử lý</th>"
            "<th>Bước pháp lý tiếp theo</th><th>Cán bộ</th></tr></thead><tbody>{rows}</tbody>"
            "</table>",
            rows=h.join(rows),
        )
        if rows
        else h.fmt('<div class="card">Không có hồ sơ nào khớp bộ lọc.</div>')
    )
    body = h.fmt(
        '<h1>Hồ sơ</h1>{filters}{table}<div class="pager">{pager}</div>',
        filters=_filters_form(ctx, f),
        table=table,
        pager=h.join(pager, " "),
    )
    flash = h.flash_box(DONE_MESSAGES.get(ctx.request.query.get("done", "")))
    return html_response(h.page("Hồ sơ", body, nav=nav(ctx), flash=flash))


@console_view()
def queue_csv(ctx: StaffContext) -> web.StreamResponse:
    f = queries.CaseFilter.from_query(ctx.request.query)
    cases = queries.all_matching(ctx.session, f, int(ctx.staff.id), ctx.visible, ctx.now)
    data = queries.csv_bytes(
        cases,
        now=ctx.now,
        tz=ctx.tz,
        category_names=ctx.category_names(),
        unit_names={u.code: u.short_name for u in ctx.tree},
        assignees=queries.staff_names(ctx.session, (c.assignee_id for c in cases)),
        legal=next_dues(ctx.session, cases),
    )
    stamp = ctx.now.astimezone(ctx.tz).strftime("%Y%m%d-%H%M")
    return web.Response(
        body=data,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="ho-so-{stamp}.csv"',
        },
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/cases", queue_page)
    app.router.add_get("/staff/cases.csv", queue_csv)
