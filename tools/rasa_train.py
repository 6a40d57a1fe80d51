"""``python -m tools.rasa_train ARGS``: ``rasa train ARGS`` without hashing the featurised
training data before and after every component.

Around each graph node, Rasa 3.6's training hook (``rasa.engine.training.hooks.TrainingHook``)
fingerprints the node's inputs (its cache key) and its output (recorded for the next training).
For the NLU components both are the whole ``TrainingData``: every message with its tokens and
sparse feature matrices, hashed object by object (``deep_container_fingerprint``). Profiled on
2026-12-06 (stop 34), that hashing took about a third of ``rasa train``: more than the intent
classifier itself.

A node's output is a function of the node's cache key (its component's code, configuration and
the fingerprints of its inputs): Rasa's cache rests on that, since it restores a cached output
by that key. So here a ``TrainingData`` a node returns takes that node's key as its fingerprint,
and a node reading it hashes the key instead of the data. Keys still chain back to the training
files, so different data never shares a key. What is lost: a change upstream that leaves a
node's output the same (an edited comment, say) no longer spares the nodes downstream; and
``./mttq train`` skips training anyway when none of its inputs changed
(``tools.model.fingerprint``). Everything else is fingerprinted as Rasa does.

Reading the training data, Rasa checks every ``[text]{"entity": ...}`` annotation with
``jsonschema.validate``, which first re-checks the constant *schema* against the meta-schema
(some 2,700 times, about a tenth of the profile). Here each schema is checked once and the same
validator reports the same best-matching error (as :mod:`bot.conversation.rasa_patches` does for
action responses).
"""

from __future__ import annotations

import json
import sys
from typing import Any

_ATTRIBUTE = "_mttq_graph_fingerprint"


def _install() -> bool:
    """Patch Rasa's training hook; False (Rasa left as it is) on a Rasa release this was not
    checked against."""
    import rasa
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.training import hooks
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.conversation.rasa_patches import RASA_VERSION

    if rasa.__version__ != RASA_VERSION:
        print(f"tools.rasa_train was written for Rasa {RASA_VERSION}, this is "
              f"{rasa.__version__}: training without its shortcut", file=sys.stderr)
        return False
    rasa_fingerprint = TrainingData.fingerprint
    rasa_after_node = hooks.TrainingHook.on_after_node

    def fingerprint(self: TrainingData) -> str:
        return getattr(self, _ATTRIBUTE, None) or rasa_fingerprint(self)

    def on_after_node(
        self: hooks.TrainingHook,
        node_name: str,
        execution_context: ExecutionContext,
        config: dict[str, Any],
        output: Any,
        input_hook_data: dict[str, Any],
    ) -> None:
        if isinstance(output, TrainingData):
            # Set before Rasa fingerprints the output, and replaced by every node that
            # returns the same object changed (the featurisers work in place).
            setattr(output, _ATTRIBUTE, input_hook_data["fingerprint_key"])
        rasa_after_node(self, node_name, execution_context, config, output, input_hook_data)

    TrainingData.fingerprint = fingerprint  # type: ignore[method-assign]
    hooks.TrainingHook.on_after_node = on_after_node  # type: ignore[method-assign]
    _check_each_schema_once()
    return True


def _check_each_schema_once() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_URL_TRAINING_DATA
    from rasa.shared.exceptions import SchemaValidationError
    from rasa.shared.utils import validation

    from bot.conversation.rasa_patches import checked_validator

    validators: dict[str, Any] = {}

    def validate_training_data(json_data: dict[str, Any], schema: dict[str, Any]) -> None:
        """Rasa's ``validate_training_data``: the same error, the schema checked once."""
        key = json.dumps(schema, sort_keys=True)
        validator = validators.get(key)
        if validator is None:
            validator = validators[key] = checked_validator(schema)
        error: ValidationError | None = best_match(validator.iter_errors(json_data))
        if error is not None:
            error.message += (
                f". Failed to validate data, make sure your data "
                f"is valid. For more information about the format visit "
                f"{DOCS_URL_TRAINING_DATA}."
            )
            raise SchemaValidationError.create_from(error) from error

    validation.validate_training_data = validate_training_data


def main() -> int:
    _install()
    sys.argv = ["rasa", "train", *sys.argv[1:]]
    from rasa.__main__ import main as rasa_main

    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
