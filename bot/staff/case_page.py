"""The page of one case, ``/staff/cases/{id}``: what the citizen sent, its attachments, the
messages queued for them, internal notes, history, and the forms of ``bot.staff.case_actions``.

Everything a citizen wrote goes through ``bot.staff.html.fmt`` (escaped). Another unit's case
answers 404 exactly like a case that does not exist.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select

from bot.cases import casework, legal_type
from bot.cases.casework import ALLOWED_TRANSITIONS
from bot.cases.forwarding import case_forwardings, local_today, next_due
from bot.cases.identity import may_see_identity, record_identity_view
from bot.cases.legal_deadlines import LegalDeadlinesError, load_deadlines
from bot.cases.linking import cluster_members
from bot.db.models import AttachmentKind, Case, CaseNote, CaseStatus, Outbox, Staff
from bot.moderation.gate import MARKER_LABELS, THREAT
from bot.staff import case_legal, queries
from bot.staff import html as h
from bot.staff.context import StaffContext, console_view, html_response, not_found_page
from bot.staff.views import (
    DONE_MESSAGES,
    history_table,
    nav,
    outbox_badge,
    overdue_badge,
    status_badge,
)


def assignable(ctx: StaffContext, case: Case) -> list[Staff]:
    """Active staff who can see ``case`` and belong to a unit the current user sees."""
    chain = {case.unit_code} | (
        {u.code for u in ctx.tree.ancestors(case.unit_code)}
        if case.unit_code in ctx.tree
        else set()
    )
    units = sorted(chain & ctx.visible)
    stmt = select(Staff).where(Staff.active.is_(True)).order_by(Staff.unit_code, Staff.login)
    if units:
        stmt = stmt.where(Staff.unit_code.in_(units))
    else:
        return []
    return list(ctx.session.execute(stmt).scalars())


def _attachments(case: Case) -> h.Markup:
    if not case.attachments:
        return h.fmt('<p class="muted">Không có.</p>')
    items = []
    labels = {
        AttachmentKind.IMAGE: "Ảnh",
        AttachmentKind.LOCATION: "Vị trí",
        AttachmentKind.FILE: "Tệp",
    }
    for attachment in case.attachments:
        kind = AttachmentKind(attachment.kind)
        link = h.Markup("")
        url = attachment.url or ""
        if urlsplit(url).scheme in ("http", "https"):
            link = h.fmt(
                ' <a href="{url}" rel="noopener noreferrer nofollow" target="_blank">Mở</a>',
                url=url,
            )
        elif url:
            link = h.fmt(" <code>{url}</code>", url=url)
        payload = attachment.payload if isinstance(attachment.payload, dict) else {}
        extra = h.join(f"{k}: {v}" for k, v in sorted(payload.items()))
        if kind == AttachmentKind.LOCATION and "latitude" in payload and "longitude" in payload:
            try:
                lat, lon = float(payload["latitude"]), float(payload["longitude"])
                extra = h.fmt(
                    '{lat}, {lon} <a href="https://www.openstreetmap.org/?mlat={lat}&amp;mlon={lon}'
                    '#map=18/{lat}/{lon}" rel="noopener noreferrer" target="_blank">Bản đồ</a>',
                    lat=f"{lat:.6f}",
                    lon=f"{lon:.6f}",
                )
            except (TypeError, ValueError):
                pass
        items.append(
            h.fmt("<li>{kind}{link} {extra}</li>", kind=labels[kind], link=link, extra=extra)
        )
    return h.fmt("<ul>{items}</ul>", items=h.join(items))


def _outbox_table(ctx: StaffContext, rows: list[Outbox]) -> h.Markup:
    if not rows:
        return h.fmt('<p class="muted">Chưa có tin nhắn nào.</p>')
    out = []
    for row in rows:
        payload = row.payload if isinstance(row.payload, dict) else {}
        if row.kind == "citizen_reply":
            what = h.fmt('<div class="content">{t}</div>', t=payload.get("text", ""))
        elif row.kind == "citizen_status":
            what = h.fmt(
                "Trạng thái: {s}{rating}",
                s=h.status_label(payload.get("status", "")),
                rating=" · kèm lời mời đánh giá" if payload.get("ask_rating") else "",
            )
        else:
            what = h.fmt("{t}", t=payload.get("event", "Hồ sơ mới"))
        out.append(
            h.fmt(
                "<tr><td>{created}</td><td>{kind}</td><td>{what}</td><td>{state}</td>"
                '<td>{attempts}</td><td class="error-text">{error}</td><td>{sent}</td></tr>',
                created=h.local_time(row.created_at, ctx.tz),
                kind=h.OUTBOX_KIND_LABELS.get(row.kind, row.kind),
                what=what,
                state=outbox_badge(row.status),
                attempts=row.attempts,
                error=row.last_error or "",
                sent=h.local_time(row.sent_at, ctx.tz),
            )
        )
    return h.fmt(
        "<table><thead><tr><th>Lúc tạo</th><th>Loại</th><th>Nội dung</th><th>Tình trạng gửi</th>"
        "<th>Số lần thử</th><th>Lỗi gần nhất</th><th>Đã gửi lúc</th></tr></thead>"
        "<tbody>{rows}</tbody></table>",
        rows=h.join(out),
    )


def together_with(ctx: StaffContext, case: Case) -> list[Case]:
    """The other cases of the same-issue cluster (issue 15) this officer can see."""
    if case.cluster_id is None:
        return []
    return [c for c in cluster_members(ctx.session, case.cluster_id)
            if c.id != case.id and ctx.case(c.id) is not None]


def _cluster_panel(ctx: StaffContext, case: Case, others: list[Case]) -> h.Markup:
    if not others:
        return h.Markup("")
    items = [h.fmt('<li><a href="/staff/cases/{id}">{ref}</a> · {when} · {status} · {text}</li>',
                   id=c.id, ref=c.ref_code, when=h.local_time(c.created_at, ctx.tz),
                   status=status_badge(c.status), text=c.content[:120])
             for c in others]
    return h.fmt(
        '<div class="card" id="cluster"><h2>+{n} người cùng phản ánh</h2>'
        '<p class="muted">Cùng một sự việc, cùng địa điểm (nhóm tự động). Trả lời hoặc đổi trạng '
        "thái có thể áp dụng cho cả nhóm; mỗi hồ sơ giữ lịch sử riêng.</p><ul>{items}</ul>"
        '<form method="post" action="/staff/cases/{id}/split">{csrf}'
        '<button type="submit" class="secondary">Tách hồ sơ này khỏi nhóm</button></form></div>',
        n=len(others), items=h.join(items), id=case.id, csrf=h.hidden_csrf(ctx.csrf),
    )


def _whole_cluster(others: list[Case], what: str) -> h.Markup:
    if not others:
        return h.Markup("")
    return h.fmt('<p><label><input type="checkbox" name="whole_cluster" value="1"> {what} cho cả '
                 "{n} hồ sơ cùng phản ánh</label></p>", what=what, n=len(others) + 1)


def _action_forms(ctx: StaffContext, case: Case, others: list[Case]) -> h.Markup:
    csrf = h.hidden_csrf(ctx.csrf)
    base = f"/staff/cases/{case.id}"
    current = CaseStatus(case.status)
    nexts = [s for s in CaseStatus if s in ALLOWED_TRANSITIONS[current]]
    if nexts:
        status_form = h.fmt(
            '<form method="post" action="{base}/status">{csrf}'
            '<p><label for="status">Chuyển sang</label> <select id="status" name="status">{opts}</select></p>'
            '<p><label for="status-note">Ghi chú</label> <span class="muted">(bắt buộc khi từ chối; '
            "lý do từ chối được gửi cho người dân)</span>"
            '<textarea id="status-note" name="note" maxlength="10000"></textarea></p>'
            "{cluster}"
            '<button type="submit">Cập nhật trạng thái</button></form>',
            base=base,
            csrf=csrf,
            cluster=_whole_cluster(others, "Áp dụng"),
            opts=h.options([(s.value, h.STATUS_LABELS[s]) for s in nexts], None),
        )
    else:
        status_form = h.fmt(
            '<p class="muted">Hồ sơ đã kết thúc, không đổi trạng thái được nữa.</p>'
        )

    candidates = assignable(ctx, case)
    assign_form = h.fmt(
        '<form method="post" action="{base}/assign">{csrf}'
        '<p><label for="assignee">Giao cho</label> <select id="assignee" name="staff_id">{opts}</select> '
        '<button type="submit">Phân công</button></p></form>'
        '<form method="post" action="{base}/assign">{csrf}<input type="hidden" name="staff_id" value="{me}">'
        '<button type="submit" class="secondary">Nhận xử lý</button></form>',
        base=base,
        csrf=csrf,
        me=ctx.staff.id,
        opts=h.options(
            [("", "— Chưa giao —")]
            + [
                (str(s.id), f"{s.display_name or s.login} ({ctx.unit_name(s.unit_code)})")
                for s in candidates
            ],
            str(case.assignee_id or ""),
        ),
    )
    units = [u for u in ctx.tree if u.code != case.unit_code]
    transfer_form = h.fmt(
        '<form method="post" action="{base}/transfer">{csrf}'
        '<p><label for="unit">Chuyển đến đơn vị</label> <select id="unit" name="unit_code">{opts}</select></p>'
        '<p><label for="transfer-note">Lý do chuyển</label>'
        '<textarea id="transfer-note" name="note" maxlength="10000"></textarea></p>'
        '<button type="submit">Chuyển đơn vị</button></form>',
        base=base,
        csrf=csrf,
        opts=h.options([(u.code, u.short_name) for u in units], None),
    )
    note_form = h.fmt(
        '<form method="post" action="{base}/note">{csrf}'
        '<p><label for="note">Ghi chú nội bộ</label> <span class="muted">(người dân không thấy)</span>'
        '<textarea id="note" name="text" maxlength="10000" required></textarea></p>'
        '<button type="submit">Thêm ghi chú</button></form>',
        base=base,
        csrf=csrf,
    )
    reply_form = h.fmt(
        '<form method="post" action="{base}/reply">{csrf}'
        '<p><label for="reply">Trả lời người dân</label> <span class="muted">(gửi qua {channel}, '
        "tối đa {limit} ký tự)</span>"
        '<textarea id="reply" name="text" maxlength="{limit}" required></textarea></p>'
        "{cluster}"
        '<button type="submit">Gửi trả lời</button></form>',
        base=base,
        csrf=csrf,
        cluster=_whole_cluster(others, "Gửi"),
        channel=h.CHANNEL_LABELS.get(case.channel, case.channel),
        limit=casework.MAX_REPLY_CHARS,
    )
    legal_form = h.fmt(
        '<form method="post" action="{base}/legal-type">{csrf}'
        '<p><label for="legal">Loại vụ việc</label> <select id="legal" name="legal_type">{opts}</select></p>'
        '<button type="submit">Cập nhật loại</button></form>',
        base=base,
        csrf=csrf,
        opts=h.options([(t, legal_type.label(t)) for t in legal_type.LEGAL_TYPES],
                       case.legal_type),
    )
    return h.fmt(
        '<div class="grid"><div class="card"><h2>Trả lời</h2>{reply}</div>'
        '<div class="card"><h2>Trạng thái</h2>{status}</div>'
        '<div class="card"><h2>Phân công</h2>{assign}</div>'
        '<div class="card"><h2>Ghi chú</h2>{note}</div>'
        '<div class="card"><h2>Chuyển đơn vị</h2>{transfer}</div>'
        '<div class="card"><h2>Loại vụ việc</h2>{legal}</div></div>',
        legal=legal_form,
        reply=reply_form,
        status=status_form,
        assign=assign_form,
        note=note_form,
        transfer=transfer_form,
    )


def legal_cells(ctx: StaffContext, case: Case) -> tuple[h.Markup, h.Markup]:
    """The legal type of ``case`` and what it waits for next (issue 17), for the meta list: the
    body's answer when forwarded, else its next clocked step, with the article it comes from.

    Staff see steps whose number was not verified in a source too, flagged: a citizen never
    does (``bot.cases.legal_clocks``)."""
    forwardings = case_forwardings(ctx.session, case.id)
    if not case.legal_type and not forwardings:
        return h.fmt('<span class="muted">Chưa xác định</span>'), h.fmt("—")
    kind = (h.fmt("{label}", label=legal_type.label(case.legal_type)) if case.legal_type
            else h.fmt('<span class="muted">Chưa xác định</span>'))
    due = next_due(case, forwardings)
    if due is None:
        return kind, h.fmt("—")
    today = local_today(ctx.now)
    if due.forwarding_id is not None:
        return kind, h.fmt("{what}: hạn {due}", what=due.label, due=case_legal.due_text(
            due.due_on, today))
    citation = ""
    if due.step_id is not None:
        try:
            table = load_deadlines()
            citation = table.citation(table.case_type(str(case.legal_type)).step(due.step_id))
        except (LegalDeadlinesError, KeyError, ValueError, OSError):
            citation = ""
    return kind, h.fmt(
        "{what}: {due}{flag}<br><span class=\"muted\">{citation}</span>",
        what=due.label,
        due=f"hạn {due.due_on:%d/%m/%Y}" if due.due_on else "văn bản không nêu số ngày",
        flag="" if due.verified else " (số liệu chưa kiểm chứng)",
        citation=citation,
    )


def render(
    ctx: StaffContext, case: Case, *, error: str | None = None, status: int = 200
) -> web.Response:
    """The page of ``case``; ``case_actions`` shows it again with ``error`` when one is refused."""
    events = queries.case_events(ctx.session, case.id)
    notes = {
        n.id: n
        for n in ctx.session.execute(
            select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
        ).scalars()
    }
    staff_ids: set[int | None] = {case.assignee_id}
    for event in events:
        if event.actor_id and event.actor_id.isdigit():
            staff_ids.add(int(event.actor_id))
        if event.action == "assigned" and isinstance(event.detail, dict):
            staff_ids.update(v for v in (event.detail.get("to"), event.detail.get("from")) if v)
    staff_ids.update(int(n.actor_id) for n in notes.values() if n.actor_id and n.actor_id.isdigit())
    names = queries.staff_names(ctx.session, staff_ids)
    outbox = list(
        ctx.session.execute(
            select(Outbox)
            .where(Outbox.case_id == case.id, Outbox.kind != "staff_notify")
            .order_by(Outbox.id.desc())
        ).scalars()
    )
    if not may_see_identity(case, ctx.staff):
        person = h.fmt('<span class="muted" id="identity-protected">Được bảo vệ (tố cáo): chỉ cán '
                       "bộ được giao hồ sơ và lãnh đạo đơn vị xem được người gửi</span>")
    elif case.consent and (case.person_name or case.phone):
        record_identity_view(ctx.session, case, ctx.staff, where="console")
        person = h.fmt(
            "{name}{sep}{phone}",
            name=case.person_name or "",
            sep=" · " if case.person_name and case.phone else "",
            phone=case.phone or "",
        )
    elif case.anonymised:
        person = h.fmt('<span class="muted">Đã xoá thông tin cá nhân</span>')
    else:
        person = h.fmt('<span class="muted">Ẩn danh (không để lại liên hệ)</span>')
    undelivered = [
        r for r in outbox if r.status is not None and r.status.value in ("failed", "undeliverable")
    ]
    warning = h.Markup("")
    if undelivered:
        warning = h.flash_box(
            f"Có {len(undelivered)} tin nhắn chưa gửi được cho người dân — xem lý do bên dưới.",
            error=True,
        )
    marker = MARKER_LABELS.get(str(case.moderation_verdict or ""))
    if marker:  # issue 12: a rude complaint is a case, marked; a threat is looked at first
        warning = h.Markup(str(warning) + str(h.flash_box(
            marker, error=case.moderation_verdict == THREAT)))
    note_items = [
        h.fmt(
            '<li><span class="muted">{when} · {who}</span><div class="content">{text}</div></li>',
            when=h.local_time(n.created_at, ctx.tz),
            who=names.get(int(n.actor_id), n.actor_id)
            if n.actor_id and n.actor_id.isdigit()
            else "",
            text=n.text,
        )
        for n in notes.values()
    ]
    legal = legal_cells(ctx, case)
    others = together_with(ctx, case)
    body = h.fmt(
        "<h1>Hồ sơ {ref} {status}{overdue}</h1>{warning}"
        '<div class="grid"><div class="card"><h2>Nội dung người dân gửi</h2>'
        '<div class="content" id="citizen-content">{content}</div>'
        '<h2>Địa điểm</h2><div class="content">{location}</div>'
        "<h2>Tệp đính kèm</h2>{attachments}</div>"
        '<div class="card"><dl class="meta">'
        "<dt>Loại</dt><dd>{kind}</dd><dt>Loại vụ việc</dt><dd id=\"legal-type\">{legal}</dd>"
        "<dt>Bước pháp lý tiếp theo</dt><dd id=\"legal-step\">{legal_step}</dd>"
        "<dt>Lĩnh vực</dt><dd>{category}</dd>"
        "<dt>Đơn vị</dt><dd>{unit}</dd><dt>Kênh</dt><dd>{channel}</dd>"
        "<dt>Người gửi</dt><dd>{person}</dd>"
        "<dt>Ngày gửi</dt><dd>{created}</dd><dt>Hạn xử lý</dt><dd>{due}</dd>"
        "<dt>Cán bộ phụ trách</dt><dd>{assignee}</dd><dt>Đánh giá</dt><dd>{rating}</dd>"
        "<dt>Cập nhật</dt><dd>{updated}</dd></dl></div></div>"
        "{cluster}{forms}{legal_panels}"
        "<h2>Tin nhắn gửi người dân</h2>{outbox}"
        "<h2>Ghi chú nội bộ</h2>{notes}"
        "<h2>Lịch sử hồ sơ</h2>{history}",
        ref=case.ref_code,
        status=status_badge(case.status),
        overdue=overdue_badge(case, ctx),
        warning=warning,
        content=case.content,
        location=case.location_text or "—",
        attachments=_attachments(case),
        kind=h.kind_label(case.kind),
        legal=legal[0],
        legal_step=legal[1],
        category=ctx.category_names().get(case.category or "", case.category or "—"),
        unit=ctx.unit_name(case.unit_code),
        channel=h.CHANNEL_LABELS.get(case.channel, case.channel),
        person=person,
        created=h.local_time(case.created_at, ctx.tz),
        due=h.local_time(case.sla_due_at, ctx.tz) or "—",
        assignee=names.get(case.assignee_id, "") if case.assignee_id else "Chưa giao",
        rating=f"{case.rating}/5" if case.rating else "—",
        updated=h.local_time(case.updated_at, ctx.tz),
        cluster=_cluster_panel(ctx, case, others),
        forms=_action_forms(ctx, case, others),
        legal_panels=case_legal.panels(ctx, case),
        outbox=_outbox_table(ctx, outbox),
        notes=h.fmt("<ul>{items}</ul>", items=h.join(note_items))
        if note_items
        else h.fmt('<p class="muted">Chưa có ghi chú.</p>'),
        history=history_table(events, ctx=ctx, notes=notes, staff_names=names, tz=ctx.tz),
    )
    flash = (
        h.flash_box(error, error=True)
        if error
        else h.flash_box(DONE_MESSAGES.get(ctx.request.query.get("done", "")))
    )
    return html_response(h.page(f"Hồ sơ {case.ref_code}", body, nav=nav(ctx), flash=flash), status)


@console_view(writes=True)  # showing a protected sender writes an audit row
def case_page(ctx: StaffContext) -> web.StreamResponse:
    case_id = ctx.match_int("case_id")
    case = ctx.case(case_id) if case_id is not None else None
    if case is None:
        return not_found_page()
    return render(ctx, case)


def setup_routes(app: web.Application) -> None:
    app.router.add_get(r"/staff/cases/{case_id:\d+}", case_page)
