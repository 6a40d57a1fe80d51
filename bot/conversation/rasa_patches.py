"""Per-message work Rasa 3.6 repeats that can be done once per process.

Profiling a Rasa replica under 10 concurrent conversations (py-spy, ``bench/compare_pipelines``'s
workload) showed about 30 % of its CPU in ``RemoteAction._validate_action_result``: it calls
``jsonschema.validate``, which re-checks the (constant) response *schema* against the JSON Schema
meta-schema on every custom action before validating the response itself. Another 3 % went to
``Event.resolve_by_type``, which walks every subclass of ``Event`` for each stored event it
deserialises.

:func:`install` replaces both with equivalents that build their constant part once: the same
schema, the same validator class, the same ``ValidationError`` with Rasa's hint appended; the
same class for each type name (rebuilt if an event class appears later). It also lets a tracker
store that says ``fail_loudly`` (ours) fail the turn when its database is down, where Rasa's
``FailSafeTrackerStore`` would carry on with an empty in-memory conversation and drop its events
later. And it bounds each sender's work (:mod:`bot.conversation.bounded_turns`): NLU reads a message's first
characters in a worker thread, so one sender's long messages cannot hold the event loop that
acknowledges every other conversation's webhooks. A chat message sent again with the same id is
answered from the stored turn instead of running twice (:mod:`bot.conversation.replayed_turns`).
A graph run on a message or a tracker skips dask's scheduler (:mod:`bot.conversation.graph_runs`). Rasa offers no hook for any of these, so each is a targeted monkeypatch, installed when
Rasa imports our tracker store or policy (:mod:`bot.conversation.rasa_stores`, :mod:`bot.conversation.policies`) and
covered by ``tests/unit/test_rasa_patches.py``, which pins the Rasa version it was written for.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

#: The Rasa release these replacements were checked against (the test fails on another).
RASA_VERSION = "3.6.21"

_installed = False


def checked_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for ``schema``, the schema checked against its meta-schema once:
    ``jsonschema.validate``, which Rasa calls, checks it again on every call."""
    from jsonschema.validators import validator_for

    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _patch_action_validation() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.core.actions import action as rasa_action
    from rasa.shared.constants import DOCS_BASE_URL

    validator = checked_validator(rasa_action.RemoteAction.action_response_format_spec())

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        """Same contract as Rasa's: True, or the best-matching ValidationError with a hint."""
        error: ValidationError | None = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    remote = rasa_action.RemoteAction
    remote._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def _patch_event_lookup() -> None:
    from rasa.shared.core import events
    from rasa.shared.utils.common import all_subclasses

    by_name: dict[str, type[events.Event]] = {}

    def _rebuild() -> None:
        by_name.clear()
        # First match wins, as in Rasa's loop over all_subclasses().
        for cls in reversed(all_subclasses(events.Event)):
            by_name[cls.type_name] = cls

    original = events.Event.resolve_by_type

    def resolve_by_type(
        type_name: str, default: type[events.Event] | None = None
    ) -> type[events.Event] | None:
        cls = by_name.get(type_name)
        if cls is None:
            _rebuild()  # an event class imported since the last lookup
            cls = by_name.get(type_name)
        if cls is not None:
            return cls
        return original(type_name, default)  # Rasa's own "topic"/default/ValueError handling

    _rebuild()
    events.Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[assignment]


def _raise(error: Exception) -> None:
    raise error


def _patch_failsafe_tracker_store() -> None:
    from rasa.core.agent import Agent

    original = Agent._create_tracker_store

    def _create_tracker_store(store: Any, domain: Any) -> Any:
        wrapped = original(store, domain)
        if getattr(store, "fail_loudly", False):
            # FailSafeTrackerStore calls this from inside its ``except`` block: re-raising makes
            # the turn fail (the channel answers with an error) instead of continuing on an
            # empty in-memory tracker that is thrown away later.
            wrapped._on_tracker_store_error = _raise
        return wrapped

    Agent._create_tracker_store = staticmethod(_create_tracker_store)  # type: ignore[method-assign]


def _patch_bounded_turns() -> None:
    """Bounded work per sender (:mod:`bot.conversation.bounded_turns`): a channel's length ceiling, a
    per-sender rate limit, and NLU on the first characters only, in a worker thread."""
    import copy
    import sys

    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.conversation import bounded_turns
    from bot.knowledge.replies import reply_text

    sys.setswitchinterval(bounded_turns.GIL_SWITCH_SECONDS)
    original_handle = MessageProcessor.handle_message

    async def handle_message(self: Any, message: UserMessage) -> Any:
        if message.text is not None:
            message.text = bounded_turns.kept_text(message.text, message.input_channel)
            verdict = bounded_turns.sender_limiter().check(str(message.sender_id))
            if verdict != "ok":
                logger.warning("sender over the rate limit: message not handled (%s)", verdict)
                if verdict == "tell":
                    await message.output_channel.send_response(
                        message.sender_id, {"text": reply_text("rate_limit_reply")})
                if isinstance(message.output_channel, CollectingOutputChannel):
                    return message.output_channel.messages
                return None
        return await original_handle(self, message)

    original_parse = MessageProcessor.parse_message

    async def parse_message(self: Any, message: UserMessage,
                            tracker: DialogueStateTracker | None = None,
                            only_output_properties: bool = True) -> dict[str, Any]:
        if self.http_interpreter:
            return await original_parse(self, message, tracker, only_output_properties)
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        parsed = message
        if message.text and len(message.text) > bounded_turns.MAX_NLU_CHARS:
            parsed = copy.copy(message)
            parsed.text = bounded_turns.cut_for_nlu(message.text)
        parse_data: dict[str, Any] = await bounded_turns.run_nlu(
            lambda: self._parse_message_with_graph(parsed, tracker, only_output_properties))
        # What Rasa's parse_message does after the graph (its debug log line aside).
        self._update_full_retrieval_intent(parse_data)
        self._check_for_unseen_features(parse_data)
        return parse_data

    MessageProcessor.handle_message = handle_message  # type: ignore[method-assign]
    MessageProcessor.parse_message = parse_message  # type: ignore[method-assign]


