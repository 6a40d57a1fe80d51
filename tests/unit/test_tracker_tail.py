"""A tracker cut to its tail behind a prefix is the full tracker for everything a turn reads
(issue 14 item 3, :mod:`bot.conversation.tracker_tail`).

A long conversation with every kind of event that changes state (slots, the form activated,
interrupted, rejected and ended, a fallback that rewinds, an undo, a pause and resume, a restart,
a handoff, failed code look-ups) is cut at every turn; at several later points the cut tracker
must give the same slots, active loop and flags, latest message and action, the same states for
the policies (the last ten, plain and as the RulePolicy asks for them), and the same answers to
the history look-ups of our actions.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    LoopInterrupted,
    Restarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
    deserialise_events,
)
from rasa.shared.core.trackers import DialogueStateTracker

from actions.handoff import acknowledged
from actions.status import recent_misses
from bot.conversation import tracker_tail
from bot.knowledge.replies import reply_text

ROOT = Path(__file__).resolve().parents[2]
LISTEN = "action_listen"


@lru_cache(maxsize=1)
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


class Talk:
    """Builds a conversation one turn at a time, timestamps increasing by one second."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.events: list[Event] = [ActionExecuted(LISTEN, timestamp=start)]
        self.clock = start

    def _at(self) -> float:
        self.clock += 1.0
        return self.clock

    def add(self, *events: Event) -> None:
        for event in events:
            event.timestamp = self._at()
            self.events.append(event)

    def user(self, intent: str, text: str | None = None) -> None:
        self.add(UserUttered(text or intent, {"name": intent, "confidence": 0.9}))

    def turn(self, intent: str, *events: Event) -> None:
        self.user(intent)
        self.add(*events, ActionExecuted(LISTEN))


def _say(text: str) -> list[Event]:
    return [ActionExecuted("action_x"), BotUttered(text)]


def long_conversation() -> list[Event]:
    t = Talk()
    t.turn("greet", ActionExecuted("utter_greet"), BotUttered("xin chào"))
    t.turn(
        "ask_programme",
        ActionExecuted("action_answer_programme"),
        SlotSet("programme", "quy_vi_nguoi_ngheo"),
        BotUttered("quỹ"),
    )
    # the form: started, a question inside it (interrupted), a rejected answer, filled, ended
    t.turn(
        "submit_petition",
        ActionExecuted("case_form"),
        ActiveLoop("case_form"),
        SlotSet("requested_slot", "case_content"),
        BotUttered("nội dung?"),
    )
    t.turn(
        "ask_programme",
        ActionExecutionRejected("case_form"),
        ActionExecuted("action_answer_programme"),
        BotUttered("quỹ"),
        ActionExecuted("case_form"),
        LoopInterrupted(True),
        BotUttered("nội dung?"),
    )
    t.turn(
        "inform",
        ActionExecuted("case_form"),
        SlotSet("case_content", "cống tắc"),
        SlotSet("requested_slot", "case_location"),
    )
    t.turn("inform", ActionExecutionRejected("case_form"))
    for n in range(3):
        t.turn(
            "check_status",
            ActionExecuted("action_check_status"),
            BotUttered(reply_text("status_not_found")),
        )
        t.turn("thank", *_say(f"cảm ơn {n}"))
    t.turn(
        "inform",
        ActionExecuted("case_form"),
        SlotSet("case_location", "ngõ 5"),
        SlotSet("case_name", "Nguyễn Văn A"),
        SlotSet("requested_slot", "case_phone"),
    )
    # a fallback that rewinds the message, and an undo
    t.user("nlu_fallback")
    t.add(
        ActionExecuted("action_default_fallback"),
        BotUttered("chưa hiểu"),
        UserUtteranceReverted(),
        ActionExecuted(LISTEN),
    )
    t.user("greet")
    t.add(ActionExecuted("utter_greet"), ActionReverted(), ActionExecuted(LISTEN))
    for n in range(12):
        t.turn("ask_contact", *_say(f"địa chỉ {n}"))
    t.turn(
        "inform",
        ActionExecuted("case_form"),
        SlotSet("case_phone", "0912345678"),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        SlotSet("last_ref_code", "KN-1"),
    )
    # a handoff: started, the first message acknowledged, later ones not
    t.turn(
        "request_human",
        ActionExecuted("action_request_human"),
        BotUttered(reply_text("handoff_started", unit="phường", ref="HT-7", when="")),
        SlotSet("handoff_active", True),
        SlotSet("handoff_ref", "HT-7"),
    )
    t.turn(
        "petition",
        ActionExecuted("action_forward_to_staff"),
        BotUttered(reply_text("handoff_forwarded", ref="HT-7")),
    )
    for _ in range(12):
        t.turn("inform", ActionExecuted("action_forward_to_staff"))
    t.turn("greet", ActionExecuted("action_x"), ConversationPaused())
    t.turn("greet", ActionExecuted("action_x"), ConversationResumed())
    for n in range(4):
        t.turn(
            "check_status",
            ActionExecuted("action_check_status"),
            BotUttered(reply_text("status_not_found")),
        )
        t.turn("ask_programme", *_say(f"quỹ {n}"))
    t.turn("restart", ActionExecuted("action_restart"), Restarted())
    for n in range(12):
        t.turn("greet", ActionExecuted("utter_greet"), SlotSet("not_helpful_count", n))
    return t.events


