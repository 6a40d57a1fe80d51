"""The fast paths of ``/model/parse`` compute what sklearn and dask compute (issue 11: parse
latency within 1.5 times of when the issue was filed; stop 41)."""

from __future__ import annotations

import dask
import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from bot.conversation.graph_runs import run_graph
from bot.nlu.featurizer import one_row

TEXTS = [
    "nha toi ngheo lam co duoc ho tro xay nha khong a",
    "ngày 18/11 ở khu phố có tổ chức gì vậy",
    "kiến_nghị sửa đường ngõ 5 kiến_nghị",
    "xyz qqq",  # nothing in the vocabulary
    "a",
]


@pytest.mark.parametrize("options", [
    {"token_pattern": r"(?u)\b\w+\b"},
    {"token_pattern": r"(?u)\b\w+\b", "ngram_range": (1, 3), "min_df": 2},
    {"analyzer": "char_wb", "ngram_range": (2, 4), "min_df": 2},
    {"token_pattern": r"(?u)\b\w+\b", "binary": True},
])
def test_one_row_is_sklearns_transform(options: dict) -> None:
    vectorizer = CountVectorizer(**options).fit(TEXTS[:3] + ["nha ngheo ho tro", "ngõ 5 sửa"])
    for text in TEXTS:
        expected = vectorizer.transform([text]).tocsr()[0]
        expected.sort_indices()
        got = one_row(vectorizer, text)
        assert got.shape == expected.shape
        assert got.dtype == expected.dtype
        assert got.col.tolist() == expected.indices.tolist()
        assert np.array_equal(got.data, expected.data)


def test_run_graph_is_dask_get() -> None:
    calls: list[str] = []

    def node(name: str):  # a Rasa graph node: its name and a value from its parents
        def call(*parents: tuple[str, int]) -> tuple[str, int]:
            calls.append(name)
            return name, sum(value for _, value in parents) + 1
        return call

    graph = {
        "__message__": ("__message__", 10),
        "a": (node("a"), "__message__"),
        "b": (node("b"), "a"),
        "c": (node("c"), "a", "b"),
        "unused": (node("unused"), "a"),
    }
    expected = dask.get(dict(graph), ["c", "b"])
    calls.clear()
    assert run_graph(graph, ["c", "b"]) == list(expected)
    assert calls == ["a", "b", "c"]  # each node once, parents first, only what is needed
