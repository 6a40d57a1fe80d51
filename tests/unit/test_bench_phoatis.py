"""bench.phoatis's variants: options from the command line reach the pipeline it trains, and
only the components they name (config.yml's values otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.phoatis import _CLASSIFIER, _overrides, main, nlu_config


def _component(config: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in config["pipeline"] if (c.get("alias") or c["name"]) == key)


def test_without_options_the_pipeline_is_config_yml_minus_assistant_only_parts() -> None:
    config = nlu_config("ours")
    names = [c["name"] for c in config["pipeline"]]
    assert "bot.nlu.programme.ProgrammeClassifier" not in names
    assert "class_weight" not in _component(config, _CLASSIFIER)


def test_options_change_only_the_components_they_name() -> None:
    import argparse

    args = argparse.Namespace(class_weight="none", C=100.0, char_ngrams="1,5", word_ngrams=2)
    config = nlu_config("ours", _overrides(args))
    classifier = _component(config, _CLASSIFIER)
    assert (classifier["class_weight"], classifier["C"]) == ("none", 100.0)
    assert (_component(config, "folded_chars")["min_ngram"],
            _component(config, "folded_chars")["max_ngram"]) == (1, 5)
    assert _component(config, "words")["max_ngram"] == 2
    assert _component(config, "folded_syllables")["max_ngram"] == 3  # untouched


def test_a_folder_that_is_not_phoatis_is_refused(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(SystemExit):
        main(["--data", str(tmp_path)])
