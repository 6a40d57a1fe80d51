"""The per-recipient decision of what a platform allows (``bot.announcements.rules.decide``) over
the real ``content/platform_rules.yml``: pure, no database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.announcements.rules import decide, load_rules

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "content" / "platform_rules.yml")
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = timezone.utc
NOON = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)  # 12:00 in Hà Nội


def _decide(
    channel: str,
    *,
    last: timedelta | None,
    unfollowed: timedelta | None = None,
    now: datetime = NOON,
    used: int = 0,
):
    return decide(
        RULES,
        channel,
        last_inbound_at=now - last if last is not None else None,
        unfollowed_at=now - unfollowed if unfollowed is not None else None,
        now=now,
        tz=HANOI,
        used_this_month=used,
    )


def test_messenger_sends_as_update_inside_the_24_hour_window_only() -> None:
    assert _decide("facebook", last=timedelta(hours=23, minutes=59)).kind == "UPDATE"
    assert _decide("facebook", last=timedelta(hours=23)).verdict == "send"
    late = _decide("facebook", last=timedelta(hours=24, minutes=1))
    assert (late.verdict, late.reason) == ("not_allowed", "outside_window")
    never = _decide("facebook", last=None)
    assert (never.verdict, never.reason) == ("not_allowed", "never_wrote")


def test_zalo_sends_to_followers_whenever_they_wrote_and_blocks_unfollowers() -> None:
    assert _decide("zalo", last=timedelta(days=40)).verdict == "send"
    assert _decide("zalo", last=timedelta(days=40)).kind == "proactive"
    gone = _decide("zalo", last=timedelta(days=2), unfollowed=timedelta(days=1))
    assert (gone.verdict, gone.reason) == ("blocked", "unfollowed")
    # Followed again and wrote after unfollowing: reachable again.
    assert _decide("zalo", last=timedelta(hours=1), unfollowed=timedelta(days=1)).verdict == "send"


def test_zalo_monthly_quota_is_respected() -> None:
    quota = RULES["zalo"].monthly_quota
    assert quota is not None
    assert _decide("zalo", last=timedelta(hours=1), used=quota - 1).verdict == "send"
    over = _decide("zalo", last=timedelta(hours=1), used=quota)
    assert (over.verdict, over.reason) == ("not_allowed", "monthly_quota_used")


@pytest.mark.parametrize(("local_hour", "wait_hours"), [(23, 7), (5, 1), (22, 8)])
def test_zalo_waits_out_the_night(local_hour: int, wait_hours: int) -> None:
    now = datetime(2026, 12, 4, local_hour, 0, tzinfo=HANOI).astimezone(UTC)
    decision = _decide("zalo", last=timedelta(hours=1), now=now)
    assert decision.verdict == "defer"
    assert decision.until == now + timedelta(hours=wait_hours)
    assert decision.until.astimezone(HANOI).hour == 6


def test_zalo_sends_by_day() -> None:
    morning = datetime(2026, 12, 4, 6, 0, tzinfo=HANOI).astimezone(UTC)
    assert _decide("zalo", last=timedelta(hours=1), now=morning).verdict == "send"


def test_the_chat_page_has_no_push_and_unknown_channels_get_nothing() -> None:
    web = _decide("web", last=timedelta(minutes=1))
    assert (web.verdict, web.reason) == ("not_allowed", "no_push_channel")
    assert _decide("telegram", last=timedelta(minutes=1)).reason == "unknown_channel"


def test_the_rules_file_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yml"
    bad.write_text("zalo:\n  quiet_hours: [22]\n  push: true\n", encoding="utf-8")
    with pytest.raises(ValueError, match="quiet_hours"):
        load_rules(bad)
    bad.write_text("zalo:\n  rate_per_second: 0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="rate_per_second"):
        load_rules(bad)
    assert RULES["facebook"].rate_per_second and RULES["zalo"].rate_per_second
