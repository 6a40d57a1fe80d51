"""Clause-edge features (bot/nlu/edges.py): where a message and its clauses start and end, on the
folded text, so a question ending on "được không" and a grievance carrying the same words look
different to the intent classifier (issue 11), typed with or without diacritics."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.edges import ClauseEdgeFeaturizer, clause_edges


def test_edges_of_a_question_and_of_a_grievance_differ_where_the_words_do_not() -> None:
    question = clause_edges("Nhà em nghèo, có được hỗ trợ xây nhà không ạ?")
    grievance = clause_edges("Nhà em nghèo, hỗ trợ xây nhà mà tới giờ chưa thấy")
    assert "QMARK" in question and "QMARK" not in grievance
    assert "CB_nha_em" in question and "CB_nha_em" in grievance  # both clauses open alike
    assert "E_khong_a_Q" in question
    assert "E_chua_thay" in grievance


def test_text_without_diacritics_gives_the_same_features() -> None:
    assert clause_edges("Cho hỏi quỹ vì người nghèo ở đâu") == clause_edges(
        "cho hoi quy vi nguoi ngheo o dau")


@pytest.mark.parametrize("text", ["", "   ", "!!!"])
def test_a_message_without_words_has_no_features(text: str) -> None:
    assert clause_edges(text) == []


def _featurizer(tmp_path: Any, **config: Any) -> ClauseEdgeFeaturizer:
    return ClauseEdgeFeaturizer(
        {**ClauseEdgeFeaturizer.get_default_config(), **config},
        LocalModelStorage(tmp_path), Resource("edges"))


def test_train_keeps_features_seen_twice_and_process_adds_one_row(tmp_path: Any) -> None:
    featurizer = _featurizer(tmp_path, min_df=2)
    featurizer.train(TrainingData([
        Message({TEXT: "cho hỏi đăng ký thế nào"}), Message({TEXT: "cho hỏi nộp ở đâu"}),
        Message({TEXT: "đường ngập mà chưa ai xử lý"}),
    ]))
    assert "B_cho_hoi" in featurizer.vocabulary
    assert "E_xu_ly" not in featurizer.vocabulary  # seen once
    message = Message({TEXT: "Cho hỏi mấy giờ mở cửa"})
    featurizer.process([message])
    _, sentence = message.get_sparse_features(TEXT)
    assert sentence is not None and sentence.features.shape == (1, len(featurizer.vocabulary))
    assert sentence.features.toarray()[0][featurizer.vocabulary["B_cho_hoi"]] == 1
    # Persisted with the model: a loaded featurizer has the same vocabulary.
    loaded = ClauseEdgeFeaturizer.load(
        {**ClauseEdgeFeaturizer.get_default_config(), "min_df": 2},
        LocalModelStorage(tmp_path), Resource("edges"), None)  # type: ignore[arg-type]
    assert loaded.vocabulary == featurizer.vocabulary


def test_min_df_below_one_is_refused(tmp_path: Any) -> None:
    with pytest.raises(ValueError):
        _featurizer(tmp_path, min_df=0)
