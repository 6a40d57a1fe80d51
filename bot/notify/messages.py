"""What a case message in a unit's Telegram group says, the buttons under it, and the bot's texts.

Everything the staff bot writes is here, apart from the short answers its handlers give
(:mod:`bot.notify.handlers`), so officer-facing wording is changed in one place.

The text is rebuilt from the database every time (posting, and after every button press), so the
group always shows the case as it is now, plus one line saying who last did what. Everything a
citizen wrote is HTML-escaped (messages use ``parse_mode=HTML``) and long text is cut to fit
Telegram's 4,096-character limit. Names and phone numbers are never posted: officers open the
console ("Xem") for those.

Callback data (at most 64 bytes, Telegram's limit) is ``c:<case id>:<action>[:<unit>]``.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.cases.casework import STATUS_LABELS
from bot.db.models import TERMINAL_STATUSES, Case, CaseKind, CaseStatus, OutboxKind, Staff, Unit
from bot.knowledge.units import UnitInfo

__all__ = [
    "ACTIONS",
    "HELP_TEXT",
    "MAX_CALLBACK_BYTES",
    "NO_PERMISSION",
    "CallbackData",
    "CaseCard",
    "case_keyboard",
    "decode_callback",
    "encode_callback",
    "follow_up_notes",
    "headline",
    "load_card",
    "posting_notes",
    "render_case",
    "transfer_keyboard",
    "unit_from_token",
]

MAX_CALLBACK_BYTES = 64
MAX_MESSAGE_CHARS = 4096
#: Room left for the content once the rest of the card is written.
MAX_CONTENT_CHARS = 2500

TAKE, RESOLVE, TRANSFER, TRANSFER_TO, BACK = "take", "done", "xfer", "to", "back"
ACTIONS = frozenset({TAKE, RESOLVE, TRANSFER, TRANSFER_TO, BACK})

BUTTON_TAKE = "Nhận xử lý"
BUTTON_RESOLVE = "Đã giải quyết"
BUTTON_TRANSFER = "Chuyển đơn vị"
BUTTON_VIEW = "Xem"
BUTTON_BACK = "« Quay lại"

#: Shown to anyone who may not act on a case (not linked, or not of a unit that sees it).
NO_PERMISSION = (
    "Bạn không có quyền xử lý hồ sơ này. Cán bộ của đơn vị cần liên kết tài khoản Telegram "
    "bằng lệnh /canbo <mã> (xin mã cá nhân từ quản trị viên)."
)
#: The answer to /start, /trogiup and /help.
HELP_TEXT = (
    "Trợ lý tiếp nhận phản ánh của Ủy ban MTTQ.\n"
    "• /lienket <mã> — liên kết nhóm này với đơn vị (mã do quản trị viên đơn vị cấp).\n"
    "• /canbo <mã> — liên kết tài khoản Telegram của bạn với tài khoản cán bộ.\n"
    "• Bấm nút dưới mỗi hồ sơ để nhận xử lý, báo đã giải quyết hoặc chuyển đơn vị.\n"
    "• Trả lời (reply) tin nhắn hồ sơ để gửi phản hồi tới người dân."
)

KIND_LABELS: Mapping[CaseKind, str] = {
    CaseKind.PETITION: "Phản ánh, kiến nghị",
    CaseKind.FEEDBACK: "Góp ý",
    CaseKind.HANDOFF: "Người dân cần gặp cán bộ",
}


@dataclass(frozen=True)
class CaseCard:
    """The facts of a case a group message shows (no name, no phone)."""

    id: int
    ref_code: str
    kind: CaseKind
    status: CaseStatus
    category: str | None
    category_name: str
    content: str
    location_text: str | None
    unit_code: str
    unit_name: str
    assignee: str | None
    sla_due_at: datetime | None
    created_at: datetime
    #: ``clean``, ``rude`` or ``threat`` (bot.moderation.gate): shown first on the card.
    moderation: str = "clean"
    #: What the case waits for next by its legal clock (issue 17): a label, the due day, and
    #: ``soon`` / ``late`` when a warning is due (``bot.cases.forwarding.next_due``).
    legal_next: str | None = None
    legal_due_on: date | None = None
    legal_state: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def staff_label(staff: Staff) -> str:
    return str(staff.display_name or staff.login)


def _category_name(code: str | None) -> str:
    if not code:
        return "Chưa phân loại"
    try:
        from bot.cases.intake import category_name

        return category_name(code) or code
    except Exception:  # a broken categories file must not stop a notification
        return code


def load_card(session: Session, case_id: int) -> CaseCard | None:
    case = session.get(Case, case_id)
    if case is None:
        return None
    unit = session.get(Unit, case.unit_code)
    assignee = session.get(Staff, case.assignee_id) if case.assignee_id is not None else None
    return CaseCard(
        id=case.id,
        ref_code=case.ref_code,
        kind=CaseKind(case.kind),
        status=CaseStatus(case.status),
        category=case.category,
        category_name=_category_name(case.category),
        content=case.content,
        location_text=case.location_text,
        unit_code=case.unit_code,
        unit_name=(unit.short_name or unit.name) if unit is not None else case.unit_code,
        assignee=staff_label(assignee) if assignee is not None else None,
        sla_due_at=case.sla_due_at,
        created_at=case.created_at,
        moderation=str(case.moderation_verdict or "clean"),
        **_legal_next(session, case),
    )


def _legal_next(session: Session, case: Case) -> dict[str, Any]:
    """The card's legal-clock fields; a broken data file must not stop a notification."""
    try:
        from bot.cases.follow_up import warn_from
        from bot.cases.forwarding import case_forwardings, local_today, next_due
        from bot.cases.sla import load_calendar
        from bot.settings import legal_warn_working_days

        due = next_due(case, case_forwardings(session, case.id))
        if due is None:
            return {}
        state = None
        if due.due_on is not None and CaseStatus(case.status) not in TERMINAL_STATUSES:
            calendar = load_calendar()
            today = local_today(calendar=calendar)
            if today > due.due_on:
                state = "late"
            elif today >= warn_from(due.due_on, legal_warn_working_days(), calendar):
                state = "soon"
        return {"legal_next": due.label, "legal_due_on": due.due_on, "legal_state": state}
    except Exception:  # noqa: BLE001 - the card goes out without the line
        return {}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M %d/%m/%Y")


