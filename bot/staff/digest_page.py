"""The digest page, ``/staff/digest`` (issue 15 item 2): what the public told a unit and the units
below it over a period, against the periods before — with charts (inline SVG: the console's
Content-Security-Policy allows no script), a period selector (a plain GET form), links from each
rising topic to its same-issue cluster's case page, and the CSV and PDF exports
(:mod:`bot.staff.digest_export`).

The figures are :func:`bot.cases.digest.build_digest`'s; this module only lays them out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from urllib.parse import urlencode

from aiohttp import web

from bot.cases.digest import PERIOD_DAYS, Change, Digest, OpenCase, Period, build_digest
from bot.staff import html as h
from bot.staff.context import StaffContext, console_view, html_response, not_found_page
from bot.staff.digest_text import (
    TITLE,
    aspect_name,
    baseline_text,
    category_namer,
    change_text,
    period_text,
    programme_name,
    term_name,
    timing_text,
    topic_name,
)
from bot.staff.views import nav

__all__ = ["DigestRequest", "digest_request", "setup_routes"]

NOW_COLOUR, BEFORE_COLOUR = "#b3141b", "#9fb3c8"


class DigestRequest:
    """Which unit and period a digest request asks for, read leniently from the query string:
    a unit the officer may see (default: their own), a period length among
    :data:`PERIOD_DAYS`, the period's last day (default: yesterday)."""

    def __init__(self, ctx: StaffContext) -> None:
        query = ctx.request.query
        wanted = (query.get("unit") or "").strip() or str(ctx.staff.unit_code)
        self.unit: str | None = wanted if wanted in ctx.visible else None
        try:
            days = int(query.get("days") or PERIOD_DAYS[0])
        except ValueError:
            days = PERIOD_DAYS[0]
        self.days = days if days in PERIOD_DAYS else PERIOD_DAYS[0]
        try:
            end = date.fromisoformat((query.get("end") or "").strip())
        except ValueError:
            end = Period.last(ctx.now, ctx.tz).last_day
        self.end = min(end, ctx.now.astimezone(ctx.tz).date())  # today at the latest
        self.period = Period.ending(self.end, ctx.tz, self.days)

    def query(self, **changes: str) -> str:
        values = {"unit": self.unit or "", "days": str(self.days), "end": self.end.isoformat()}
        values.update(changes)
        return urlencode(values)


def digest_request(ctx: StaffContext) -> tuple[DigestRequest, Digest | None]:
    """The request and its digest (None when the unit is not one the officer may see)."""
    req = DigestRequest(ctx)
    if req.unit is None:
        return req, None
    units = (
        [req.unit] + [u.code for u in ctx.tree.descendants(req.unit)]
        if req.unit in ctx.tree
        else [req.unit]
    )
    units = [u for u in units if u in ctx.visible]
    return req, build_digest(
        ctx.session, req.unit, tz=ctx.tz, period=req.period, now=ctx.now, units=units
    )


# --------------------------------------------------------------------------- charts


def bar_chart(rows: Sequence[Change], name: Callable[[str], str], label: str) -> h.Markup:
    """Horizontal bars: the period (dark) over the baseline's average (light), per row."""
    rows = list(rows)[:12]
    if not rows:
        return h.fmt('<p class="muted">Không có hồ sơ trong kỳ.</p>')
    width, left, row_h = 760, 230, 30
    plot = width - left - 60
    peak = max([max(r.current, r.baseline) for r in rows] + [1])
    parts = []
    for i, row in enumerate(rows):
        y = 8 + i * row_h
        now_w, before_w = plot * row.current / peak, plot * row.baseline / peak
        parts.append(
            h.fmt(
                '<text x="{tx}" y="{ty}" font-size="12" text-anchor="end">{name}</text>'
                '<rect x="{x}" y="{y1}" width="{w1}" height="11" fill="{c1}"><title>{name}: {n} '
                "trong kỳ</title></rect>"
                '<rect x="{x}" y="{y2}" width="{w2}" height="7" fill="{c2}"><title>{name}: trung '
                "bình {b} mỗi kỳ trước</title></rect>"
                '<text x="{nx}" y="{ty}" font-size="12">{n} ({change})</text>',
                tx=left - 6,
                ty=y + 13,
                name=name(row.key)[:34],
                x=left,
                y1=y + 2,
                w1=f"{now_w:.1f}",
                c1=NOW_COLOUR,
                y2=y + 14,
                w2=f"{before_w:.1f}",
                c2=BEFORE_COLOUR,
                n=row.current,
                b=baseline_text(row.baseline),
                nx=f"{left + max(now_w, before_w) + 6:.1f}",
                change=change_text(row),
            )
        )
    height = 16 + len(rows) * row_h
    return h.fmt(
        '<svg role="img" aria-label="{label}" viewBox="0 0 {w} {hh}" width="100%" '
        'style="max-width:{w}px;background:#fff">{parts}</svg>'
        '<p class="muted"><span class="bar" style="width:.9rem;background:{c1}"></span> trong kỳ '
        '<span class="bar" style="width:.9rem;background:{c2};margin-left:1rem"></span> trung bình '
        "mỗi kỳ trước</p>",
        label=label,
        w=width,
        hh=height,
        parts=h.join(parts),
        c1=NOW_COLOUR,
        c2=BEFORE_COLOUR,
    )


