"""The Monday-morning digest each unit's Telegram group gets (issue 15 item 2): last week's
figures for the unit and the units below it, the topics rising fastest, and a link to the digest
page (``/staff/digest``) where the rest is.

Like :mod:`bot.cases.daily_summary`: one outbox row per unit and week, queued by the outbox
worker's periodic scan on Monday after :data:`SEND_AFTER` local time (``WEEKLY_DIGEST_AT`` in
:mod:`bot.settings` changes it or turns it off), once-only through a "seen" key per unit and ISO
week. The payload is plain numbers and codes (no quote, no name, no phone): a group message is
forwarded further than the console, so the words citizens wrote stay on the page.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases.digest import Digest, Period, build_digest, subtree
from bot.cases.inbound import record_seen_message
from bot.db.models import OutboxKind, Unit
from bot.db.types import ensure_aware, utcnow
from bot.delivery.outbox import enqueue

__all__ = ["SEND_AFTER", "WEEKDAY", "digest_payload", "queue_weekly_digests"]

#: Local time on :data:`WEEKDAY` after which the week's digest is queued by default.
SEND_AFTER = time(7, 45)
#: Monday.
WEEKDAY = 0
#: Rising topics named in the message.
TOPICS = 3
_SEEN_CHANNEL = "weekly-digest"


def digest_payload(digest: Digest) -> dict[str, Any]:
    """What the group message says, as JSON-able plain values."""
    period = digest.period
    return {
        "unit_code": digest.unit_code,
        "first_day": period.first_day.isoformat(),
        "last_day": period.last_day.isoformat(),
        "days": period.days,
        "received": digest.total.current,
        "baseline": round(digest.total.baseline, 2),
        "overdue": digest.overdue_count,
        "unanswered": digest.unanswered_count,
        "first_response_median": digest.first_response.median,
        "resolution_median": digest.resolution.median,
        "rating_average": round(digest.rating_average, 2)
        if digest.rating_average is not None
        else None,
        "ratings": sum(digest.ratings.values()),
        "topics": [
            {
                "key": t.key,
                "current": t.current,
                "baseline": round(t.baseline, 2),
                "cluster_size": t.cluster_size,
            }
            for t in digest.rising_topics[:TOPICS]
        ],
        "path": f"/staff/digest?unit={digest.unit_code}&days={period.days}"
        f"&end={period.last_day.isoformat()}",
    }


def queue_weekly_digests(
    session: Session,
    *,
    tz: ZoneInfo,
    now: datetime | None = None,
    at: time = SEND_AFTER,
    weekday: int = WEEKDAY,
) -> int:
    """Queue this week's digest for every unit with a linked Telegram group, once; returns how
    many were queued now (0 on other days, before ``at`` local time, or when already queued).
    The period is the 7 days up to yesterday (Monday to Sunday when sent on a Monday)."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    local = now.astimezone(tz)
    if local.weekday() != weekday or local.time() < at:
        return 0
    year, week, _ = local.isocalendar()
    units = (
        session.execute(
            select(Unit.code).where(Unit.telegram_chat_id.is_not(None)).order_by(Unit.code)
        )
        .scalars()
        .all()
    )
    period = Period.ending(local.date() - timedelta(days=1), tz, 7)
    queued = 0
    for code in units:
        if not record_seen_message(session, _SEEN_CHANNEL, f"{code}:{year}-W{week:02d}", now):
            continue
        digest = build_digest(
            session,
            code,
            tz=tz,
            period=period,
            now=now,
            units=subtree(session, code),
            with_questions=False,
        )
        enqueue(
            session, OutboxKind.WEEKLY_DIGEST, target=code, payload=digest_payload(digest), now=now
        )
        queued += 1
    return queued
