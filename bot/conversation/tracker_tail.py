"""A long conversation handed to Rasa as a bounded tail: the same state, a flat cost per turn.

Issue 14 measured a turn at p50 40 ms over turns 1-50 of one conversation and 118 ms over turns
151-200. A profile (cProfile over 200 in-process turns; README, "Scale, load and faults") put the
growth in three places, each proportional to the events of the conversation session: the tracker
store reading and deserialising every stored event and replaying them into a tracker; the
policies' ``past_states``, which replays the whole tracker again to compute a state per action (the
RulePolicy several times a turn, the MemoizationPolicy once) although Memoization reads the last
4 states and the rules the last few; and ``applied_events``, called several times per turn.

So :class:`bot.conversation.rasa_stores.SettingsTrackerStore` hands Rasa a tracker made of

* a **prefix** that recreates the state at a cut point: the ``action_listen`` the cut follows,
  a ``SlotSet`` for every slot that had been set, the active loop with its interrupted/rejected
  flags, a pending follow-up action, a pause, and the few assistant messages our actions look up
  in the history (:func:`kept_bot_events`);
* the **tail**: every stored event from the cut on, the cut always at the start of a citizen turn
  (a user message right after ``action_listen``), at least :data:`TAIL_TURNS` turns back.

The prefix of a conversation is stored (table ``tracker_snapshots``, one row per conversation,
with the id of the last event it covers; erasure deletes it) and moved forward every
:data:`TAIL_STEP` turns, so a turn reads one snapshot row and 10 to 20 turns of events.

Why the policies predict the same: a state is computed from the tracker's slots, active loop,
previous action and latest user message at each step; the prefix recreates them at the cut, and
from the cut on the same events are applied, so every state of the tail equals the full tracker's
state at the same event. The MemoizationPolicy reads the last ``max_history`` (4) states, the
rules (``restrict_rules``: one user turn each) fewer than a tail holds. Two things in Rasa look
back across turns, so the cut avoids them (:func:`cut_points`): ``applied_events`` drops a form's
earlier happy-path turns back to its previous execution (never cut while a loop is active), and a
revert drops the events before it (never cut before a turn that reverts). A ``Restarted`` in the
tail drops the prefix as it drops everything before it; a new session ignores the snapshot.
``tests/unit/test_tracker_tail.py`` compares the states (plain and as the RulePolicy asks for
them), slots, loop, latest message and action and our actions' look-ups with the full tracker's
at every cut of a long conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.knowledge.replies import reply_prefix, reply_text
from bot.settings import env_int

__all__ = [
    "MARK",
    "TAIL_STEP",
    "TAIL_TURNS",
    "cut_index",
    "kept_bot_events",
    "prefix_events",
    "prefix_length",
]

#: Citizen turns a tracker keeps in full at least (``TRACKER_TAIL_TURNS``).
TAIL_TURNS = env_int("TRACKER_TAIL_TURNS", 10, minimum=5)
#: Turns the tail may grow by before the cut moves forward (``TRACKER_TAIL_STEP``).
TAIL_STEP = env_int("TRACKER_TAIL_STEP", 10, minimum=1)
#: Metadata key on every prefix event: the id of the last stored event the prefix stands for.
#: The tracker store saves none of them and counts stored events from there.
MARK = "mttq_prefix_upto"
#: "not found" answers kept: actions.status refuses a 6th code look-up after 5 misses in 10 minutes
#: (``recent_misses``); the latest misses decide that, so 10 keep its answer exact.
_KEPT_MISSES = 10
#: Handoff openings kept ("handoff_started" naming the case, actions.handoff.acknowledged).
_KEPT_HANDOFFS = 5


def turn_starts(events: Sequence[Event]) -> list[int]:
    """Indices of the user messages that start a turn (right after ``action_listen``)."""
    return [
        i
        for i in range(1, len(events))
        if isinstance(events[i], UserUttered)
        and isinstance(events[i - 1], ActionExecuted)
        and events[i - 1].action_name == ACTION_LISTEN_NAME
    ]


def _loop_active_before(events: Sequence[Event]) -> list[bool]:
    """For each index, whether a loop was active just before it (ActiveLoop and Restarted
    events; the store checks the replayed state once more before it cuts)."""
    active, flags = False, []
    for event in events:
        flags.append(active)
        if isinstance(event, ActiveLoop):
            active = bool(event.name)
        elif isinstance(event, (Restarted, SessionStarted)):
            active = False
    return flags


def cut_points(events: Sequence[Event]) -> list[int]:
    """Where ``events`` may be cut: the start of a turn where no loop is active and that
    reverts nothing.

    Rasa's ``applied_events`` drops a form's earlier happy-path turns back to its previous
    execution, and a ``UserUtteranceReverted``/``ActionReverted`` drops the events before it; with
    a loop or a revert across the cut, the tail alone would keep events the full tracker drops.
    """
    starts = turn_starts(events)
    loop_active = _loop_active_before(events)
    bounds = [*starts, len(events)]
    return [
        start
        for start, end in zip(bounds, bounds[1:], strict=False)
        if not loop_active[start]
        and not any(
            isinstance(e, (UserUtteranceReverted, ActionReverted)) for e in events[start:end]
        )
    ]


def cut_index(
    events: Sequence[Event], keep: int | None = None, step: int | None = None
) -> int | None:
    """Where to cut ``events`` so the tail keeps at least ``keep`` turns, or None while it holds
    no more than ``keep + step`` turns (moving the cut every turn would rewrite the snapshot
    every turn). The latest of :func:`cut_points` that leaves ``keep`` turns: a longer tail is
    always right, so during a long form the cut waits or stays further back."""
    keep = TAIL_TURNS if keep is None else keep
    step = TAIL_STEP if step is None else step
    starts = turn_starts(events)
    if len(starts) <= keep + step:
        return None
    latest = starts[-keep]
    allowed = [point for point in cut_points(events) if point <= latest]
    return allowed[-1] if allowed else None


def kept_bot_events(events: Sequence[Event]) -> list[BotUttered]:
    """The assistant messages of the cut-off part that actions read back from the history.

    ``actions.status.recent_misses`` counts "not found" answers of the last 10 minutes (the
    latest :data:`_KEPT_MISSES` decide whether there were 5); ``actions.handoff.acknowledged``
    looks for the latest "handoff_started" naming the case and a "handoff_forwarded" after it.
    Kept in their order, with their timestamps, so both read the same answer as from the full
    conversation. None of these texts holds personal data (a reference code at most).
    """
    not_found = reply_text("status_not_found")
    started, forwarded = reply_prefix("handoff_started"), reply_prefix("handoff_forwarded")
    misses: list[int] = []
    handoffs: list[int] = []
    last_forwarded: int | None = None
    for i, event in enumerate(events):
        if not isinstance(event, BotUttered) or not event.text:
            continue
        if event.text == not_found:
            misses.append(i)
        elif started and event.text.startswith(started):
            handoffs.append(i)
        elif forwarded and event.text.startswith(forwarded):
            last_forwarded = i
    keep = set(misses[-_KEPT_MISSES:]) | set(handoffs[-_KEPT_HANDOFFS:])
    if last_forwarded is not None:
        keep.add(last_forwarded)
    return [events[i] for i in sorted(keep)]  # type: ignore[misc]


def _marked(event: Event, upto: int) -> Event:
    event.metadata = {**(event.metadata or {}), MARK: upto}
    return event


def prefix_events(
    state: DialogueStateTracker, cut_off: Sequence[Event], upto: int, timestamp: float
) -> list[Event]:
    """Events that recreate ``state`` (the tracker at the cut, right after an ``action_listen``)
    from nothing, each marked with ``upto``: the kept assistant messages, that ``action_listen``
    (the previous action of the tail's first state), then slots, loop and flags."""
    events: list[Event] = [ActionExecuted(ACTION_LISTEN_NAME, timestamp=timestamp)]
    for name, slot in state.slots.items():
        if slot.has_been_set:
            events.append(SlotSet(name, slot.value, timestamp=timestamp))
    loop = state.active_loop
    if loop is not None and loop.name:
        events.append(ActiveLoop(loop.name, timestamp=timestamp))
        if loop.is_interrupted:
            events.append(LoopInterrupted(True, timestamp=timestamp))
        if loop.rejected:
            events.append(ActionExecutionRejected(loop.name, timestamp=timestamp))
    if state.followup_action:
        events.append(FollowupAction(state.followup_action, timestamp=timestamp))
    if state.is_paused():
        events.append(ConversationPaused(timestamp=timestamp))
    bot = [
        BotUttered(e.text, dict(e.data or {}), dict(e.metadata or {}), e.timestamp)
        for e in kept_bot_events(cut_off)
    ]
    return [_marked(e, upto) for e in bot + events]


def prefix_length(events: Sequence[Event]) -> tuple[int | None, int]:
    """(id of the last stored event the prefix stands for, number of prefix events), or
    (None, 0) for a tracker without a prefix."""
    upto: Any = None
    count = 0
    for event in events:
        mark = (event.metadata or {}).get(MARK)
        if mark is None:
            break
        upto, count = mark, count + 1
    return (int(upto) if upto is not None else None), count
