"""The report of one announcement: how many were targeted and what became of them, for the
console and as CSV. "Unsubscribed afterwards" are those who withdrew between the approval and the
moment their message would have left: they received nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.models import AnnouncementRecipient, RecipientStatus

__all__ = ["Report", "report", "report_csv"]


@dataclass(frozen=True)
class Report:
    targeted: int
    sent: int
    not_allowed: int
    blocked: int
    failed: int
    unsubscribed: int
    pending: int
    #: (channel, status, reason) → count, for the breakdown table.
    breakdown: tuple[tuple[str, str, str, int], ...] = ()


def report(session: Session, announcement_id: int) -> Report:
    rows = session.execute(
        select(
            AnnouncementRecipient.channel,
            AnnouncementRecipient.status,
            AnnouncementRecipient.reason,
            func.count(),
        )
        .where(AnnouncementRecipient.announcement_id == announcement_id)
        .group_by(
            AnnouncementRecipient.channel,
            AnnouncementRecipient.status,
            AnnouncementRecipient.reason,
        )
        .order_by(AnnouncementRecipient.channel, AnnouncementRecipient.status)
    ).all()
    totals: dict[str, int] = {s.value: 0 for s in RecipientStatus}
    breakdown = []
    for channel, status, reason, count in rows:
        value = RecipientStatus(status).value
        totals[value] += int(count)
        breakdown.append((str(channel), value, str(reason or ""), int(count)))
    return Report(
        targeted=sum(totals.values()),
        sent=totals["sent"],
        not_allowed=totals["not_allowed"],
        blocked=totals["blocked"],
        failed=totals["failed"],
        unsubscribed=totals["unsubscribed"],
        pending=totals["pending"],
        breakdown=tuple(breakdown),
    )


def report_csv(session: Session, announcement_id: int) -> str:
    """The totals, then one line per channel, status and reason. No subscriber ids: the export
    leaves the system, the platform ids of citizens need not."""
    data = report(session, announcement_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "announcement_id",
            "targeted",
            "sent",
            "not_allowed",
            "blocked",
            "failed",
            "unsubscribed_afterwards",
            "pending",
        ]
    )
    writer.writerow(
        [
            announcement_id,
            data.targeted,
            data.sent,
            data.not_allowed,
            data.blocked,
            data.failed,
            data.unsubscribed,
            data.pending,
        ]
    )
    writer.writerow([])
    writer.writerow(["channel", "status", "reason", "count"])
    for row in data.breakdown:
        writer.writerow(row)
    return out.getvalue()
