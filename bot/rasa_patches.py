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
later. Rasa offers no hook for any of these, so each is a targeted monkeypatch, installed when
Rasa imports our tracker store or policy (:mod:`bot.rasa_stores`, :mod:`bot.policies`) and
covered by ``tests/unit/test_rasa_patches.py``, which pins the Rasa version it was written for.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

#: The Rasa release these replacements were checked against (the test fails on another).
RASA_VERSION = "3.6.21"

_installed = False


def _patch_action_validation() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions import action as rasa_action
    from rasa.shared.constants import DOCS_BASE_URL

    schema = rasa_action.RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)  # once, instead of once per action call
    validator = validator_class(schema)

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


def install() -> None:
    """Install both replacements once per process (safe to call many times)."""
    global _installed
    if _installed:
        return
    _installed = True
    import rasa

    if rasa.__version__ != RASA_VERSION:
        logger.warning(
            "bot.rasa_patches was written for Rasa %s, this is %s: patches not installed",
            RASA_VERSION,
            rasa.__version__,
        )
        return
    _patch_action_validation()
    _patch_event_lookup()
    _patch_failsafe_tracker_store()
