"""Escaping-by-default HTML building for the console, the page frame and Vietnamese labels.

There is no template engine in the environment, so pages are built with :func:`fmt`, which
escapes every value it is given unless the value is already :class:`Markup` (HTML this module or a
caller built with :func:`fmt`). Forgetting to escape therefore takes an explicit ``Markup(...)``;
the only such calls wrap literal HTML written in this package. The Content-Security-Policy sent
with every page (see ``bot.staff.security``) forbids scripts altogether as a second line.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from bot.cases.casework import STATUS_LABELS
from bot.db.models import ActorKind, CaseKind, CaseStatus, OutboxStatus
from bot.staff.accounts import ROLE_LABELS

__all__ = ["ROLE_LABELS", "STATUS_LABELS", "Markup", "esc", "fmt", "join", "page"]


class Markup(str):
    """A string that is already safe HTML."""

    __slots__ = ()


def esc(value: Any) -> Markup:
    """``value`` as HTML text: Markup passes through, None becomes empty, all else is escaped."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    return Markup(html.escape(str(value), quote=True))


def fmt(template: str, /, **values: Any) -> Markup:
    """``template.format(**values)`` with every value escaped (see the module docstring)."""
    return Markup(template.format(**{k: esc(v) for k, v in values.items()}))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    return Markup(sep.join(esc(p) for p in parts))


def options(choices: Iterable[tuple[str, str]], selected: str | None) -> Markup:
    """``<option>`` elements for (value, label) pairs."""
    return join(
        fmt(
            '<option value="{v}"{sel}>{label}</option>',
            v=value,
            label=label,
            sel=Markup(" selected") if value == (selected or "") else Markup(""),
        )
        for value, label in choices
    )


def hidden_csrf(token: str) -> Markup:
    return fmt('<input type="hidden" name="csrf_token" value="{t}">', t=token)


# --------------------------------------------------------------------------- labels

KIND_LABELS: Mapping[CaseKind, str] = {
    CaseKind.FEEDBACK: "Góp ý",
    CaseKind.PETITION: "Phản ánh, kiến nghị",
    CaseKind.HANDOFF: "Cần cán bộ hỗ trợ",
}
OUTBOX_LABELS: Mapping[OutboxStatus, str] = {
    OutboxStatus.PENDING: "Đang chờ gửi",
    OutboxStatus.SENT: "Đã gửi",
    OutboxStatus.FAILED: "Gửi thất bại",
    OutboxStatus.UNDELIVERABLE: "Không gửi được",
}
OUTBOX_KIND_LABELS = {
    "citizen_reply": "Trả lời người dân",
    "citizen_status": "Báo trạng thái cho người dân",
    "staff_notify": "Báo cán bộ (Telegram)",
}
ACTOR_LABELS: Mapping[ActorKind, str] = {
    ActorKind.CITIZEN: "Người dân",
    ActorKind.BOT: "Trợ lý ảo",
    ActorKind.STAFF: "Cán bộ",
    ActorKind.SYSTEM: "Hệ thống",
}
ACTION_LABELS = {
    "created": "Tạo hồ sơ",
    "assigned": "Phân công",
    "status_changed": "Đổi trạng thái",
    "note_added": "Thêm ghi chú",
    "replied": "Trả lời người dân",
    "transferred": "Chuyển đơn vị",
    "legal_type_changed": "Đổi loại vụ việc",
    "identity_viewed": "Xem thông tin người tố cáo",
    "cluster_linked": "Vào nhóm cùng phản ánh",
    "cluster_split": "Tách khỏi nhóm cùng phản ánh",
    "rated": "Người dân đánh giá",
    "first_response": "Phản hồi đầu tiên",
    "anonymised": "Xoá thông tin cá nhân",
    "forwarded": "Chuyển cơ quan có thẩm quyền",
    "body_answered": "Cơ quan trả lời",
    "outcome_recorded": "Ghi nhận kết quả xử lý",
    "reopened": "Mở lại hồ sơ",
}
CHANNEL_LABELS = {
    "web": "Trang web",
    "facebook": "Facebook Messenger",
    "zalo": "Zalo OA",
    "telegram": "Telegram",
}


def status_label(value: Any) -> str:
    try:
        return STATUS_LABELS[CaseStatus(value)]
    except ValueError:
        return str(value)


def kind_label(value: Any) -> str:
    try:
        return KIND_LABELS[CaseKind(value)]
    except ValueError:
        return str(value)