def headline(kind: str, payload: Mapping[str, Any], card: CaseCard) -> str:
    """The first line of a posted message, by outbox kind (plain text, escaped by the caller)."""
    if kind == OutboxKind.OVERDUE:
        return f"⏰ QUÁ HẠN: {KIND_LABELS[card.kind]}"
    if kind == OutboxKind.CITIZEN_MESSAGE:
        return "💬 Người dân nhắn thêm"
    if kind == OutboxKind.FOLLOW_UP:
        if payload.get("stage") == "late":
            return "⏰ CƠ QUAN CHƯA TRẢ LỜI, ĐÃ QUÁ HẠN: cần đôn đốc"
        return "⏳ Sắp đến hạn cơ quan trả lời"
    if payload.get("event") == "reopened":
        return "🔄 Người dân chưa hài lòng, đề nghị mở lại hồ sơ"
    if payload.get("event") == "transferred":
        return f"🔁 Hồ sơ được chuyển đến: {KIND_LABELS[card.kind]}"
    if card.kind == CaseKind.HANDOFF:
        return "🙋 Người dân cần gặp cán bộ"
    return f"🆕 {KIND_LABELS[card.kind]} mới"


def render_case(
    card: CaseCard,
    *,
    title: str,
    tz: ZoneInfo,
    extra: Iterable[str] = (),
    quote: str | None = None,
    action_line: str | None = None,
    link: str | None = None,
) -> str:
    """The HTML text of a case message. ``extra`` lines and ``quote`` are plain text; ``link`` is
    the console URL written out when it cannot be a button."""
    from bot.moderation.gate import MARKER_LABELS, THREAT

    e = html.escape
    lines = [f"<b>{e(title)}</b> · <code>{e(card.ref_code)}</code>"]
    marker = MARKER_LABELS.get(card.moderation)
    if marker:
        lines.append(f"{'🚨' if card.moderation == THREAT else '⚠️'} <b>{e(marker)}</b>")
    lines.append(f"Đơn vị: {e(card.unit_name)}")
    lines.append(f"Lĩnh vực: {e(card.category_name)}")
    if card.location_text:
        lines.append(f"Địa điểm: {e(_cut(card.location_text, 300))}")
    lines.append(f"Tiếp nhận: {_local(card.created_at, tz)}")
    if card.sla_due_at is not None:
        lines.append(f"Hạn xử lý: {_local(card.sla_due_at, tz)}")
    if card.legal_next:
        due = f" — hạn {card.legal_due_on:%d/%m/%Y}" if card.legal_due_on else ""
        flag = {"late": " ⏰ ĐÃ QUÁ HẠN", "soon": " ⏳ sắp đến hạn"}.get(card.legal_state or "", "")
        lines.append(f"Bước tiếp theo: {e(card.legal_next)}{due}{flag}")
    status = STATUS_LABELS[card.status]
    lines.append(f"Trạng thái: <b>{e(status)}</b> · Người xử lý: {e(card.assignee or '—')}")
    lines.extend(e(line) for line in extra)
    if quote:
        lines.append("")
        lines.append("<b>Người dân viết:</b>")
        lines.append(f"<blockquote>{e(_cut(quote, 1500))}</blockquote>")
    lines.append("")
    lines.append("<b>Nội dung:</b>")
    lines.append(e(_cut(card.content, MAX_CONTENT_CHARS if not quote else 1000)))
    if action_line:
        lines.append("")
        lines.append(f"✅ {e(action_line)}")
    if link:
        lines.append(f"Xem trên trang quản trị: {e(link)}")
    if not card.terminal:
        lines.append("")
        lines.append("<i>Trả lời (reply) tin nhắn này để gửi phản hồi tới người dân.</i>")
    return _cut("\n".join(lines), MAX_MESSAGE_CHARS)


