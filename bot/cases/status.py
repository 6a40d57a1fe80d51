"""What a citizen is told about their own case: status, unit, last update, public reply."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases.lookup import StatusView
from bot.db.models import Case, Outbox, OutboxKind
from bot.knowledge.replies import reply_text
from bot.settings import get_settings


def status_labels() -> dict[str, str]:
    """How each status is worded for the citizen (content/replies.yml)."""
    return {
        "new": reply_text("status_label_new"),
        "acknowledged": reply_text("status_label_acknowledged"),
        "in_progress": reply_text("status_label_in_progress"),
        "resolved": reply_text("status_label_resolved"),
        "rejected": reply_text("status_label_rejected"),
        "closed": reply_text("status_label_closed"),
    }


def status_label(status: str) -> str:
    """The citizen's wording of ``status`` (the status itself when it has none)."""
    return status_labels().get(status, status)


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


def _local(moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(get_settings().timezone))


def describe(view: StatusView, reply: str | None) -> str:
    status = view.status.value if hasattr(view.status, "value") else str(view.status)
    lines = [
        reply_text("status_line_case", ref=view.ref_code, status=status_label(status)),
        reply_text("status_line_unit", unit=view.unit_name),
        reply_text("status_line_updated", when=_local(view.updated_at)),
    ]
    if reply:
        lines.append(reply_text("status_line_reply", reply=reply))
    return "\n".join(lines)
