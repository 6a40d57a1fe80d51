"""A dialogue policy that answers a bare insult calmly, whatever the NLU made of it.

The moderation gate (``bot.moderation.gate``) runs when a case is about to start, so only an
insult read as a petition or as feedback got its calm reply; one read as a programme question, a
greeting or nothing the NLU knew got a programme's answer, a greeting or "please rephrase"
(issue 12: "a message that is only an insult, with nothing asked, gets a calm reply and no case").
This policy asks the same rules of every message outside a form (a form judges its own answers)
and predicts ``action_calm_reply``, then listening.

It stays out of the way of what a citizen may ask in anger: the service intents in
:data:`ALWAYS_ANSWERED` ("xóa dữ liệu của tôi đi, đồ …" is still an erasure request) and those
of :data:`ANSWERED_WHEN_SURE` when the NLU is sure of them are answered as usual. What counts as
"only an insult" is the gate's own test (:func:`is_bare_insult`), which never holds for a
message that reports, asks or requests something, or else the learned test of
:mod:`bot.moderation.contempt` (:func:`is_bare_contempt`), which must be sure, and all but sure
where the gate sees something asked. The learned test is not asked of a message that names a
programme (a question with an insult is still a question) nor, but for feedback it is all but
sure of, of small talk.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.moderation import load_rules, moderate
from bot.moderation.contempt import model_if_ready as contempt_if_ready
from bot.moderation.gate import is_bare_contempt, is_bare_insult
from bot.moderation.learned import LearnedModel

CALM_ACTION = "action_calm_reply"
#: Intents answered even when worded as an insult: each asks for a service the citizen has a
#: right to (their data, announcements, the form's own commands).
ALWAYS_ANSWERED = frozenset({
    "delete_my_data", "access_my_data", "subscribe", "unsubscribe", "cancel", "retry", "edit",
    "rate", "reopen_case", "set_legal_type",
})
#: Intents answered when worded as an insult only if the NLU is this sure of them: a person, a
#: case's status, the committee's contact. Below it, most were insults the NLU half-read as a
#: call for a person (a handoff would open a case for an insult: 8 of the 11 insults of the
#: blind moderation sets read as ``request_human`` were below 0.8); the calm reply itself says
#: to type "gặp cán bộ" for a person.
ANSWERED_WHEN_SURE = frozenset({"request_human", "check_status", "ask_contact"})
SURE = 0.8
#: Intents the contempt model (which sees no insult word, only a tone) never overrides: short
#: greetings and thanks ("tks ad", "hi bot") look like its short jibes, and criticism of the
#: service read as feedback ("bot trả lời lạc đề, cần cải thiện") is feedback to keep. Here
#: only the rules' insult words decide.
NO_CONTEMPT_GUESS = frozenset({
    "greet", "thank", "goodbye", "affirm", "deny", "bot_challenge", "inform", "give_feedback",
})
#: ...except feedback when the contempt model is this sure: "cái trang này lập ra cho vui à" is
#: read as feedback about the page, and a feedback form would then file the jibe as a case. On
#: the used blind sets 20 bare insults read as feedback scored at least this, and no citizen's
#: message (NLU blind sets 1-31b, moderation sets 1-22) did; the one genuine feedback that came
#: close scored between 0.9 and 0.97.
FEEDBACK_CONTEMPT_THRESHOLD = 0.97
#: Who named a programme in the text (not the programme classifier, which guesses from meaning).
_NAMING_EXTRACTORS = frozenset({"VietnameseGazetteer", "AnnotatedCRFEntityExtractor",
                                "RegexEntityExtractor"})


def calm_reply_due(text: str, intent: str | None, entities: list[dict[str, Any]],
                   confidence: float = 1.0, contempt: LearnedModel | None = None) -> bool:
    """Whether this message, outside a form, gets the calm reply instead of its intent's answer
    (``confidence``: the NLU's, for :data:`ANSWERED_WHEN_SURE`; ``contempt``: a fitted
    contempt model, default the process's own once trained)."""
    if not intent or intent.startswith("EXTERNAL_") or intent in ALWAYS_ANSWERED:
        return False
    if intent in ANSWERED_WHEN_SURE and confidence >= SURE:
        return False
    rules = load_rules()
    verdict = moderate(text, rules)  # once: both tests below read the rules' verdict
    if is_bare_insult(text, rules, verdict=verdict):
        # Before the programme test: "quỹ vì người nghèo toàn lũ ăn chặn" names a programme
        # but asks nothing (the gate's own test); a programme's answer would be beside the point.
        return True
    if any(e.get("entity") == "programme" and e.get("extractor") in _NAMING_EXTRACTORS
           for e in entities):
        return False
    if intent in NO_CONTEMPT_GUESS:
        return intent == "give_feedback" and is_bare_contempt(
            text, rules, model=contempt, threshold=FEEDBACK_CONTEMPT_THRESHOLD, verdict=verdict)
    return is_bare_contempt(text, rules, model=contempt, verdict=verdict)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class InsultPolicy(Policy):
    """Predicts the calm reply for a bare insult outside a form, then listening."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Below HandoffPolicy (10: during a handoff staff read everything), above RulePolicy (6).
        return {"priority": 8}

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> InsultPolicy:
        """Compile the moderation rules when the model is loaded: about 1.5 s that the first
        citizen after a start would otherwise wait (``bot/conversation/warmup.py``)."""
        load_rules()
        contempt_if_ready()  # starts training the contempt model in the background
        return super().load(config, model_storage, resource, execution_context, **kwargs)

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        result = self._default_predictions(domain)
        if CALM_ACTION not in domain.action_names_or_texts or tracker.active_loop_name \
                or tracker.get_slot("handoff_active"):
            return self._prediction(result)
        if tracker.latest_action_name == CALM_ACTION:
            result[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        elif tracker.latest_action_name == ACTION_LISTEN_NAME and tracker.latest_message:
            message = tracker.latest_message
            intent = (message.intent or {}).get("name")
            confidence = float((message.intent or {}).get("confidence") or 0.0)
            if calm_reply_due(message.text or "", intent, list(message.entities or []),
                              confidence):
                result[domain.index_for_action(CALM_ACTION)] = 1.0
        return self._prediction(result)