def posting_notes(
    *, unit_name: str, via_unit_name: str | None, from_name: str | None, overdue_since: str | None
) -> list[str]:
    """The plain-text lines under the facts of a posted case: posted to the group of the unit
    above (``via_unit_name``), transferred from another unit, overdue since (a local time)."""
    extra = []
    if via_unit_name:
        extra.append(
            f"⚠️ {unit_name} chưa liên kết nhóm Telegram; tin được gửi tới {via_unit_name}."
        )
    if from_name:
        extra.append(f"Chuyển từ: {from_name}")
    if overdue_since is not None:
        extra.append(f"Đã quá hạn từ {overdue_since}.")
    return extra


def follow_up_notes(payload: Mapping[str, Any], assignee: str | None) -> list[str]:
    """The lines of a ``follow_up`` reminder: where the case went, the due day, who chases.
    Only what the scan put in the payload (ids, the body, the reference, the day)."""
    due = str(payload.get("due_on") or "")
    shown = f"{due[8:10]}/{due[5:7]}/{due[:4]}" if len(due) == 10 else due
    lines = [
        f"Đã chuyển đến: {payload.get('body_name') or '—'} (số/mã: {payload.get('reference') or '—'})",
        f"Hạn cơ quan trả lời: {shown}"
        + (" (ước tính)" if payload.get("basis") == "law_est" else "")
        + (" (theo quy định của ủy ban)" if payload.get("basis") == "policy" else ""),
    ]
    who = assignee or "chưa giao cán bộ — lãnh đạo đơn vị phân công"
    lines.append(f"Cán bộ phụ trách đôn đốc: {who}")
    return lines


# --------------------------------------------------------------------------- callback data


@dataclass(frozen=True)
class CallbackData:
    case_id: int
    action: str
    unit_token: str | None = None


def _unit_token(code: str, case_id: int) -> str:
    plain = f"c:{case_id}:{TRANSFER_TO}:{code}"
    if len(plain.encode()) <= MAX_CALLBACK_BYTES:
        return code
    return "#" + hashlib.sha256(code.encode()).hexdigest()[:12]


def encode_callback(case_id: int, action: str, unit_code: str | None = None) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if action == TRANSFER_TO:
        if not unit_code:
            raise ValueError("a transfer needs a unit")
        data = f"c:{case_id}:{action}:{_unit_token(unit_code, case_id)}"
    else:
        data = f"c:{case_id}:{action}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:  # pragma: no cover - guarded by _unit_token
        raise ValueError("callback data too long")
    return data


def decode_callback(data: str | None) -> CallbackData | None:
    """Parse callback data; None for anything this bot did not write."""
    if not data:
        return None
    parts = data.split(":", 3)
    if len(parts) < 3 or parts[0] != "c" or not parts[1].isdigit() or parts[2] not in ACTIONS:
        return None
    action = parts[2]
    if action == TRANSFER_TO:
        if len(parts) != 4 or not parts[3]:
            return None
        return CallbackData(int(parts[1]), action, parts[3])
    if len(parts) != 3:
        return None
    return CallbackData(int(parts[1]), action)


def unit_from_token(token: str, units: Iterable[UnitInfo]) -> str | None:
    """The unit code a transfer button stands for (a code, or ``#`` + hash of a long code)."""
    for unit in units:
        if token == unit.code or (
            token.startswith("#")
            and token[1:] == hashlib.sha256(unit.code.encode()).hexdigest()[:12]
        ):
            return unit.code
    return None


# --------------------------------------------------------------------------- keyboards


def case_keyboard(
    card: CaseCard, case_url: str | None, *, actionable: bool = True
) -> InlineKeyboardMarkup | None:
    """Nhận xử lý · Đã giải quyết / Chuyển đơn vị · Xem.

    Only "Xem" once the case is finished, or when this message no longer owns the case
    (``actionable=False``: it was transferred to another unit's group). ``case_url=None`` leaves
    "Xem" out (Telegram refused the console URL; the text carries the link instead).
    """
    view = [InlineKeyboardButton(BUTTON_VIEW, url=case_url)] if case_url else []
    if card.terminal or not actionable:
        return InlineKeyboardMarkup([view]) if view else None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(BUTTON_TAKE, callback_data=encode_callback(card.id, TAKE)),
                InlineKeyboardButton(
                    BUTTON_RESOLVE, callback_data=encode_callback(card.id, RESOLVE)
                ),
            ],
            [
                InlineKeyboardButton(
                    BUTTON_TRANSFER, callback_data=encode_callback(card.id, TRANSFER)
                ),
                *view,
            ],
        ]
    )