def rating_chart(ratings: Mapping[int, int]) -> h.Markup:
    total = sum(ratings.values())
    if not total:
        return h.fmt('<p class="muted">Chưa có đánh giá trong kỳ.</p>')
    peak = max(ratings.values())
    bars = h.join(
        h.fmt(
            '<tr><td>{k} sao</td><td>{n}</td><td><span class="bar" style="width:{w}px">'
            "</span></td></tr>",
            k=k,
            n=ratings.get(k, 0),
            w=int(240 * ratings.get(k, 0) / peak),
        )
        for k in range(5, 0, -1)
    )
    return h.fmt("<table><tbody>{bars}</tbody></table>", bars=bars)


# --------------------------------------------------------------------------- sections


def _change_table(rows: Sequence[Change], name: Callable[[str], str], what: str) -> h.Markup:
    body = h.join(
        h.fmt(
            "<tr><td>{name}</td><td>{n}</td><td>{b}</td><td>{c}</td></tr>",
            name=name(r.key),
            n=r.current,
            b=baseline_text(r.baseline),
            c=change_text(r),
        )
        for r in rows
    )
    return h.fmt(
        "<table><thead><tr><th>{what}</th><th>Trong kỳ</th><th>Trung bình các kỳ trước</th>"
        "<th>Thay đổi</th></tr></thead><tbody>{body}</tbody></table>",
        what=what,
        body=body,
    )


def _topics(ctx: StaffContext, digest: Digest) -> h.Markup:
    if not digest.rising_topics:
        return h.fmt('<p class="muted">Không có vấn đề nào tăng rõ rệt trong kỳ.</p>')
    items = []
    for topic in digest.rising_topics:
        link = h.Markup("")
        if topic.cluster_id is not None:
            link = h.fmt(
                ' · <a class="topic-cluster" href="/staff/cases/{id}">Xem nhóm {n} hồ sơ '
                "cùng phản ánh</a>",
                id=topic.cluster_id,
                n=topic.cluster_size,
            )
        quotes = h.join(
            h.fmt(
                '<blockquote class="content">{text} <a class="muted" '
                'href="/staff/cases/{id}">{ref}</a></blockquote>',
                text=q.text,
                id=q.case_id,
                ref=q.ref_code,
            )
            for q in topic.quotes
        )
        items.append(
            h.fmt(
                '<div class="card topic"><h3 style="margin:.2rem 0">{name}</h3>'
                '<div class="muted">{n} hồ sơ trong kỳ, trung bình {b} mỗi kỳ trước · {c}{link}</div>'
                "{quotes}</div>",
                name=topic_name(topic.key),
                n=topic.current,
                b=baseline_text(topic.baseline),
                c=change_text(topic),
                link=link,
                quotes=quotes,
            )
        )
    return h.join(items)