# --------------------------------------------------------------------------- formatting


def local_time(value: datetime | None, tz: tzinfo, with_time: bool = True) -> str:
    if value is None:
        return ""
    local = value.astimezone(tz)
    return local.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def duration(value: timedelta | float | None) -> str:
    """``2 ngày 3 giờ``, ``4 giờ 10 phút``, ``12 phút``."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    minutes = max(0, seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} ngày {hours} giờ" if hours else f"{days} ngày"
    if hours:
        return f"{hours} giờ {minutes} phút" if minutes else f"{hours} giờ"
    return f"{minutes} phút"


# --------------------------------------------------------------------------- the page frame

CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1d2733;background:#f4f6f8}
header{background:#b3141b;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header a,header button.link{color:#fff;text-decoration:none;font-weight:600}
header .brand{font-weight:700;margin-right:auto}
header form{display:inline;margin:0}
main{max-width:1200px;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:1.2rem 0 .5rem}
a{color:#0b5cad}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #dde3ea;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f6;font-weight:600}
tr.overdue td{background:#fdecea}
tr.overdue td:first-child{border-left:4px solid #c62828}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:.6rem;font-size:.85em;background:#e3e8ee}
.badge.overdue{background:#c62828;color:#fff}
.badge.s-new{background:#fff3cd}.badge.s-resolved,.badge.s-closed{background:#d7f0dd}
.badge.s-rejected{background:#f4d6d6}.badge.o-failed,.badge.o-undeliverable{background:#c62828;color:#fff}
.badge.o-sent{background:#d7f0dd}.badge.o-pending{background:#fff3cd}
.card{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:.8rem 1rem;margin:.6rem 0}
.content{white-space:pre-wrap;overflow-wrap:anywhere;background:#fffdf5;border:1px solid #eadfb8;padding:.6rem;border-radius:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(290px,1fr));gap:.8rem}
.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin-bottom:.8rem}
.filters label{display:flex;flex-direction:column;font-size:.85em}
label{font-weight:600}
input[type=text],input[type=password],input[type=search],select,textarea{font:inherit;padding:.35rem;border:1px solid #aab4bf;border-radius:4px;max-width:100%}
textarea{width:100%;min-height:4.5rem}
button{font:inherit;padding:.35rem .9rem;border:1px solid #0b5cad;background:#0b5cad;color:#fff;border-radius:4px;cursor:pointer}
button.secondary{background:#fff;color:#0b5cad}
button.link{background:none;border:none;padding:0;cursor:pointer}
.flash{padding:.6rem .8rem;border-radius:4px;margin:.5rem 0}
.flash.ok{background:#d7f0dd}.flash.error{background:#fdecea;border:1px solid #c62828}
.muted{color:#5b6875;font-size:.9em}
.pager{margin:.8rem 0;display:flex;gap:1rem}
.bar{background:#0b5cad;height:1rem;display:inline-block;vertical-align:middle}
.error-text{color:#b00020}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:0}
dl.meta dt{font-weight:600}dl.meta dd{margin:0}
.login{max-width:380px;margin:3rem auto}
.bubble{border-radius:12px;padding:.45rem .7rem;margin:.3rem 0;max-width:95%;background:#e9eef4}
.bubble.image{font-size:.85em;color:#5b6875;overflow-wrap:anywhere}
#preview-facebook .bubble.content{background:#e4efff}#preview-zalo .bubble.content{background:#e6f4ff}
.login input{width:100%}
"""


def page(
    title: str,
    body: Markup,
    *,
    nav: Markup | None = None,
    flash: Markup | None = None,
) -> Markup:
    """A whole HTML document: Vietnamese, inline CSS, no scripts, no external assets."""
    return fmt(
        "<!DOCTYPE html>\n"
        '<html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title} · Cổng cán bộ MTTQ</title><style>{css}</style></head>"
        "<body>{nav}<main>{flash}{body}</main></body></html>",
        title=title,
        css=Markup(CSS),
        nav=nav or Markup(""),
        flash=flash or Markup(""),
        body=body,
    )


def flash_box(text: str | None, *, error: bool = False) -> Markup:
    if not text:
        return Markup("")
    return fmt(
        '<div class="flash {cls}" role="{role}">{text}</div>',
        cls="error" if error else "ok",
        role="alert" if error else "status",
        text=text,
    )
