"""HTML pieces of the announcement pages: Vietnamese labels, the three channel previews, the
report table and the audit trail. The previews draw the very message bodies the sender posts
(``bot.announcements.render.messages_for``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from bot.announcements.render import messages_for
from bot.announcements.report import Report
from bot.announcements.rules import ChannelRules
from bot.db.models import AnnouncementEvent, AnnouncementStatus
from bot.staff import html as h

TOPIC_LABELS = {
    "su_kien": "Sự kiện",
    "cuu_tro": "Cứu trợ",
    "bau_cu": "Bầu cử",
    "lich_tiep_dan": "Lịch tiếp dân",
    "canh_bao_lua_dao": "Cảnh báo lừa đảo",
}
STATUS_LABELS = {
    AnnouncementStatus.DRAFT.value: "Bản nháp",
    AnnouncementStatus.PENDING_APPROVAL.value: "Chờ duyệt",
    AnnouncementStatus.APPROVED.value: "Đã duyệt, đang chuẩn bị gửi",
    AnnouncementStatus.SCHEDULED.value: "Đã duyệt, hẹn giờ gửi",
    AnnouncementStatus.SENDING.value: "Đang gửi",
    AnnouncementStatus.SENT.value: "Đã gửi xong",
    AnnouncementStatus.REJECTED.value: "Bị từ chối",
    AnnouncementStatus.CANCELLED.value: "Đã huỷ",
}
EVENT_LABELS = {
    "created": "Soạn thông báo",
    "submitted": "Gửi duyệt",
    "approved": "Duyệt",
    "rejected": "Từ chối",
    "cancelled": "Huỷ",
    "started": "Bắt đầu gửi",
    "finished": "Gửi xong",
}
ERRORS = {
    "not_admin": "Chỉ cán bộ quản trị đơn vị (unit_admin) được soạn, duyệt hoặc huỷ thông báo.",
    "other_unit": "Thông báo này thuộc đơn vị khác.",
    "own_announcement": "Người soạn không được tự duyệt thông báo của mình: cần một quản trị "
    "viên khác của đơn vị.",
    "bad_state": "Thông báo không còn ở trạng thái cho phép thao tác này.",
    "empty_text": "Nội dung thông báo không được để trống.",
    "text_too_long": "Nội dung quá dài (tối đa 4.000 ký tự).",
    "bad_topic": "Hãy chọn một chủ đề.",
    "bad_unit": "Hãy chọn ít nhất một đơn vị nhận, thuộc phạm vi của bạn.",
    "bad_url": "Đường dẫn ảnh hoặc liên kết phải bắt đầu bằng https:// hoặc http://.",
    "schedule_past": "Thời điểm hẹn gửi phải ở tương lai.",
    "bad_time": "Thời điểm hẹn gửi không đúng định dạng.",
    "reason_required": "Cần ghi rõ lý do từ chối.",
}
RECIPIENT_LABELS = {
    "pending": "Đang chờ gửi",
    "sent": "Đã gửi",
    "not_allowed": "Nền tảng không cho phép gửi",
    "blocked": "Người dân đã chặn / bỏ quan tâm",
    "failed": "Gửi thất bại",
    "unsubscribed": "Đã huỷ đăng ký sau khi duyệt",
}
REASON_LABELS = {
    "outside_window": "quá 24 giờ kể từ tin nhắn cuối của người dân (Messenger)",
    "never_wrote": "chưa từng nhắn cho trang",
    "no_push_channel": "trang chat trên web không có cách gửi tin chủ động",
    "unfollowed": "đã bỏ quan tâm OA",
    "monthly_quota_used": "đã hết hạn mức tin chủ động trong tháng của OA",
    "withdrew_after_approval": "đã huỷ đăng ký",
    "interrupted_mid_request": "tiến trình gửi bị ngắt giữa chừng, không gửi lại để tránh trùng",
}
CHANNEL_NOTES = {
    "facebook": "Chỉ gửi được cho người đã nhắn trang trong 24 giờ qua (tin UPDATE); ngoài 24 giờ "
    "Messenger không có thẻ tin nào dành cho thông báo nên hệ thống ghi «không được "
    "phép gửi».",
    "zalo": "Gửi dạng tin chủ động tới người đang quan tâm OA, trong hạn mức tin chủ động hằng "
    "tháng của OA; không gửi từ 22:00 đến 06:00 (hệ thống chờ đến 06:00).",
    "web": "Trang chat trên web không có kênh đẩy tin: người đăng ký qua trang chat không nhận "
    "được thông báo này và được ghi «không được phép gửi».",
}


def topic_label(code: str) -> str:
    return TOPIC_LABELS.get(code, code)


def status_label(value: Any) -> str:
    return STATUS_LABELS.get(AnnouncementStatus(value).value, str(value))


def _bubble(message: Mapping[str, Any]) -> h.Markup:
    attachment = message.get("attachment") if isinstance(message, Mapping) else None
    if isinstance(attachment, Mapping):
        payload = attachment.get("payload") or {}
        url = payload.get("url") or (payload.get("elements") or [{}])[0].get("url")
        return h.fmt('<div class="bubble image">[Ảnh] {url}</div>', url=url)
    image = message.get("image")
    prefix = h.fmt('<div class="bubble image">[Ảnh] {url}</div>', url=image) if image else ""
    return h.fmt(
        '{prefix}<div class="bubble content">{text}</div>',
        prefix=prefix,
        text=message.get("text", ""),
    )


def previews(*, text: str, image_url: str | None, link_url: str | None, unit_name: str) -> h.Markup:
    """The announcement as Messenger, Zalo OA and the chat page show it, side by side."""
    cards = []
    for channel, title in (
        ("facebook", "Facebook Messenger"),
        ("zalo", "Zalo OA"),
        ("web", "Trang chat trên web"),
    ):
        bodies = messages_for(
            channel, text=text, image_url=image_url, link_url=link_url, unit_name=unit_name
        )
        cards.append(
            h.fmt(
                '<section class="card preview" aria-label="Xem trước: {title}" id="preview-{ch}">'
                "<h3>{title}</h3>{bubbles}"
                '<p class="muted">{count} tin nhắn. {note}</p></section>',
                title=title,
                ch=channel,
                bubbles=h.join(_bubble(b) for b in bodies),
                count=len(bodies),
                note=CHANNEL_NOTES[channel],
            )
        )
    return h.fmt('<div class="grid">{cards}</div>', cards=h.join(cards))


def report_table(data: Report, announcement_id: int) -> h.Markup:
    rows = [
        ("Số người nhận (đủ điều kiện khi bắt đầu gửi)", data.targeted),
        ("Đã gửi", data.sent),
        ("Nền tảng không cho phép gửi", data.not_allowed),
        ("Người dân đã chặn / bỏ quan tâm", data.blocked),
        ("Gửi thất bại", data.failed),
        ("Huỷ đăng ký sau khi duyệt", data.unsubscribed),
        ("Đang chờ gửi", data.pending),
    ]
    summary = h.join(h.fmt("<tr><th>{k}</th><td>{v}</td></tr>", k=k, v=v) for k, v in rows)
    detail = h.join(
        h.fmt(
            "<tr><td>{ch}</td><td>{st}</td><td>{why}</td><td>{n}</td></tr>",
            ch=h.CHANNEL_LABELS.get(ch, ch),
            st=RECIPIENT_LABELS.get(st, st),
            why=REASON_LABELS.get(reason, reason),
            n=n,
        )
        for ch, st, reason, n in data.breakdown
    )
    return h.fmt(
        '<section id="report"><h2>Báo cáo gửi</h2>'
        '<table class="report"><tbody>{summary}</tbody></table>'
        "<h3>Chi tiết theo kênh</h3><table><thead><tr><th>Kênh</th><th>Kết quả</th>"
        "<th>Lý do</th><th>Số người</th></tr></thead><tbody>{detail}</tbody></table>"
        '<p><a href="/staff/announcements/{id}/report.csv">Tải báo cáo (CSV)</a></p></section>',
        summary=summary,
        detail=detail,
        id=announcement_id,
    )


def history(events: Sequence[AnnouncementEvent], names: Mapping[int, str], tz: tzinfo) -> h.Markup:
    rows = []
    for event in events:
        detail = event.detail if isinstance(event.detail, dict) else {}
        extra = ""
        if event.action == "rejected":
            extra = f"Lý do: {detail.get('reason', '')}"
        elif event.action == "started":
            extra = f"{detail.get('recipients', 0)} người nhận"
        elif event.action == "approved" and detail.get("send_at"):
            extra = "Hẹn giờ gửi"
        who = (
            names.get(event.staff_id, f"Cán bộ #{event.staff_id}") if event.staff_id else "Hệ thống"
        )
        rows.append(
            h.fmt(
                "<tr><td>{when}</td><td>{who}</td><td>{what}</td><td>{extra}</td></tr>",
                when=h.local_time(event.created_at, tz),
                who=who,
                what=EVENT_LABELS.get(event.action, event.action),
                extra=extra,
            )
        )
    return h.fmt(
        '<section id="history"><h2>Nhật ký</h2><table><thead><tr><th>Thời gian</th>'
        "<th>Người thực hiện</th><th>Hành động</th><th>Chi tiết</th></tr></thead>"
        "<tbody>{rows}</tbody></table></section>",
        rows=h.join(rows),
    )


def rules_note(rules: Mapping[str, ChannelRules]) -> str:
    fb, zalo = rules.get("facebook"), rules.get("zalo")
    parts = []
    if fb is not None and fb.rate_per_second:
        parts.append(f"Messenger tối đa {fb.rate_per_second:g} tin/giây")
    if zalo is not None and zalo.rate_per_second:
        quota = f", hạn mức {zalo.monthly_quota} tin chủ động/tháng" if zalo.monthly_quota else ""
        parts.append(f"Zalo OA tối đa {zalo.rate_per_second:g} tin/giây{quota}")
    return "; ".join(parts)
