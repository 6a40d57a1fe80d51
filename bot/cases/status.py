"""What a citizen is told about their own case: status, unit, last update, public reply."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases.lookup import StatusView
from bot.db.models import Case, Outbox, OutboxKind
from bot.settings import get_settings

STATUS_LABELS = {
    "new": "Mới tiếp nhận, đang chờ phân công",
    "acknowledged": "Đã tiếp nhận, đang phân công cán bộ",
    "in_progress": "Đang được xem xét, giải quyết",
    "resolved": "Đã giải quyết",
    "rejected": "Không thụ lý",
    "closed": "Đã đóng",
}
NOT_FOUND = (
    "Tôi không tìm thấy hồ sơ nào với mã này trong các hồ sơ bạn đã gửi qua kênh này. Bạn kiểm "
    "tra lại mã (dạng KN-2611-0042), hoặc nhắn \"gặp cán bộ\" nếu cần hỗ trợ."
)
INVALID_CODE = (
    "\"{code}\" không phải là một mã hồ sơ hợp lệ. Mã hồ sơ có dạng KN-2611-0042 (phản ánh, "
    "kiến nghị), GY-2611-0042 (góp ý) hoặc HT-2611-0042 (gặp cán bộ). Bạn kiểm tra lại mã, hoặc "
    "nhắn \"hồ sơ của tôi\" để xem hồ sơ gần nhất bạn đã gửi."
)
NO_CASES = (
    "Tôi chưa thấy hồ sơ nào bạn gửi qua kênh này. Nếu bạn có mã hồ sơ (dạng KN-2611-0042), "
    "hãy nhắn mã đó cho tôi."
)


def last_public_reply(session: Session, ref_code: str) -> str | None:
    """The newest reply staff sent to the citizen on this case, if any."""
    row = session.execute(
        select(Outbox.payload)
        .join(Case, Case.id == Outbox.case_id)
        .where(Case.ref_code == ref_code, Outbox.kind == OutboxKind.CITIZEN_REPLY)
        .order_by(Outbox.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if isinstance(row, dict) and row.get("text"):
        return str(row["text"])
    return None


def _local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(get_settings().timezone)).strftime("%H:%M ngày %d/%m/%Y")


def describe(view: StatusView, reply: str | None) -> str:
    status = view.status.value if hasattr(view.status, "value") else str(view.status)
    lines = [
        f"Hồ sơ {view.ref_code}: {STATUS_LABELS.get(status, status)}.",
        f"Đơn vị xử lý: {view.unit_name}.",
        f"Cập nhật gần nhất: {_local(view.updated_at)}.",
    ]
    if reply:
        lines.append(f"Trả lời của cán bộ: {reply}")
    return "\n".join(lines)
