"""HTML fragments of the console shared by several pages (navigation, badges, case history),
and the messages a page shows after an action redirected to it (``?done=...``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from bot.db.models import (
    ActorKind,
    Case,
    CaseEvent,
    CaseNote,
    CaseStatus,
    OutboxStatus,
    StaffRole,
)
from bot.staff import html as h
from bot.staff.context import StaffContext
from bot.staff.queries import is_overdue

ADMIN_ROLES = frozenset({StaffRole.UNIT_ADMIN, StaffRole.SYSTEM_ADMIN})

DONE_MESSAGES = {
    "status": "Đã cập nhật trạng thái hồ sơ; người dân sẽ được báo.",
    "assign": "Đã cập nhật phân công.",
    "note": "Đã thêm ghi chú nội bộ.",
    "reply": "Đã đưa câu trả lời vào hàng gửi cho người dân.",
    "transfer": "Đã chuyển hồ sơ sang đơn vị khác.",
    "legal_type": "Đã cập nhật loại vụ việc.",
    "split": "Đã tách hồ sơ khỏi nhóm cùng phản ánh.",
    "forward": "Đã ghi nhận việc chuyển hồ sơ; người dân sẽ được báo nơi nhận.",
    "body_answer": "Đã ghi nhận trả lời của cơ quan và đưa vào hàng gửi cho người dân.",
    "outcome": "Đã ghi nhận kết quả xử lý.",
    "password": "Đã đổi mật khẩu.",
}


def nav(ctx: StaffContext) -> h.Markup:
    links = [
        h.fmt('<a href="/staff/cases">Hồ sơ</a>'),
        h.fmt('<a href="/staff/cases?mine=1&amp;status=open">Việc của tôi</a>'),
        h.fmt('<a href="/staff/overview">Tổng quan</a>'),
        h.fmt('<a href="/staff/digest">Bản tin dư luận</a>'),
        h.fmt('<a href="/staff/quarantine">Tin bị chặn</a>'),
        h.fmt('<a href="/staff/announcements">Thông báo</a>'),
    ]
    if ctx.role in ADMIN_ROLES:
        links.append(h.fmt('<a href="/staff/accounts">Tài khoản cán bộ</a>'))
    links.append(h.fmt('<a href="/staff/password">Đổi mật khẩu</a>'))
    return h.fmt(
        '<header><span class="brand">Cổng cán bộ MTTQ · {unit}</span>{links}'
        '<span class="muted" style="color:#fff">{who}</span>'
        '<form method="post" action="/staff/logout">{csrf}'
        '<button class="link" type="submit">Đăng xuất</button></form></header>',
        unit=ctx.unit_name(ctx.staff.unit_code),
        links=h.join(links, " "),
        who=ctx.staff.display_name or ctx.staff.login,
        csrf=h.hidden_csrf(ctx.csrf),
    )


def status_badge(status: Any) -> h.Markup:
    value = CaseStatus(status).value
    return h.fmt('<span class="badge s-{v}">{label}</span>', v=value, label=h.status_label(value))


def overdue_badge(case: Case, ctx: StaffContext) -> h.Markup:
    if is_overdue(case, ctx.now):
        return h.fmt(' <span class="badge overdue">Quá hạn</span>')
    return h.Markup("")


def outbox_badge(status: Any) -> h.Markup:
    value = OutboxStatus(status)
    return h.fmt(
        '<span class="badge o-{v}">{label}</span>', v=value.value, label=h.OUTBOX_LABELS[value]
    )


def actor_name(kind: Any, actor_id: str | None, staff_names: Mapping[int, str]) -> str:
    kind = ActorKind(kind)
    if kind == ActorKind.STAFF and actor_id and actor_id.isdigit():
        return staff_names.get(int(actor_id), f"Cán bộ #{actor_id}")
    return h.ACTOR_LABELS[kind]


def _note_text(detail: Mapping[str, Any], notes: Mapping[int, CaseNote]) -> h.Markup:
    note = notes.get(detail.get("note_id") or -1)
    if note is None:
        return h.Markup("")
    return h.fmt('<div class="content">{text}</div>', text=note.text)


def event_detail(
    event: CaseEvent,
    *,
    ctx: StaffContext,
    notes: Mapping[int, CaseNote],
    staff_names: Mapping[int, str],
) -> h.Markup:
    detail: Mapping[str, Any] = event.detail if isinstance(event.detail, dict) else {}
    action = event.action
    if action == "created":
        return h.fmt(
            "Mã {ref} · kênh {channel}",
            ref=detail.get("ref_code", ""),
            channel=h.CHANNEL_LABELS.get(detail.get("channel", ""), detail.get("channel", "")),
        )
    if action == "assigned":
        target = detail.get("to")
        if target is None:
            return h.fmt("Bỏ phân công")
        return h.fmt("Giao cho {name}", name=staff_names.get(target, f"#{target}"))
    if action == "status_changed":
        return h.fmt(
            "{a} → {b}{note}",
            a=h.status_label(detail.get("from", "")),
            b=h.status_label(detail.get("to", "")),
            note=_note_text(detail, notes),
        )
    if action == "note_added":
        return _note_text(detail, notes)
    if action == "replied":
        return h.fmt(
            "Tin nhắn #{id} ({n} ký tự) — xem mục «Tin nhắn gửi người dân»",
            id=detail.get("outbox_id", ""),
            n=detail.get("chars", ""),
        )
    if action == "transferred":
        extra = " (bỏ phân công cán bộ cũ)" if detail.get("unassigned") else ""
        return h.fmt(
            "Từ {a} sang {b}{extra}{note}",
            a=ctx.unit_name(detail.get("from")),
            b=ctx.unit_name(detail.get("to")),
            extra=extra,
            note=_note_text(detail, notes),
        )
    if action == "rated":
        return h.fmt("{n}/5", n=detail.get("rating", ""))
    if action == "first_response":
        return h.fmt(
            "Sau {d} kể từ khi người dân gửi", d=h.duration(float(detail.get("seconds", 0)))
        )
    if action == "anonymised":
        return h.fmt("Lý do: {r}", r=detail.get("reason", ""))
    if not detail:
        return h.Markup("")
    return h.join(f"{k}: {v}" for k, v in sorted(detail.items()))


def history_table(
    events: Sequence[CaseEvent],
    *,
    ctx: StaffContext,
    notes: Mapping[int, CaseNote],
    staff_names: Mapping[int, str],
    tz: tzinfo,
) -> h.Markup:
    rows = [
        h.fmt(
            "<tr><td>{when}</td><td>{who}</td><td>{what}</td><td>{detail}</td></tr>",
            when=h.local_time(event.created_at, tz),
            who=actor_name(event.actor_kind, event.actor_id, staff_names),
            what=h.ACTION_LABELS.get(event.action, event.action),
            detail=event_detail(event, ctx=ctx, notes=notes, staff_names=staff_names),
        )
        for event in events
    ]
    return h.fmt(
        "<table><thead><tr><th>Thời gian</th><th>Người thực hiện</th><th>Hành động</th>"
        "<th>Chi tiết</th></tr></thead><tbody>{rows}</tbody></table>",
        rows=h.join(rows),
    )
