"""The overview, ``/staff/overview``: what the public is saying — cases per week and field
(table and SVG chart), by status, response and resolution times, messages awaiting review.
"""

from __future__ import annotations

from aiohttp import web

from bot.cases.forwarding import local_today, tally_by_type
from bot.cases.legal_type import LEGAL_TYPES
from bot.cases.legal_type import label as legal_label
from bot.db.models import CaseStatus
from bot.moderation import quarantine_review
from bot.staff import html as h
from bot.staff import queries
from bot.staff.context import StaffContext, console_view, html_response
from bot.staff.views import nav

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _week_chart(ctx: StaffContext, ov: queries.Overview) -> h.Markup:
    codes = [c.code for c in ctx.categories]
    extra = sorted({k for counts in ov.by_week_category.values() for k in counts} - set(codes))
    codes += extra
    names = ctx.category_names()
    colours = {code: PALETTE[i % len(PALETTE)] for i, code in enumerate(codes)}
    width, height, left, bottom, top = 760, 260, 40, 40, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([sum(c.values()) for c in ov.by_week_category.values()] + [1])
    slot = plot_w / max(1, len(ov.weeks))
    parts = [
        h.fmt(
            '<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" stroke="#888"/>'
            '<line x1="{x}" y1="{y1}" x2="{x2}" y2="{y1}" stroke="#888"/>'
            '<text x="{tx}" y="{ty}" font-size="11" text-anchor="end">{peak}</text>'
            '<text x="{tx}" y="{y1}" font-size="11" text-anchor="end">0</text>',
            x=left,
            y0=top,
            y1=top + plot_h,
            x2=left + plot_w,
            tx=left - 4,
            ty=top + 10,
            peak=peak,
        )
    ]
    for i, week in enumerate(ov.weeks):
        counts = ov.by_week_category[week]
        x = left + i * slot + slot * 0.15
        y = float(top + plot_h)
        for code in codes:
            n = counts.get(code, 0)
            if not n:
                continue
            bar_h = plot_h * n / peak
            y -= bar_h
            parts.append(
                h.fmt(
                    '<rect x="{x}" y="{y}" width="{w}" height="{bh}" fill="{c}">'
                    "<title>Tuần {week}: {name} — {n}</title></rect>",
                    x=f"{x:.1f}",
                    y=f"{y:.1f}",
                    w=f"{slot * 0.7:.1f}",
                    bh=f"{bar_h:.1f}",
                    c=colours[code],
                    week=week.strftime("%d/%m"),
                    name=names.get(code, code or "Chưa phân loại"),
                    n=n,
                )
            )
        parts.append(
            h.fmt(
                '<text x="{x}" y="{y}" font-size="11" text-anchor="middle">{label}</text>',
                x=f"{left + i * slot + slot / 2:.1f}",
                y=top + plot_h + 16,
                label=week.strftime("%d/%m"),
            )
        )
    legend = h.join(
        h.fmt(
            '<span style="margin-right:1rem"><span class="bar" style="width:.9rem;background:{c}">'
            "</span> {name}</span>",
            c=colours[code],
            name=names.get(code, code or "Chưa phân loại"),
        )
        for code in codes
        if any(counts.get(code) for counts in ov.by_week_category.values())
    )
    return h.fmt(
        '<svg role="img" aria-label="Số hồ sơ theo tuần và lĩnh vực" viewBox="0 0 {w} {hh}" '
        'width="100%" style="max-width:{w}px;background:#fff">{parts}</svg><p>{legend}</p>',
        w=width,
        hh=height,
        parts=h.join(parts),
        legend=legend,
    )


def _legal_table(ctx: StaffContext) -> h.Markup:
    """Steps done on time by legal type (issue 17 item 2): the competent bodies' answers to the
    cases the Front forwarded, against the clock of content/legal_deadlines.yml. Counts only."""
    tallies = tally_by_type(ctx.session, ctx.visible, today=local_today(ctx.now))
    order = [*LEGAL_TYPES, None]
    rows = []
    for code in order:
        t = tallies.get(code)
        if t is None:
            continue
        share = f"{100 * t.on_time / t.answered:.0f}%" if t.answered else "—"
        rows.append(h.fmt(
            '<tr data-type="{code}"><td>{label}</td><td>{on_time}</td><td>{late}</td>'
            "<td>{share}</td><td>{waiting}</td><td>{waiting_late}</td><td>{no_clock}</td></tr>",
            code=code or "", label=legal_label(code) if code else "Chưa xác định",
            on_time=t.on_time, late=t.late, share=share, waiting=t.waiting,
            waiting_late=t.waiting_late, no_clock=t.no_clock))
    table = (h.fmt(
        '<table id="legal-on-time"><thead><tr><th>Loại vụ việc</th><th>Trả lời đúng hạn</th>'
        "<th>Trả lời trễ hạn</th><th>Tỉ lệ đúng hạn</th><th>Đang chờ, còn hạn</th>"
        "<th>Đang chờ, quá hạn</th><th>Không có thời hạn</th></tr></thead>"
        "<tbody>{rows}</tbody></table>", rows=h.join(rows)) if rows
        else h.fmt('<p class="muted" id="legal-on-time">Chưa có hồ sơ nào được chuyển cơ quan '
                   "có thẩm quyền.</p>"))
    return h.fmt(
        "<h2>Bước pháp lý đúng hạn theo loại vụ việc</h2>{table}"
        '<p class="muted">Hồ sơ Mặt trận đã chuyển cơ quan có thẩm quyền: cơ quan trả lời trong '
        "thời hạn luật định (hoặc thời hạn của ủy ban khi luật không nêu).</p>", table=table)