def _tracker(events: list[Event]) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("s", list(events), domain().slots)


def _bounded(events: list[Event], cut: int) -> DialogueStateTracker:
    prefix = tracker_tail.prefix_events(
        _tracker(events[:cut]), events[:cut], cut, events[cut].timestamp
    )
    # as the store keeps it: JSON and back
    stored = deserialise_events(json.loads(json.dumps([e.as_dict() for e in prefix])))
    return _tracker(stored + events[cut:])


def _view(tracker: DialogueStateTracker, states: int) -> dict[str, Any]:
    loop = tracker.active_loop
    as_dicts = [e.as_dict() for e in tracker.events]
    rule_only = {"slots": ["awaiting"], "loops": ["case_form"]}
    return {
        "slots": tracker.current_slot_values(),
        "loop": None if loop is None else (loop.name, loop.is_interrupted, loop.rejected),
        "message": tracker.latest_message.intent if tracker.latest_message else None,
        "action": tracker.latest_action_name,
        "paused": tracker.is_paused(),
        "followup": tracker.followup_action,
        "states": tracker.past_states(domain())[-states:],
        "rule_states": tracker.past_states(
            domain(), ignore_rule_only_turns=True, rule_only_data=rule_only
        )[-states:],
        "misses": recent_misses(as_dicts, tracker.events[-1].timestamp + 1),
        "acknowledged": acknowledged(as_dicts, "HT-7"),
    }


def test_the_cut_tracker_reads_like_the_full_one_at_every_cut() -> None:
    events = long_conversation()
    starts = tracker_tail.turn_starts(events)
    assert len(starts) > 60
    cuts = tracker_tail.cut_points(events)
    assert len(cuts) > 30
    compared = 0
    for cut in cuts:
        assert _tracker(events[:cut]).active_loop is None
        later = [s for s in starts if s > cut]
        for end in {*(later[i] for i in (0, 2, 7) if i < len(later)), len(events)}:
            full, cut_tracker = _tracker(events[:end]), _bounded(events[:end], cut)
            # every state after the prefix's own first one belongs to the tail
            states = min(10, len(cut_tracker.past_states(domain())) - 1)
            if states <= 0:
                continue
            assert _view(cut_tracker, states) == _view(full, states), (cut, end)
            compared += 1
    assert compared > 100


def test_prefix_marks_every_event_and_survives_storage() -> None:
    events = long_conversation()
    cut = tracker_tail.turn_starts(events)[30]
    prefix = tracker_tail.prefix_events(_tracker(events[:cut]), events[:cut], 4242, 1.0)
    stored = deserialise_events(json.loads(json.dumps([e.as_dict() for e in prefix])))
    assert tracker_tail.prefix_length(stored + events[cut:]) == (4242, len(prefix))
    assert tracker_tail.prefix_length(events) == (None, 0)
    # nothing set yet: the action_listen alone, changing nothing
    fresh = tracker_tail.prefix_events(_tracker(events[:1]), events[:1], 7, 1.0)
    assert len(fresh) == 1 and tracker_tail.prefix_length(fresh) == (7, 1)
    assert _tracker(fresh).current_slot_values() == _tracker([]).current_slot_values()


def test_kept_bot_events_are_the_latest_misses_and_the_handoff_markers() -> None:
    events = long_conversation()
    kept = tracker_tail.kept_bot_events(events)
    texts = [e.text for e in kept]
    assert texts.count(reply_text("status_not_found")) == 7
    assert sum(t.startswith("Tôi đã chuyển") for t in texts) == 1
    assert sum(t.startswith("Đã chuyển tin nhắn") for t in texts) == 1
    assert all(isinstance(e, BotUttered) for e in kept)


def test_no_cut_inside_a_form_or_before_a_revert() -> None:
    events = long_conversation()
    cuts = set(tracker_tail.cut_points(events))
    for start in tracker_tail.turn_starts(events):
        loop = _tracker(events[:start]).active_loop
        if loop is not None:
            assert start not in cuts
    reverting = [
        i for i, e in enumerate(events) if isinstance(e, (UserUtteranceReverted, ActionReverted))
    ]
    for i in reverting:
        turn = max(s for s in tracker_tail.turn_starts(events) if s < i)
        assert turn not in cuts


@pytest.mark.parametrize(("turns", "expected"), [(5, None), (30, None), (31, "cut")])
def test_the_cut_moves_only_past_keep_plus_step(turns: int, expected: str | None) -> None:
    t = Talk()
    for n in range(turns):
        t.turn("greet", *_say(str(n)))
    cut = tracker_tail.cut_index(t.events, keep=20, step=10)
    if expected is None:
        assert cut is None
    else:
        assert cut is not None
        assert len(tracker_tail.turn_starts(t.events[cut:])) == 19  # its first is index 0
        assert isinstance(t.events[cut], UserUttered)
        assert t.events[cut - 1].action_name == LISTEN  # type: ignore[attr-defined]