def transfer_keyboard(card: CaseCard, units: Iterable[UnitInfo]) -> InlineKeyboardMarkup:
    """One button per other unit (two per row), then "« Quay lại"."""
    buttons = [
        InlineKeyboardButton(
            unit.short_name or unit.name,
            callback_data=encode_callback(card.id, TRANSFER_TO, unit.code),
        )
        for unit in units
        if unit.code != card.unit_code
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(BUTTON_BACK, callback_data=encode_callback(card.id, BACK))])
    return InlineKeyboardMarkup(rows)


def _group_header(title_html: str, unit_name: str) -> str:
    """The bold first line of a unit group's periodic message (the daily summary, the weekly
    digest): what it is, then the unit, since one group may serve several units.
    ``title_html`` is already HTML (the caller escapes what it took from the payload)."""
    return f"<b>{title_html} — {html.escape(unit_name)}</b>"


def render_daily_summary(payload: Mapping[str, Any], unit_name: str, console_url: str) -> str:
    """The morning summary of :mod:`bot.cases.daily_summary` as a group message (HTML)."""
    base = console_url.rstrip("/")
    day = str(payload.get("day") or "")
    shown = f"{day[8:10]}/{day[5:7]}/{day[:4]}" if len(day) == 10 else day
    lines = [
        _group_header(f"Tóm tắt ngày {html.escape(shown)}", unit_name),
        f"• Hồ sơ mới tiếp nhận: {int(payload.get('received') or 0)}",
        f"• Đã xử lý xong: {int(payload.get('finished') or 0)}",
        f"• Đang mở: {int(payload.get('open') or 0)}"
        f" (quá hạn: {int(payload.get('overdue') or 0)})",
    ]
    quarantined = payload.get("quarantined")
    if quarantined is not None:
        lines.append(f"• Tin bị bộ lọc tạm giữ, chờ cán bộ xem lại: {int(quarantined)}"
                     f" — {html.escape(base)}/staff/quarantine")
    lines.append(f"Danh sách hồ sơ: {html.escape(base)}/staff/cases")
    return "\n".join(lines)


def render_weekly_digest(payload: Mapping[str, Any], unit_name: str, console_url: str) -> str:
    """Monday's digest of :mod:`bot.cases.weekly_digest` as a group message (HTML): the week's
    figures against the four weeks before, the rising topics, the link to the digest page."""
    from bot.cases.digest_topics import topic_words
    from bot.staff.html import duration

    def day(value: Any) -> str:
        text = str(value or "")
        return f"{text[8:10]}/{text[5:7]}" if len(text) == 10 else text

    received, baseline = int(payload.get("received") or 0), float(payload.get("baseline") or 0)
    change = "" if not baseline else f", {100 * (received - baseline) / baseline:+.0f}% so với " \
        f"trung bình 4 tuần trước ({baseline:.1f})"
    lines = [
        _group_header(
            f"Bản tin dư luận tuần {day(payload.get('first_day'))}–{day(payload.get('last_day'))}",
            unit_name),
        f"• Hồ sơ nhận: {received}{change}",
        f"• Đang quá hạn: {int(payload.get('overdue') or 0)}; chưa ai phản hồi: "
        f"{int(payload.get('unanswered') or 0)}",
        f"• Phản hồi đầu tiên (trung vị): {duration(payload.get('first_response_median'))}; "
        f"giải quyết (trung vị): {duration(payload.get('resolution_median'))}",
    ]
    if payload.get("rating_average") is not None:
        lines.append(f"• Đánh giá của người dân: {float(payload['rating_average']):.1f}/5 "
                     f"({int(payload.get('ratings') or 0)} lượt)")
    topics = [t for t in payload.get("topics") or () if isinstance(t, Mapping)]
    if topics:
        lines.append("Vấn đề tăng nhanh:")
        for t in topics:
            group = f", nhóm {int(t['cluster_size'])} người cùng phản ánh" \
                if t.get("cluster_size") else ""
            lines.append(f"• {html.escape(topic_words(str(t.get('key'))).capitalize())}: "
                         f"{int(t.get('current') or 0)} hồ sơ (trước đó trung bình "
                         f"{float(t.get('baseline') or 0):.1f}/tuần{group})")
    path = str(payload.get("path") or "/staff/digest")
    lines.append(f"Xem đầy đủ: {html.escape(console_url.rstrip('/') + path)}")
    return "\n".join(lines)
