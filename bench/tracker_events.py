"""Read conversations back from Rasa's SQL tracker store and compare them with what was sent.

Benchmarks tag every message they send with ``metadata: {"bench_msg": "<id>"}`` (the REST
channel stores a message's metadata in its ``user`` event), so a message can be found in the
store even when its text repeats ("/affirm") and lost, duplicated and reordered messages can be
counted exactly. The store is read directly (table ``events`` of ``SQLTrackerStore``) rather than
through ``/conversations/<id>/tracker``: one query for every conversation, and no Rasa replica
has to be up.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, text

TAG = "bench_msg"


def tagged(message_id: str) -> dict[str, Any]:
    """The metadata that marks a message as sent by a benchmark."""
    return {TAG: message_id}


@dataclass(frozen=True)
class StoredEvent:
    type_name: str
    action_name: str | None
    tag: str | None  # the bench_msg tag of a user event


def read_events(url: str, senders: Iterable[str], chunk: int = 500) -> dict[str, list[StoredEvent]]:
    """Every stored event of ``senders``, in the order the store assigned (``events.id``)."""
    wanted = list(dict.fromkeys(senders))
    found: dict[str, list[StoredEvent]] = {s: [] for s in wanted}
    engine = create_engine(url, future=True, connect_args={"connect_timeout": 10})
    query = text(
        "SELECT sender_id, type_name, action_name, data FROM events "
        "WHERE sender_id = ANY(:senders) ORDER BY id"
    )
    try:
        with engine.connect() as connection:
            for start in range(0, len(wanted), chunk):
                part = wanted[start : start + chunk]
                for row in connection.execute(query, {"senders": part}):
                    tag = None
                    if row.type_name == "user":
                        try:
                            data = json.loads(row.data or "{}")
                        except ValueError:
                            data = {}
                        tag = ((data.get("metadata") or {}) or {}).get(TAG)
                    found[row.sender_id].append(StoredEvent(row.type_name, row.action_name, tag))
    finally:
        engine.dispose()
    return found


@dataclass
class ConversationCheck:
    """One conversation: the tagged messages expected against the user events stored."""

    sender: str
    expected: int
    stored: int  # user events carrying one of our tags (duplicates included)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # stored, but not among the expected
    out_of_order: bool = False
    #: User events that arrived while the previous turn had not reached ``action_listen`` yet:
    #: two turns of the conversation ran at the same time.
    interleaved: int = 0
    untagged_user_events: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.duplicated or self.unexpected or self.out_of_order or self.interleaved
        )


def check_conversation(
    sender: str, rounds: Sequence[Sequence[str]], events: Sequence[StoredEvent]
) -> ConversationCheck:
    """Compare stored events with ``rounds``: lists of tags sent one round after another.

    Tags within a round were sent at the same moment, so their order is free; every tag of round
    ``r`` must be stored before any tag of round ``r + 1`` (a round was sent only after the
    previous one was answered). A load test's citizen sends one message per round.
    """
    round_of = {tag: r for r, tags in enumerate(rounds) for tag in tags}
    user_tags = [e.tag for e in events if e.type_name == "user"]
    ours = [t for t in user_tags if t is not None]
    counts = Counter(ours)
    check = ConversationCheck(sender=sender, expected=len(round_of), stored=len(ours))
    check.untagged_user_events = sum(1 for t in user_tags if t is None)
    check.lost = [t for t in round_of if counts[t] == 0]
    check.duplicated = [t for t, n in counts.items() if n > 1 and t in round_of]
    check.unexpected = [t for t in counts if t not in round_of]
    order = [round_of[t] for t in dict.fromkeys(ours) if t in round_of]
    check.out_of_order = any(b < a for a, b in zip(order, order[1:], strict=False))
    in_turn = False
    for event in events:
        if event.type_name == "user":
            check.interleaved += int(in_turn)
            in_turn = True
        elif event.type_name == "action" and event.action_name == "action_listen":
            in_turn = False
    return check


@dataclass
class StoreSummary:
    conversations: int = 0
    expected: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    out_of_order: int = 0
    interleaved: int = 0
    conversations_with_loss: int = 0
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summarise(checks: Iterable[ConversationCheck], examples: int = 5) -> StoreSummary:
    summary = StoreSummary()
    for c in checks:
        summary.conversations += 1
        summary.expected += c.expected
        summary.stored += c.stored
        summary.lost += len(c.lost)
        summary.duplicated += len(c.duplicated)
        summary.unexpected += len(c.unexpected)
        summary.out_of_order += int(c.out_of_order)
        summary.interleaved += c.interleaved
        summary.conversations_with_loss += int(bool(c.lost))
        if not c.ok and len(summary.examples) < examples:
            summary.examples.append(
                f"{c.sender}: expected {c.expected}, stored {c.stored}, lost {len(c.lost)}, "
                f"duplicated {len(c.duplicated)}, unexpected {len(c.unexpected)}, "
                f"out of order {c.out_of_order}, interleaved {c.interleaved}"
            )
    return summary
