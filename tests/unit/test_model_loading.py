"""Loading a trained model does no training and no skops import (bot/nlu/crf.py,
bot/nlu/classifier.py): Rasa 3.6 trained the CRF again on every load and imported skops for the
intent classifier, 54 of the 67 seconds a Rasa server took to load our model (stop 46). What is
loaded must predict exactly what was trained."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
from sklearn.linear_model import LogisticRegression

from bot.nlu.classifier import load_regression, save_regression
from bot.nlu.crf import AnnotatedCRFEntityExtractor, tagger_file


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name="crf")


#: Token features and BILOU tags, as Rasa's extractor hands them to crfsuite.
X = [[{"low": "cống"}, {"low": "ở"}, {"low": "phường"}, {"low": "láng"}],
     [{"low": "đèn"}, {"low": "ở"}, {"low": "phường"}, {"low": "kim"}, {"low": "mã"}],
     [{"low": "xin"}, {"low": "chào"}]] * 5
Y = [["O", "O", "B-location", "L-location"],
     ["O", "O", "B-location", "I-location", "L-location"],
     ["O", "O"]] * 5


def _saved_extractor(tmp_path: Path) -> tuple[LocalModelStorage, Resource, Any]:
    """An extractor with one trained crfsuite tagger, persisted as training persists it."""
    import sklearn_crfsuite

    tagger = sklearn_crfsuite.CRF(algorithm="lbfgs", max_iterations=50)
    tagger.fit(X, Y)
    storage, resource = LocalModelStorage(tmp_path), Resource("crf")
    config = {**AnnotatedCRFEntityExtractor.get_default_config()}
    extractor = AnnotatedCRFEntityExtractor(config, storage, resource, {"entity": tagger})
    extractor.crf_order = ["entity"]
    extractor.persist([])
    return storage, resource, tagger


def test_the_crf_is_loaded_as_trained_without_training_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage, resource, tagger = _saved_extractor(tmp_path)
    assert tagger_file(tmp_path / "crf", "entity").is_file()

    def no_training(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the CRF was trained again on load")

    monkeypatch.setattr(CRFEntityExtractor, "train_model", classmethod(no_training))
    config = {**AnnotatedCRFEntityExtractor.get_default_config()}
    loaded = AnnotatedCRFEntityExtractor.load(config, storage, resource, _context())
    assert loaded.crf_order == ["entity"]
    again = loaded.entity_taggers["entity"]
    probe = [[{"low": "rác"}, {"low": "ở"}, {"low": "phường"}, {"low": "láng"}]]
    assert again.predict(probe) == tagger.predict(probe)
    assert again.predict_marginals(probe) == tagger.predict_marginals(probe)
    assert again.predict(probe)[0][2:] == ["B-location", "L-location"]


def test_a_model_saved_without_tagger_files_still_loads_rasas_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage, resource, _ = _saved_extractor(tmp_path)
    tagger_file(tmp_path / "crf", "entity").unlink()  # as a model trained before stop 46
    retrained: list[bool] = []

    def rasas_training(cls: Any, dataset: Any, config: Any, crf_order: Any) -> Any:
        retrained.append(True)
        return {}

    monkeypatch.setattr(CRFEntityExtractor, "train_model", classmethod(rasas_training))
    config = {**AnnotatedCRFEntityExtractor.get_default_config()}
    AnnotatedCRFEntityExtractor.load(config, storage, resource, _context())
    assert retrained == [True]


def test_the_intent_regression_is_kept_as_arrays_and_predicts_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    x = rng.random((60, 12))
    y = np.array(["ask_programme", "submit_petition", "greet"] * 20)
    clf = LogisticRegression(C=1000.0, max_iter=100, random_state=42,
                             class_weight={"ask_programme": 0.8, "submit_petition": 1.0,
                                           "greet": 2.5})
    clf.fit(x, y)
    save_regression(clf, tmp_path, "lr")
    loaded = load_regression(tmp_path, "lr")
    assert loaded is not None
    assert loaded.get_params() == clf.get_params()
    assert list(loaded.classes_) == list(clf.classes_)
    probe = rng.random((5, 12))
    assert np.array_equal(loaded.predict_proba(probe), clf.predict_proba(probe))
    assert load_regression(tmp_path, "missing") is None


def test_loading_the_intent_regression_needs_no_skops(tmp_path: Path) -> None:
    import subprocess

    clf = LogisticRegression().fit(np.eye(3), ["a", "b", "c"])
    save_regression(clf, tmp_path, "lr")
    code = ("import sys; from pathlib import Path; from bot.nlu.classifier import load_regression;"
            f" assert load_regression(Path({str(tmp_path)!r}), 'lr') is not None;"
            " sys.exit('skops.io' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2]).returncode == 0
