"""What a platform lets us send to one subscriber now, from ``content/platform_rules.yml``.

:func:`decide` is pure: the rules, what we know of the citizen's account on the platform
(``channel_users``: when they last wrote, whether they unfollowed), the time and how much of a
monthly quota is used go in; a :class:`Decision` comes out. The worker calls it at send time, just
before a message would leave, so a window that closed while the announcement waited is seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = ["ChannelRules", "Decision", "decide", "load_rules", "rules_file"]

Verdict = Literal["send", "not_allowed", "blocked", "defer"]

#: Reason codes (the console words them in Vietnamese).
NO_PUSH = "no_push_channel"
OUTSIDE_WINDOW = "outside_window"
NEVER_WROTE = "never_wrote"
UNFOLLOWED = "unfollowed"
QUOTA_USED = "monthly_quota_used"
QUIET_HOURS = "quiet_hours"
UNKNOWN_CHANNEL = "unknown_channel"


@dataclass(frozen=True)
class ChannelRules:
    channel: str
    window_hours: float | None
    within_window: str | None
    outside_window: str | None
    monthly_quota: int | None
    quiet_hours: tuple[time, time] | None
    rate_per_second: float | None
    push: bool


@dataclass(frozen=True)
class Decision:
    """``send`` with ``kind`` (Messenger messaging_type, Zalo message kind); ``not_allowed`` or
    ``blocked`` with ``reason``; ``defer`` until ``until`` (quiet hours)."""

    verdict: Verdict
    kind: str | None = None
    reason: str | None = None
    until: datetime | None = None


def rules_file() -> Path:
    """``ANNOUNCE_RULES_FILE`` or ``content/platform_rules.yml``."""
    import os

    from bot.settings import get_settings

    override = os.environ.get("ANNOUNCE_RULES_FILE")
    if override:
        return Path(override)
    return Path(get_settings().content_dir) / "platform_rules.yml"


def _clock(value: Any, where: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not HH:MM") from None


def load_rules(path: str | Path | None = None) -> dict[str, ChannelRules]:
    """Every channel's rules; raises ValueError naming the field when the file is wrong."""
    path = Path(path) if path is not None else rules_file()
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: not a mapping of channels")
    rules: dict[str, ChannelRules] = {}
    for channel, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"{path}: {channel} is not a mapping")
        quiet = entry.get("quiet_hours")
        if quiet is not None and (not isinstance(quiet, list) or len(quiet) != 2):
            raise ValueError(f"{path}: {channel}.quiet_hours must be [start, end]")
        rate = entry.get("rate_per_second")
        if rate is not None and float(rate) <= 0:
            raise ValueError(f"{path}: {channel}.rate_per_second must be positive")
        window = entry.get("window_hours")
        quota = entry.get("monthly_quota")
        rules[str(channel)] = ChannelRules(
            channel=str(channel),
            window_hours=float(window) if window is not None else None,
            within_window=entry.get("within_window"),
            outside_window=entry.get("outside_window"),
            monthly_quota=int(quota) if quota is not None else None,
            quiet_hours=(
                _clock(quiet[0], f"{channel}.quiet_hours"),
                _clock(quiet[1], f"{channel}.quiet_hours"),
            )
            if quiet
            else None,
            rate_per_second=float(rate) if rate is not None else None,
            push=bool(entry.get("push", False)),
        )
    return rules


def _quiet_until(quiet: tuple[time, time], now: datetime, tz: tzinfo) -> datetime | None:
    """The end of the quiet period ``now`` falls in (UTC), or None outside it."""
    start, end = quiet
    local = now.astimezone(tz)
    moment = local.time()
    inside = (start <= moment < end) if start < end else (moment >= start or moment < end)
    if not inside:
        return None
    day = local.date() if moment < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(now.tzinfo)


def decide(
    rules: Mapping[str, ChannelRules],
    channel: str,
    *,
    last_inbound_at: datetime | None,
    unfollowed_at: datetime | None,
    now: datetime,
    tz: tzinfo,
    used_this_month: int = 0,
) -> Decision:
    """May an announcement go to this subscriber on ``channel`` now, and as what?"""
    rule = rules.get(channel)
    if rule is None:
        return Decision("not_allowed", reason=UNKNOWN_CHANNEL)
    if not rule.push:
        return Decision("not_allowed", reason=NO_PUSH)
    if unfollowed_at is not None and (last_inbound_at is None or unfollowed_at >= last_inbound_at):
        return Decision("blocked", reason=UNFOLLOWED)
    if rule.window_hours is not None:
        inside = last_inbound_at is not None and now - last_inbound_at <= timedelta(
            hours=rule.window_hours
        )
        kind = rule.within_window if inside else rule.outside_window
        if kind is None:
            return Decision(
                "not_allowed", reason=OUTSIDE_WINDOW if last_inbound_at is not None else NEVER_WROTE
            )
    else:
        kind = rule.within_window
        if kind is None:
            return Decision("not_allowed", reason=NO_PUSH)
    if rule.monthly_quota is not None and used_this_month >= rule.monthly_quota:
        return Decision("not_allowed", reason=QUOTA_USED)
    if rule.quiet_hours is not None:
        until = _quiet_until(rule.quiet_hours, now, tz)
        if until is not None:
            return Decision("defer", kind=kind, reason=QUIET_HOURS, until=until)
    return Decision("send", kind=kind)
