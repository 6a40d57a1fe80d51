"""Hold back a sender who keeps sending flagged messages.

A hijacked account or a spam bot posts the same advert again and again; each copy would otherwise
be quarantined and reviewed one by one. :class:`SpamRateLimiter` counts a sender's *flagged*
messages in a sliding time window and, past ``max_flagged`` of them, turns every verdict for that
sender into ``rate_limited`` until the window has moved on, so staff can review the burst as one.
Clean messages are never counted: a citizen who writes a lot is not a spammer.

The class is in-memory and pure: time comes from an injected clock (or the ``now`` argument), it
does no I/O, and :meth:`SpamRateLimiter.snapshot` / :meth:`SpamRateLimiter.restore` let a caller
keep the counts in a database or Redis when more than one process answers messages (the default
clock is wall time, ``time.time``, so persisted times stay meaningful across processes).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from bot.moderation.engine import MAX_REASON_LENGTH, Verdict
from bot.moderation.rules import ModerationRules

__all__ = ["SpamRateLimiter"]

RATE_LIMIT_RULE_ID = "rate_limit.sender"


class SpamRateLimiter:
    """Sliding-window count of flagged messages per sender."""

    def __init__(
        self,
        max_flagged: int = 3,
        window_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_flagged < 1:
            raise ValueError("max_flagged must be at least 1")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self.max_flagged = max_flagged
        self.window_seconds = float(window_seconds)
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    @classmethod
    def from_rules(
        cls, rules: ModerationRules, clock: Callable[[], float] = time.time
    ) -> SpamRateLimiter:
        """A limiter configured by ``rate_limit`` in the moderation ``settings.yml``."""
        return cls(rules.rate_limit_max_flagged, rules.rate_limit_window_seconds, clock)

    def check(self, sender_id: str, verdict: Verdict, now: float | None = None) -> Verdict:
        """Record ``verdict`` for ``sender_id`` and return the verdict the caller should act on.

        The verdict comes back unchanged unless the sender has more than ``max_flagged`` flagged
        messages inside the window (this one included); then it is a ``rate_limited`` verdict
        whose reason says how many and what the message itself was judged to be, and whose score
        is that number of flagged messages.
        """
        at = self._clock() if now is None else now
        events = self._events.get(sender_id)
        if events is None:
            events = deque()
            self._events[sender_id] = events
        self._prune(events, at)
        if verdict.flagged:
            events.append(at)
        count = len(events)
        if not events:
            del self._events[sender_id]
        if count <= self.max_flagged:
            return verdict
        minutes = self.window_seconds / 60
        reason = (
            f"Người gửi đã có {count} tin bị gắn cờ trong {minutes:g} phút "
            f"(giới hạn {self.max_flagged}); tin này: {verdict.reason}"
        )
        if len(reason) > MAX_REASON_LENGTH:
            reason = reason[: MAX_REASON_LENGTH - 1] + "…"
        return Verdict(
            flagged=True,
            category="rate_limited",
            score=float(count),
            reason=reason,
            rule_ids=(RATE_LIMIT_RULE_ID, *verdict.rule_ids),
        )

    def count(self, sender_id: str, now: float | None = None) -> int:
        """Flagged messages of ``sender_id`` still inside the window."""
        at = self._clock() if now is None else now
        events = self._events.get(sender_id)
        if not events:
            return 0
        return sum(1 for t in events if t > at - self.window_seconds)

    def purge(self, now: float | None = None) -> int:
        """Forget senders whose flagged messages have all left the window; returns how many."""
        at = self._clock() if now is None else now
        stale = []
        for sender_id, events in self._events.items():
            self._prune(events, at)
            if not events:
                stale.append(sender_id)
        for sender_id in stale:
            del self._events[sender_id]
        return len(stale)

    def snapshot(self) -> dict[str, list[float]]:
        """The recorded times per sender, to persist elsewhere."""
        return {sender: list(events) for sender, events in self._events.items() if events}

    def restore(self, snapshot: Mapping[str, Sequence[float]]) -> None:
        """Replace the recorded times with a :meth:`snapshot` taken earlier."""
        self._events = {
            sender: deque(sorted(float(t) for t in times))
            for sender, times in snapshot.items()
            if times
        }

    def _prune(self, events: deque[float], at: float) -> None:
        while events and events[0] <= at - self.window_seconds:
            events.popleft()
