"""The insult policy (issue 12): a bare insult gets the calm reply whatever the NLU made of it;
a service asked for in anger, a named programme, a complaint and a form's answers do not."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conversation.insult_policy import CALM_ACTION, InsultPolicy, calm_reply_due

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, ask_programme, out_of_scope, delete_my_data, request_human, submit_petition]
slots:
  handoff_active:
    type: bool
    influence_conversation: false
    mappings: [{type: custom}]
actions: [action_calm_reply, case_form]
forms:
  case_form:
    required_slots: []
"""
)
INSULT = "bọn mày ngu như bò"


@pytest.fixture
def policy(tmp_path) -> InsultPolicy:  # type: ignore[no-untyped-def]
    return InsultPolicy.create(
        InsultPolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("insult"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def _predicted(policy: InsultPolicy, *events: Any) -> str | None:
    tracker = DialogueStateTracker.from_events("c", list(events), slots=DOMAIN.slots)
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    if max(prediction.probabilities) == 0:
        return None
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


def _said(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> list[Any]:
    return [ActionExecuted(ACTION_LISTEN_NAME),
            UserUttered(text, {"name": intent, "confidence": 0.5}, entities or [])]


@pytest.mark.parametrize("intent", ["greet", "ask_programme", "out_of_scope", "nlu_fallback"])
def test_a_bare_insult_gets_the_calm_reply_whatever_its_intent(
        policy: InsultPolicy, intent: str) -> None:
    assert _predicted(policy, *_said(INSULT, intent)) == CALM_ACTION
    assert _predicted(policy, *_said(INSULT, intent), ActionExecuted(CALM_ACTION)) == \
        ACTION_LISTEN_NAME


def _sure(text: str, intent: str, confidence: float) -> list[Any]:
    return [ActionExecuted(ACTION_LISTEN_NAME),
            UserUttered(text, {"name": intent, "confidence": confidence}, [])]


def test_a_service_asked_for_in_anger_is_answered(policy: InsultPolicy) -> None:
    assert _predicted(policy, *_said("xóa dữ liệu của tôi đi đồ ngu", "delete_my_data")) is None
    assert _predicted(policy, *_sure("cho gặp người thật, bot ngu vl", "request_human",
                                     0.93)) is None


def test_an_insult_half_read_as_a_call_for_a_person_gets_the_calm_reply(
        policy: InsultPolicy) -> None:
    """Below 0.8 a handoff would open a case for an insult; the calm reply says how to ask."""
    assert _predicted(policy, *_sure(INSULT, "request_human", 0.6)) == CALM_ACTION
    assert not calm_reply_due(INSULT, "request_human", [], 0.8)
    assert calm_reply_due(INSULT, "check_status", [], 0.5)


def test_a_complaint_or_a_programme_question_with_an_insult_is_not_a_bare_insult(
        policy: InsultPolicy) -> None:
    assert _predicted(policy, *_said("đèn đường hỏng cả tuần rồi, lũ ăn hại",
                                     "out_of_scope")) is None
    named = {"entity": "programme", "value": "bau_cu", "extractor": "VietnameseGazetteer"}
    assert not calm_reply_due("bầu cử hả, lũ ngu", "ask_programme", [named])
    guessed = {**named, "extractor": "ProgrammeClassifier"}
    assert calm_reply_due(INSULT, "ask_programme", [guessed])


def test_an_insult_naming_a_programme_but_asking_nothing_is_a_bare_insult() -> None:
    """A programme's answer to "đại đoàn kết cái kiểu lũ ăn hại các người" would be beside the
    point."""
    named = {"entity": "programme", "value": "ngay_hoi_dai_doan_ket", "extractor": "VietnameseGazetteer"}
    assert calm_reply_due("đại đoàn kết cái kiểu lũ ăn hại các người", "ask_programme", [named])


def test_ordinary_messages_buttons_and_staff_events_are_left_alone(policy: InsultPolicy) -> None:
    assert _predicted(policy, *_said("xin chào", "greet")) is None
    assert not calm_reply_due("/greet", "greet", [])
    assert not calm_reply_due(INSULT, "EXTERNAL_staff_reply", [])
    assert not calm_reply_due(INSULT, None, [])


def test_inside_a_form_or_a_handoff_the_form_and_the_officer_decide(policy: InsultPolicy) -> None:
    assert _predicted(policy, ActiveLoop("case_form"), *_said(INSULT, "out_of_scope")) is None
    assert _predicted(policy, SlotSet("handoff_active", True),
                      *_said(INSULT, "out_of_scope")) is None


def test_config_yml_ranks_it_between_the_handoff_and_the_rules() -> None:
    from pathlib import Path

    import yaml

    from bot.conversation.policies import HandoffPolicy

    root = Path(__file__).resolve().parents[2]
    names = [p["name"] for p in yaml.safe_load(
        (root / "config.yml").read_text(encoding="utf-8"))["policies"]]
    assert "bot.conversation.insult_policy.InsultPolicy" in names
    priority = InsultPolicy.get_default_config()["priority"]
    assert HandoffPolicy.get_default_config()["priority"] > priority > 6  # RulePolicy's is 6
    assert CALM_ACTION in (root / "domain.yml").read_text(encoding="utf-8")