def _patch_graph_runner() -> None:
    """Graphs run on a message or a tracker (``/model/parse``, the dialogue's next action) run
    in plain Python (:mod:`bot.conversation.graph_runs`); training graphs keep dask.

    Why the per-turn branch restates the body of Rasa 3.6.21's ``DaskGraphRunner.run`` instead
    of swapping ``dask.get`` underneath it: that body builds an f-string of its inputs (the
    message or the whole tracker) for a debug line on every call, whether or not debug logging
    is on, and that is per-turn work this patch exists to remove. The restated steps are the
    same calls in the same order (minimal schema, dask graph, inputs, targets, ``GraphRunError``
    on ``RuntimeError``); :func:`install` applies no patch under any other Rasa version.
    """
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    from bot.conversation.graph_runs import run_graph

    original_run = DaskGraphRunner.run
    per_turn = {PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER}

    def run(self: Any, inputs: dict[str, Any] | None = None,
            targets: list[str] | None = None) -> dict[str, Any]:
        if not inputs or not per_turn & set(inputs):
            return original_run(self, inputs, targets)
        run_targets = targets if targets else self._graph_schema.target_names
        graph = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
        self._add_inputs_to_graph(inputs, graph)
        try:
            return dict(run_graph(graph, run_targets))
        except RuntimeError as error:  # as Rasa's own run
            raise GraphRunError("Error running runner.") from error

    DaskGraphRunner.run = run  # type: ignore[method-assign]


def _patch_failed_actions() -> None:
    """A custom action that fails to run says so to the citizen and ends the turn.

    Rasa logs the exception, records no event and predicts the next action, so the citizen who
    pressed "Gửi" while the action server was down got an empty answer and believed the petition
    sent (issue 18). A rejection (``ActionExecutionRejection``: a form step refusing the input)
    is part of the dialogue and passes through unchanged.
    """
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
    from rasa.shared.core.events import BotUttered, FollowupAction

    from bot.knowledge.replies import reply_text

    original_run = RemoteAction.run

    async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any,
                  domain: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original_run(self, output_channel, nlg, tracker, domain,
                                      *args, **kwargs)
        except ActionExecutionRejection:
            raise
        except Exception:  # connection refused, timeout, 5xx, invalid answer
            logger.exception("custom action %s did not run: the citizen is told so",
                             self.name())
            return [BotUttered(reply_text("action_failed"), metadata={"action_failed": self.name()}),
                    FollowupAction("action_listen")]

    RemoteAction.run = run  # type: ignore[method-assign]


def _patch_replayed_turns() -> None:
    """A chat message whose id is already in the conversation is answered from the stored turn,
    not run again (:mod:`bot.conversation.replayed_turns`). The check runs where the tracker is
    first in hand, under the conversation's lock and before NLU."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.conversation.replayed_turns import AlreadyAnswered, answer_of

    original_log = MessageProcessor._handle_message_with_tracker

    async def _handle_message_with_tracker(self: Any, message: UserMessage,
                                           tracker: DialogueStateTracker) -> None:
        if isinstance(message.output_channel, CollectingOutputChannel):
            replies = answer_of(tracker.events, message.message_id)
            if replies is not None:
                raise AlreadyAnswered(str(message.message_id), replies)
        await original_log(self, message, tracker)

    original_handle = MessageProcessor.handle_message

    async def handle_message(self: Any, message: UserMessage) -> Any:
        try:
            return await original_handle(self, message)
        except AlreadyAnswered as answered:
            output = message.output_channel
            assert isinstance(output, CollectingOutputChannel)  # only those are checked
            # A warning: rare (a client resent after losing the answer), and worth seeing.
            logger.warning("message %s was answered already: its answer is sent again, the "
                           "turn is not run", answered.message_id)
            output.messages = []  # a session start may have spoken before the check
            for reply in answered.replies:
                await output.send_response(message.sender_id, reply.message())
            return output.messages

    MessageProcessor._handle_message_with_tracker = _handle_message_with_tracker  # type: ignore[method-assign]
    MessageProcessor.handle_message = handle_message  # type: ignore[method-assign]


def install() -> None:
    """Install the replacements once per process (safe to call many times)."""
    global _installed
    if _installed:
        return
    _installed = True
    import rasa

    if rasa.__version__ != RASA_VERSION:
        logger.warning(
            "bot.conversation.rasa_patches was written for Rasa %s, this is %s: patches not installed",
            RASA_VERSION,
            rasa.__version__,
        )
        return
    _patch_action_validation()
    _patch_event_lookup()
    _patch_failsafe_tracker_store()
    _patch_bounded_turns()
    _patch_graph_runner()
    _patch_failed_actions()
    _patch_replayed_turns()