def _clusters(digest: Digest) -> h.Markup:
    if not digest.growing_clusters:
        return h.fmt('<p class="muted">Không có nhóm cùng phản ánh nào lớn thêm trong kỳ.</p>')
    rows = h.join(
        h.fmt(
            '<tr><td><a href="/staff/cases/{id}">{ref}</a></td><td>{topics}</td><td>{size}</td>'
            "<td>+{new}</td><td>{quote}</td></tr>",
            id=c.cluster_id,
            ref=c.ref_code,
            topics=", ".join(topic_name(t) for t in c.topics),
            size=c.size,
            new=c.new,
            quote=c.quote.text if c.quote else "",
        )
        for c in digest.growing_clusters
    )
    return h.fmt(
        "<table><thead><tr><th>Nhóm</th><th>Vấn đề</th><th>Số hồ sơ</th>"
        "<th>Mới trong kỳ</th><th>Trích ý kiến</th></tr></thead><tbody>{rows}</tbody>"
        "</table>",
        rows=rows,
    )


def _terms(digest: Digest) -> h.Markup:
    if not digest.rising_terms:
        return h.Markup("")
    return h.fmt(
        "<h3>Cụm từ tăng nhanh</h3>{t}",
        t=_change_table(digest.rising_terms, term_name, "Cụm từ (không dấu)"),
    )


def _cases(ctx: StaffContext, rows: Sequence[OpenCase], stamp: str, empty: str) -> h.Markup:
    if not rows:
        return h.fmt('<p class="muted">{e}</p>', e=empty)
    names = category_namer(ctx.category_names())
    body = h.join(
        h.fmt(
            '<tr><td><a href="/staff/cases/{id}">{ref}</a></td><td>{unit}</td><td>{cat}</td>'
            "<td>{status}</td><td>{when}</td></tr>",
            id=c.id,
            ref=c.ref_code,
            unit=ctx.unit_name(c.unit_code),
            cat=names(c.category or ""),
            status=h.status_label(c.status),
            when=h.local_time(c.sla_due_at if stamp == "due" else c.created_at, ctx.tz),
        )
        for c in rows
    )
    head = "Hạn xử lý" if stamp == "due" else "Ngày gửi"
    return h.fmt(
        "<table><thead><tr><th>Mã</th><th>Đơn vị</th><th>Lĩnh vực</th><th>Trạng thái"
        "</th><th>{head}</th></tr></thead><tbody>{body}</tbody></table>",
        head=head,
        body=body,
    )


def _questions(digest: Digest) -> h.Markup:
    q = digest.questions
    if q is None:
        return h.Markup("")
    asked = h.join(
        h.fmt(
            "<tr><td>{p}</td><td>{a}</td><td>{n}</td></tr>",
            p=programme_name(p),
            a=aspect_name(a),
            n=n,
        )
        for p, a, n in q.asked
    )
    missed = h.join(
        h.fmt(
            "<tr><td>{t}</td><td>{p}</td><td>{n}</td></tr>",
            t=t or "(không lưu lời)",
            p=programme_name(p) if p else "—",
            n=n,
        )
        for t, p, _, n in q.unanswered
    )
    return h.fmt(
        '<h2 id="questions">Câu hỏi của người dân cho trợ lý ảo (dành cho người huấn luyện)</h2>'
        "<h3>Hỏi nhiều nhất về các chương trình</h3>"
        "<table><thead><tr><th>Chương trình</th><th>Nội dung hỏi</th><th>Số lần</th></tr></thead>"
        "<tbody>{asked}</tbody></table>"
        '<h3>Trợ lý ảo chưa trả lời được</h3><p class="muted">{nu} tin nhắn trợ lý không hiểu '
        "trong kỳ. Lời hỏi đã che tên và số điện thoại.</p>"
        "<table><thead><tr><th>Câu hỏi</th><th>Chương trình</th><th>Số lần</th></tr></thead>"
        "<tbody>{missed}</tbody></table>",
        asked=asked,
        missed=missed,
        nu=q.not_understood,
    )


def _selector(ctx: StaffContext, req: DigestRequest) -> h.Markup:
    units = sorted(
        ctx.visible,
        key=lambda code: (
            len(ctx.tree.ancestors(code)) if code in ctx.tree else 9,
            ctx.unit_name(code),
        ),
    )
    return h.fmt(
        '<form method="get" action="/staff/digest" class="filters" id="period">'
        '<label>Đơn vị<select name="unit">{units}</select></label>'
        '<label>Độ dài kỳ<select name="days">{days}</select></label>'
        '<label>Đến hết ngày<input type="date" name="end" value="{end}"></label>'
        '<button type="submit">Xem</button>'
        '<a href="/staff/digest.csv?{q}">Tải CSV</a> <a href="/staff/digest.pdf?{q}">Tải PDF</a>'
        "</form>",
        units=h.options([(c, ctx.unit_name(c)) for c in units], req.unit),
        days=h.options([(str(d), f"{d} ngày") for d in PERIOD_DAYS], str(req.days)),
        end=req.end.isoformat(),
        q=req.query(),
    )