@console_view()
def overview_page(ctx: StaffContext) -> web.StreamResponse:
    ov = queries.overview(ctx.session, ctx.visible, now=ctx.now, tz=ctx.tz)
    peak = max(list(ov.by_status.values()) + [1])
    status_rows = h.join(
        h.fmt(
            '<tr><td>{label}</td><td>{n}</td><td><span class="bar" style="width:{w}px"></span></td></tr>',
            label=h.STATUS_LABELS[s],
            n=ov.by_status.get(s.value, 0),
            w=int(300 * ov.by_status.get(s.value, 0) / peak),
        )
        for s in CaseStatus
    )
    names = ctx.category_names()
    cat_codes = [c.code for c in ctx.categories]
    cat_codes += sorted(
        {k for counts in ov.by_week_category.values() for k in counts} - set(cat_codes)
    )
    header = h.join(h.fmt("<th>{n}</th>", n=names.get(c, c or "Chưa phân loại")) for c in cat_codes)
    week_rows = h.join(
        h.fmt(
            "<tr><td>{week}</td>{cells}<td><strong>{total}</strong></td></tr>",
            week=week.strftime("%d/%m/%Y"),
            cells=h.join(
                h.fmt("<td>{n}</td>", n=ov.by_week_category[week].get(c, 0) or "")
                for c in cat_codes
            ),
            total=sum(ov.by_week_category[week].values()),
        )
        for week in ov.weeks
    )
    body = h.fmt(
        "<h1>Tổng quan (12 tuần gần nhất)</h1>"
        '<div class="grid">'
        '<div class="card"><div class="muted">Hồ sơ đã nhận</div><div style="font-size:1.6rem">{total}</div></div>'
        '<div class="card"><div class="muted">Đang quá hạn</div><div style="font-size:1.6rem">{overdue}</div></div>'
        '<div class="card"><div class="muted">Thời gian phản hồi đầu tiên (trung vị)</div>'
        '<div style="font-size:1.6rem" id="median-first-response">{first}</div>'
        '<div class="muted">trên {first_n} hồ sơ</div></div>'
        '<div class="card"><div class="muted">Thời gian giải quyết (trung vị)</div>'
        '<div style="font-size:1.6rem" id="median-resolution">{resolution}</div>'
        '<div class="muted">trên {resolution_n} hồ sơ</div></div>'
        '<div class="card"><div class="muted">Tin bị chặn chờ xem lại</div>'
        '<div style="font-size:1.6rem" id="quarantine-count"><a href="/staff/quarantine">'
        "{quarantined}</a></div></div></div>"
        "<h2>Số hồ sơ theo tuần và lĩnh vực</h2>{chart}"
        "<table><thead><tr><th>Tuần bắt đầu</th>{header}<th>Tổng</th></tr></thead>"
        "<tbody>{week_rows}</tbody></table>"
        "<h2>Theo trạng thái</h2><table><thead><tr><th>Trạng thái</th><th>Số hồ sơ</th><th></th>"
        "</tr></thead><tbody>{status_rows}</tbody></table>"
        "{legal}"
        '<p class="muted">Phản hồi đầu tiên: từ lúc người dân gửi đến thao tác đầu tiên của cán bộ. '
        "Giải quyết: đến lúc hồ sơ chuyển sang «Đã giải quyết» hoặc «Đã đóng».</p>",
        total=ov.total,
        overdue=ov.open_overdue,
        first=h.duration(ov.median_first_response),
        first_n=ov.first_response_count,
        resolution=h.duration(ov.median_resolution),
        resolution_n=ov.resolution_count,
        quarantined=quarantine_review.unreviewed_count(ctx.session),
        chart=_week_chart(ctx, ov),
        header=header,
        week_rows=week_rows,
        status_rows=status_rows,
        legal=_legal_table(ctx),
    )
    return html_response(h.page("Tổng quan", body, nav=nav(ctx)))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/overview", overview_page)
