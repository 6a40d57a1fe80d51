"""The intent second opinion (issue 11): a second model's probabilities mixed into the intent
classifier's ranking, its fast path checked against sklearn, and what it leaves alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.second_opinion import IntentSecondOpinion, SecondOpinionModel, mix

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained() -> SecondOpinionModel:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(ROOT / "nlu_data" / "nlu"))
    examples = [m for m in data.intent_examples if m.get("text")]
    return SecondOpinionModel().fit([m.get("text") for m in examples],
                                    [m.get("intent") for m in examples])


def test_the_fast_path_gives_sklearns_one_vs_rest_probabilities(
        trained: SecondOpinionModel) -> None:
    probes = ["tôi muốn gửi phản ánh", "nha toi ngheo lam, co duoc ho tro xay nha khong a",
              "đơn KN-2611-0042 của tôi sao rồi", "zzzz qqqq", "ok", "cống " * 300]
    for text in probes:
        fast = trained.probabilities(text)
        reference = dict(zip(trained.labels, trained.probabilities_with_sklearn(text), strict=True))
        assert fast.keys() == reference.keys()
        assert abs(sum(fast.values()) - 1.0) < 1e-9
        for name, probability in reference.items():
            assert abs(fast[name] - probability) < 1e-12, (text, name)


def test_the_trained_model_reads_the_issues_phrases(trained: SecondOpinionModel) -> None:
    # Phrases of issue 11 (not of any evaluation set).
    def best(text: str) -> str:
        probabilities = trained.probabilities(text)
        return max(probabilities, key=lambda name: probabilities[name])

    assert best("tôi muốn gửi phản ánh") == "submit_petition"
    assert best("tôi muốn gặp cán bộ") == "request_human"
    assert best("xóa dữ liệu của tôi") == "delete_my_data"


def test_mix_weighs_both_and_counts_a_missing_intent_as_zero() -> None:
    first = [{"name": "submit_petition", "confidence": 0.7},
             {"name": "ask_programme", "confidence": 0.3}]
    second = {"submit_petition": 0.1, "ask_programme": 0.6, "give_feedback": 0.3}
    mixed = mix(first, second, 0.5, 10)
    assert [r["name"] for r in mixed] == ["ask_programme", "submit_petition", "give_feedback"]
    assert [round(r["confidence"], 6) for r in mixed] == [0.45, 0.4, 0.15]
    assert len(mix(first, second, 0.5, 2)) == 2
    assert mix(first, second, 1.0, 10)[0] == {"name": "submit_petition", "confidence": 0.7}


class _Stub:
    def __init__(self, probabilities: dict[str, float]) -> None:
        self.values = probabilities

    def probabilities(self, text: str) -> dict[str, float]:
        return dict(self.values)


def _message(text: str, ranking: list[tuple[str, float]]) -> Message:
    message = Message.build(text)
    message.set("intent", {"name": ranking[0][0], "confidence": ranking[0][1]})
    message.set("intent_ranking", [{"name": n, "confidence": c} for n, c in ranking])
    return message


def _component(model: Any, **config: Any) -> IntentSecondOpinion:
    return IntentSecondOpinion(config, None, None, model)  # type: ignore[arg-type]


def test_a_disagreement_lowers_the_winner_and_can_change_it() -> None:
    stub = _Stub({"ask_programme": 0.9, "submit_petition": 0.1})
    message = _message("nhà em khó khăn có được giúp sửa nhà không",
                       [("submit_petition", 0.8), ("ask_programme", 0.2)])
    _component(stub).process([message])
    assert message.get("intent")["name"] == "ask_programme"
    assert round(message.get("intent")["confidence"], 6) == 0.55
    assert [r["name"] for r in message.get("intent_ranking")] == ["ask_programme",
                                                                 "submit_petition"]


def test_buttons_empty_text_no_ranking_or_weight_one_are_left_alone() -> None:
    stub = _Stub({"ask_programme": 1.0})
    cases = [
        (_component(stub), _message("/request_human", [("request_human", 1.0)])),
        (_component(stub), _message("   ", [("greet", 0.4)])),
        (_component(stub, first_weight=1.0), _message("chào", [("greet", 0.9)])),
        (_component(None), _message("chào", [("greet", 0.9)])),
    ]
    for component, message in cases:
        before = (dict(message.get("intent")), list(message.get("intent_ranking")))
        component.process([message])
        assert (message.get("intent"), message.get("intent_ranking")) == before
    bare = Message.build("chào")
    _component(stub).process([bare])
    assert bare.get("intent") is None


def test_config_yml_runs_it_between_the_classifier_and_the_programme_classifier() -> None:
    import yaml

    names = [c["name"] for c in yaml.safe_load(
        (ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"]]
    here = names.index("bot.nlu.second_opinion.IntentSecondOpinion")
    assert names.index("bot.nlu.classifier.SafeLogisticRegressionClassifier") < here
    assert here < names.index("bot.nlu.programme.ProgrammeClassifier")
    assert here < names.index("FallbackClassifier")