def _card(label: str, value: object, extra: str = "", ident: str = "") -> h.Markup:
    return h.fmt(
        '<div class="card"><div class="muted">{label}</div>'
        '<div style="font-size:{size}"{ident}>{value}</div><div class="muted">{extra}'
        "</div></div>",
        label=label,
        value=value,
        size="1.5rem" if isinstance(value, int) or len(str(value)) < 8 else "1.05rem",
        extra=extra,
        ident=h.Markup(f' id="{ident}"') if ident else h.Markup(""),
    )


def render(ctx: StaffContext, req: DigestRequest, digest: Digest) -> h.Markup:
    names = category_namer(ctx.category_names())
    avg = digest.rating_average
    body = h.fmt(
        "<h1>{title} · {unit}</h1><p>{period}</p>{selector}"
        '<div class="grid">{c1}{c2}{c3}{c4}{c5}{c6}</div>'
        '<h2 id="rising">Vấn đề tăng nhanh</h2>{topics}{terms}'
        "<h2>Nhóm cùng phản ánh lớn thêm</h2>{clusters}"
        "<h2>Theo lĩnh vực</h2>{cat_chart}{cat_table}"
        "<h2>Theo đơn vị</h2>{unit_chart}{unit_table}"
        '<h2 id="overdue">Quá hạn ({overdue_n})</h2>{overdue}'
        "<h2>Chưa ai phản hồi, lâu nhất ({unanswered_n})</h2>{unanswered}"
        "<h2>Đánh giá của người dân</h2>{ratings}{questions}",
        title=TITLE,
        unit=ctx.unit_name(digest.unit_code),
        period=period_text(digest.period),
        selector=_selector(ctx, req),
        c1=_card(
            "Hồ sơ nhận trong kỳ", digest.total.current, change_text(digest.total), "digest-total"
        ),
        c2=_card("Đang quá hạn", digest.overdue_count),
        c3=_card("Chưa ai phản hồi", digest.unanswered_count),
        c4=_card("Phản hồi đầu tiên", timing_text(digest.first_response)),
        c5=_card("Giải quyết", timing_text(digest.resolution)),
        c6=_card(
            "Đánh giá trung bình",
            f"{avg:.1f}/5" if avg is not None else "—",
            f"{sum(digest.ratings.values())} lượt",
        ),
        topics=_topics(ctx, digest),
        terms=_terms(digest),
        clusters=_clusters(digest),
        cat_chart=bar_chart(digest.by_category, names, "Số hồ sơ theo lĩnh vực"),
        cat_table=_change_table(digest.by_category, names, "Lĩnh vực"),
        unit_chart=bar_chart(digest.by_unit, ctx.unit_name, "Số hồ sơ theo đơn vị"),
        unit_table=_change_table(digest.by_unit, ctx.unit_name, "Đơn vị"),
        overdue_n=digest.overdue_count,
        overdue=_cases(ctx, digest.overdue, "due", "Không có hồ sơ quá hạn."),
        unanswered_n=digest.unanswered_count,
        unanswered=_cases(ctx, digest.oldest_unanswered, "created", "Mọi hồ sơ đã được phản hồi."),
        ratings=rating_chart(digest.ratings),
        questions=_questions(digest),
    )
    return h.page(TITLE, body, nav=nav(ctx))


@console_view()
def digest_page(ctx: StaffContext) -> web.StreamResponse:
    req, digest = digest_request(ctx)
    if digest is None:
        return not_found_page()
    return html_response(render(ctx, req, digest))


def setup_routes(app: web.Application) -> None:
    from bot.staff.digest_export import digest_csv, digest_pdf

    app.router.add_get("/staff/digest", digest_page)
    app.router.add_get("/staff/digest.csv", digest_csv)
    app.router.add_get("/staff/digest.pdf", digest_pdf)
