"""Which programme a question is about, by its meaning, when the citizen does not name it.

Citizens rarely name a programme: they describe a need ("nhà tôi nghèo lắm, có được hỗ trợ xây
nhà không", "ngày 18/11 ở khu phố có tổ chức gì"). The gazetteer finds a programme only by its
names, so such a question got the 13-button menu, or, worse, a petition form (issue 11). This
component learns each programme's vocabulary from

* the ``ask_programme`` training examples: the programme named in an example's annotation (the
  example is also learnt with the name cut out, so the words around a name count on their own),
  or given for the whole block as intent metadata (``metadata: {programme: …}``), which is how
  trainers write need-shaped questions that name no programme;
* the programme knowledge in ``content/programmes/`` (title, summary, keywords, every answer),
  so a programme's own words count even before anyone wrote a question with them.

Text is folded (no case, no diacritics, teencode expanded) so typing without diacritics costs
nothing; features are word uni/bigrams and character n-grams within words, and the model a
logistic regression: it trains in about a second and answers in well under a millisecond.

At run time, for every message it stores ``programme_ranking`` (the three most likely
programmes); when no named programme was found and one programme is clearly ahead it adds a
``programme`` entity (``extractor: ProgrammeClassifier``, no span: nothing in the text names it);
when two are close it stores ``programme_candidates`` so the assistant offers those two instead of
all thirteen. And a joint decision: a message the intent classifier sent to a petition, feedback
or "out of scope" with little confidence, that reads as a question and whose programme is clear,
is a programme question (``intent_overridden_from`` keeps what it was), because opening a
petition form on a question is the worst answer the assistant can give.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.general import is_general_question
from bot.nlu.linear import keep_transpose_contiguous, one_message_probabilities
from bot.nlu.stored import folded_text_features, load_pickled, save_pickled
from bot.vietnamese.normalize import fold_expanded

logger = logging.getLogger(__name__)

_FILE = "programme_classifier.pkl"
ASK_PROGRAMME = "ask_programme"
RANKING = "programme_ranking"
CANDIDATES = "programme_candidates"
OVERRIDDEN = "intent_overridden_from"
HINT = "programme_hint"

#: Words that make a message read as a question (folded; not "hong" or "dau": folded, "hỏng"
#: and "đau" would read as "hông" and "đâu").
_QUESTION = re.compile(
    r"\?|\b(khong|ko|k|hok|chua|gi|j|sao|nao|the nao|ntn|lam sao|o dau|bao gio|"
    r"khi nao|bao nhieu|ai|co duoc|duoc khong|co phai|la gi|nhu the nao|cach nao|muon biet|"
    r"hoi|cho hoi|xin hoi|tu van|huong dan|chi giup|chi cho|can biet|a nhi|nhe)\b"
)

#: Words of a citizen demanding that someone act or answer for a wrong (folded): a petition
#: worded as a question with these ("sao không ai xử lý", "sao xóm tôi chưa nhận được", "ai chịu
#: trách nhiệm", "bao giờ mới sửa") is a petition, never asked back
#: (``ProgrammeClassifier._ask_back``).
_DEMAND = re.compile(
    r"\b(ai chiu trach nhiem|(?<!lam )sao(?: \w+){0,3} (?:chua|khong|ko|k|chang)|"
    r"chua (?:nhan|thay|co ai)|bao gio moi|"
    r"den bao gio|den khi nao moi|tinh de|de vay (?:hoai|mai|sao)|khong ai|chua ai|xu ly|"
    r"giai quyet|de nghi|yeu cau|kien nghi|to cao|khieu nai|lam ro|bat cong|vo ly|buc xuc)\b"
)


def is_question(text: str) -> bool:
    """Whether a message reads as a question (a mark, or a Vietnamese question word)."""
    return bool(_QUESTION.search(fold_expanded(text)))


def content_texts(content_dir: Path) -> list[tuple[str, str]]:
    """(text, programme) pairs from the programme knowledge: every sentence of it."""
    pairs: list[tuple[str, str]] = []
    for path in sorted(content_dir.glob("programmes/*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        programme = str(data.get("programme") or path.stem)
        chunks: list[str] = [str(data.get("title") or ""), str(data.get("short_title") or ""),
                             str(data.get("summary") or "")]
        chunks += [str(k) for k in data.get("keywords") or []]
        aspects = data.get("aspects") or {}
        if isinstance(aspects, dict):
            for value in aspects.values():  # a text, or a fact that expires (text, afterwards)
                if isinstance(value, dict):
                    chunks += [str(value.get("text") or ""), str(value.get("afterwards") or "")]
                else:
                    chunks.append(str(value))
        for chunk in chunks:
            for sentence in re.split(r"(?<=[.!?;:])\s+", chunk):
                sentence = re.sub(r"\{[a-z_]+\}", " ", sentence).strip()
                if len(sentence) >= 3:
                    pairs.append((sentence, programme))
    return pairs


def example_label(message: Message, synonyms: dict[str, str]) -> tuple[str | None, list[tuple[int, int]]]:
    """The programme an ``ask_programme`` training example is about, and the spans naming it."""
    spans: list[tuple[int, int]] = []
    values: set[str] = set()
    for entity in message.get(ENTITIES) or []:
        if entity.get(ENTITY_ATTRIBUTE_TYPE) != "programme":
            continue
        value = str(entity.get(ENTITY_ATTRIBUTE_VALUE))
        values.add(synonyms.get(value, value))
        spans.append((int(entity[ENTITY_ATTRIBUTE_START]), int(entity[ENTITY_ATTRIBUTE_END])))
    if len(values) == 1:
        return values.pop(), spans
    if values:
        return None, spans  # two programmes in one example: teaches nothing about either
    metadata = message.get("metadata") or {}
    for scope in ("example", "intent"):
        block = metadata.get(scope) if isinstance(metadata, dict) else None
        if isinstance(block, dict) and block.get("programme"):
            value = str(block["programme"])
            return synonyms.get(value, value), []
    return None, []


def without_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        out.append(text[last:start])
        last = end
    out.append(text[last:])
    return " ".join("".join(out).split())


class ProgrammeModel:
    """The vectoriser and the logistic regression, independent of Rasa (tests, evaluation)."""

    def __init__(self, c: float = 8.0) -> None:
        from sklearn.linear_model import LogisticRegression

        self.features = folded_text_features()
        self.model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        self.labels: list[str] = []

    def fit(self, texts: list[str], labels: list[str]) -> ProgrammeModel:
        matrix = self.features.fit_transform([fold_expanded(t) for t in texts])
        self.model.fit(matrix, labels)
        self.labels = [str(c) for c in self.model.classes_]
        return self

    def rank(self, text: str, top: int | None = 3) -> list[tuple[str, float]]:
        """The ``top`` most likely programmes (all of them for None), most likely first."""
        if not self.labels or not text.strip():
            return []
        keep_transpose_contiguous(self.model)
        probs = one_message_probabilities(self.features, self.model, fold_expanded(text))
        ranked = sorted(zip(self.labels, probs, strict=True), key=lambda p: -p[1])[:top]
        return [(name, float(p)) for name, p in ranked]

    def rank_with_sklearn(self, text: str) -> list[float]:
        """The same probabilities through sklearn's own transform and ``predict_proba``
        (the reference the fast path is tested against)."""
        return [float(p) for p in
                self.model.predict_proba(self.features.transform([fold_expanded(text)]))[0]]


def training_pairs(training_data: TrainingData, content_dir: Path | None) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    synonyms = dict(training_data.entity_synonyms)
    for message in training_data.intent_examples:
        if message.get(INTENT) != ASK_PROGRAMME:
            continue
        text = message.get(TEXT) or ""
        label, spans = example_label(message, synonyms)
        if label is None:
            continue
        texts.append(text)
        labels.append(label)
        if spans:
            rest = without_spans(text, spans)
            if len(rest.split()) >= 2:
                texts.append(rest)
                labels.append(label)
    if content_dir is not None and content_dir.is_dir():
        for text, label in content_texts(content_dir):
            texts.append(text)
            labels.append(label)
    return texts, labels


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class ProgrammeClassifier(GraphComponent):
    """Adds the programme a question is about when the citizen did not name it."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "content_dir": "content",
            # A programme is taken when it is this likely and this far ahead of the next one.
            "accept_confidence": 0.45,
            # (0.15 gave a wrong programme 4 times on the used blind sets where 0.20 offers
            # the two, the right one among them; 5 right answers become two buttons instead.)
            "accept_margin": 0.20,
            # Below that, the two most likely are offered when together they are this likely.
            "offer_confidence": 0.45,
            # The joint decision: intents a clear programme question may be taken from, the
            # intent confidence below which it may, and the programme confidence it needs.
            "override_intents": ["submit_petition", "give_feedback", "out_of_scope", "inform"],
            "override_below": 0.65,  # 0.75 before the second opinion (stop 38)
            "override_programme_confidence": 0.55,
            # A programme question naming exactly one programme is answered, not sent to "please
            # rephrase": its unsure ask_programme is raised to this (above the fallback's 0.50).
            "named_question_confidence": 0.55,
            # A programme named in the text is set aside for the two-button offer when the
            # meaning reads as another programme at least this likely and as the named one at
            # most "disagreement_named_below" (``_named_disagreement``); None turns it off.
            "disagreement_confidence": 0.7,
            "disagreement_named_below": 0.1,
            # A petition worded as a question, about a programme at least this likely, carries
            # that programme as ``programme_hint``: the form opens with a button that answers
            # the question instead (``_petition_hint``); None turns it off.
            "hint_confidence": 0.5,
            # A question-shaped petition about a clear programme (at least
            # "ask_back_programme_confidence"), where the intent classifier also gave the
            # programme question at least "ask_back_question_confidence", is asked back instead
            # of opening the form (``_ask_back``): its ask_programme gets "ask_back_confidence",
            # below the FallbackClassifier's threshold, so the assistant offers the programme,
            # the petition and a person. None turns it off.
            "ask_back_question_confidence": 0.02,
            "ask_back_programme_confidence": 0.3,
            "ask_back_confidence": 0.4,
            "c": 8.0,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 model: ProgrammeModel | None = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> ProgrammeClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        content_dir = Path(self._config["content_dir"])
        if not content_dir.is_absolute():
            content_dir = Path(__file__).resolve().parents[2] / content_dir
        texts, labels = training_pairs(training_data, content_dir)
        if len(set(labels)) >= 2:
            self._model = ProgrammeModel(float(self._config["c"])).fit(texts, labels)
            logger.info("programme classifier: %d texts, %d programmes", len(texts),
                        len(set(labels)))
        else:
            logger.warning("programme classifier: fewer than two programmes to learn")
        save_pickled(self._model_storage, self._resource, _FILE, self._model)
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> ProgrammeClassifier:
        model = load_pickled(model_storage, resource, _FILE,
                             "programme classifier: no stored model; it will add nothing")
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._process(message)
        return messages

    def _process(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if self._model is None or not text.strip() or text.startswith("/"):
            return
        full = self._model.rank(text, top=None)  # every programme: the named one's too
        ranking = full[:3]
        message.set(RANKING, [{"name": n, "confidence": round(p, 4)} for n, p in ranking],
                    add_to_output=True)
        entities, set_aside = self._named_disagreement(message, full)
        named = any(e.get(ENTITY_ATTRIBUTE_TYPE) == "programme" for e in entities)
        (top, p1), p2 = ranking[0], (ranking[1][1] if len(ranking) > 1 else 0.0)
        self._programme_contact(message, entities)
        self._joint_decision(message, text, p1 if not named else 1.0)
        self._named_question(message, entities)
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        self._petition_hint(message, text, intent, entities, ranking[0])
        if self._ask_back(message, text, p1):
            intent = ASK_PROGRAMME
        if named or intent != ASK_PROGRAMME or set_aside or is_general_question(text):
            return
        cfg = self._config
        if p1 >= cfg["accept_confidence"] and p1 - p2 >= cfg["accept_margin"]:
            message.set(ENTITIES, [*entities, {
                ENTITY_ATTRIBUTE_TYPE: "programme", ENTITY_ATTRIBUTE_VALUE: top,
                "confidence_entity": round(p1, 4), "extractor": self.__class__.__name__,
            }], add_to_output=True)
        elif p1 + p2 >= cfg["offer_confidence"] and len(ranking) > 1:
            message.set(CANDIDATES, [top, ranking[1][0]], add_to_output=True)

    def _petition_hint(self, message: Message, text: str, intent: str | None,
                       entities: list[dict[str, Any]], best: tuple[str, float]) -> None:
        """The programme a question-shaped petition may really be asking about.

        Hard-luck stories that end in a question ("nhà em nghèo lắm, có được hỗ trợ sửa nhà
        không") read to the intent classifier as petitions, often at 0.9 or more, so no
        confidence threshold can separate them from the real petitions they resemble. The form
        still opens, but with one button that answers the programme instead: a misread
        question costs a tap, and a real petition loses nothing (issue 11)."""
        floor = self._config.get("hint_confidence")
        if floor is None or intent != "submit_petition" or not is_question(text):
            return
        named = [str(e.get(ENTITY_ATTRIBUTE_VALUE)) for e in entities
                 if e.get(ENTITY_ATTRIBUTE_TYPE) == "programme"]
        if len(set(named)) == 1:
            message.set(HINT, named[0], add_to_output=True)
        elif not named and best[1] >= float(floor):
            message.set(HINT, best[0], add_to_output=True)

    def _ask_back(self, message: Message, text: str, programme_confidence: float) -> bool:
        """Ask, rather than open the form, when a question-shaped petition may be a question.

        A petition with a programme hint (``_petition_hint``: worded as a question, about a
        clear programme) opens the form with a button for the programme. When the intent
        classifier itself gave the programme question a real chance too, the assistant asks
        instead: the message becomes an unsure programme question (``ask_back_confidence``,
        below the fallback threshold), so the clarification offers the programme, the petition
        and a person, and a petition chosen there keeps the citizen's text
        (``actions/cases.py``). Chosen on the used blind sets (stop 35, 5,586 messages): of the
        297 hinted petitions, 13 programme questions asked instead of a form opened, 12 more
        real petitions asked one question more. Widened at stop 37 (used sets, 6,199): 18 of
        the 32 questions still sent to the form are asked, and 38 of 1,246 real petitions; the
        programme need not be clear enough for the form's hint (README). Returns if it asked."""
        cfg = self._config
        floor = cfg.get("ask_back_question_confidence")
        intent = message.get(INTENT) or {}
        if floor is None or intent.get(INTENT_NAME_KEY) != "submit_petition":
            return False
        ranking = list(message.get(INTENT_RANKING_KEY) or [])
        asked = next((r for r in ranking if r.get(INTENT_NAME_KEY) == ASK_PROGRAMME), None)
        if (asked is None or float(asked.get(PREDICTED_CONFIDENCE_KEY) or 0.0) < float(floor)
                or programme_confidence < float(cfg["ask_back_programme_confidence"])):
            return False
        folded = fold_expanded(text)  # the text is read only for the few that get this far
        if not _QUESTION.search(folded) or _DEMAND.search(folded):
            return False
        unsure = float(cfg["ask_back_confidence"])
        reordered = [{INTENT_NAME_KEY: ASK_PROGRAMME, PREDICTED_CONFIDENCE_KEY: unsure},
                     *(r for r in ranking if r.get(INTENT_NAME_KEY) != ASK_PROGRAMME)]
        message.set(INTENT, {INTENT_NAME_KEY: ASK_PROGRAMME, PREDICTED_CONFIDENCE_KEY: unsure},
                    add_to_output=True)
        message.set(INTENT_RANKING_KEY, reordered, add_to_output=True)
        message.set(OVERRIDDEN, "submit_petition", add_to_output=True)
        return True

    def _named_disagreement(self, message: Message, full: list[tuple[str, float]]
                            ) -> tuple[list[dict[str, Any]], bool]:
        """A name that the meaning contradicts: offer both programmes instead of the name's.

        The gazetteer matches every way a programme was ever named in the training data, and some
        of those names are ordinary words of another programme's questions: "đại biểu HĐND" names
        the election, yet "đại biểu có về gặp dân không" asks about meeting voters (the Front's
        oversight). When the whole message reads as another programme almost for certain and as
        the named one hardly at all, the answer is the two buttons (the named programme and the
        likely one), not a confident answer about the wrong programme (issue 11). Returns the
        message's entities as they now stand, and whether the two were offered. ``full`` is the
        ranking of every programme, most likely first.
        """
        entities = list(message.get(ENTITIES) or [])
        cfg = self._config
        named = [e for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) == "programme"]
        values = {e.get(ENTITY_ATTRIBUTE_VALUE) for e in named}
        if cfg["disagreement_confidence"] is None or len(values) != 1 or not full:
            return entities, False
        value = str(next(iter(values)))
        (top, p1), named_p = full[0], dict(full).get(value, 0.0)
        if (top == value or p1 < float(cfg["disagreement_confidence"])
                or named_p > float(cfg["disagreement_named_below"])):
            return entities, False
        kept = [e for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) != "programme"]
        message.set(ENTITIES, kept, add_to_output=True)
        message.set(CANDIDATES, [top, value], add_to_output=True)
        return kept, True

    def _named_question(self, message: Message, entities: list[dict[str, Any]]) -> None:
        """An unsure ask_programme that names exactly one programme answers that programme.

        Short or oddly phrased questions with a programme's name ("bầu cử thì sao", "hỏi về
        quỹ") fell below the fallback threshold and got "please rephrase"; answering the one
        programme they name was right far more often (issue 11). Two names stay unsure.
        """
        intent = message.get(INTENT) or {}
        confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        floor = float(self._config["named_question_confidence"])
        values = {e.get(ENTITY_ATTRIBUTE_VALUE) for e in entities
                  if e.get(ENTITY_ATTRIBUTE_TYPE) == "programme"}
        if intent.get(INTENT_NAME_KEY) != ASK_PROGRAMME or confidence >= floor or len(values) != 1:
            return
        ranking = [dict(r) for r in message.get(INTENT_RANKING_KEY) or []]
        for entry in ranking:
            if entry.get(INTENT_NAME_KEY) == ASK_PROGRAMME:
                entry[PREDICTED_CONFIDENCE_KEY] = floor
        message.set(INTENT, {**intent, PREDICTED_CONFIDENCE_KEY: floor}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    def _programme_contact(self, message: Message, entities: list[dict[str, Any]]) -> None:
        """Whom to contact about a named programme is that programme's ``lien_he`` answer.

        ``ask_contact`` is the committee's own address, phone and reception hours; "liên hệ ban
        thanh tra nhân dân ở đâu" or "muốn ủng hộ cứu trợ thì gọi ai" read as it, yet ask for a
        programme's contact, which its content gives. On the used blind sets every message read
        as ``ask_contact`` that named one programme and had ``ask_programme`` second was a
        programme question (11 of 11); without a name, or with another intent second, they were
        not. The two intents swap confidences (:func:`_swap_with_ask_programme`), and the aspect
        is ``lien_he`` unless one was found.
        """
        intent = message.get(INTENT) or {}
        if intent.get(INTENT_NAME_KEY) != "ask_contact":
            return
        values = {e.get(ENTITY_ATTRIBUTE_VALUE) for e in entities
                  if e.get(ENTITY_ATTRIBUTE_TYPE) == "programme"}
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or []
                   if r.get(INTENT_NAME_KEY) != "nlu_fallback"]
        if len(values) != 1 or len(ranking) < 2 or ranking[1].get(INTENT_NAME_KEY) != ASK_PROGRAMME:
            return
        _swap_with_ask_programme(message)
        if not any(e.get(ENTITY_ATTRIBUTE_TYPE) == "aspect" for e in entities):
            message.set(ENTITIES, [*(message.get(ENTITIES) or []), {
                ENTITY_ATTRIBUTE_TYPE: "aspect", ENTITY_ATTRIBUTE_VALUE: "lien_he",
                "extractor": self.__class__.__name__,
            }], add_to_output=True)

    def _joint_decision(self, message: Message, text: str, programme_confidence: float) -> None:
        cfg = self._config
        intent = message.get(INTENT) or {}
        name = intent.get(INTENT_NAME_KEY)
        confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        if (name not in cfg["override_intents"] or confidence >= cfg["override_below"]
                or programme_confidence < cfg["override_programme_confidence"]
                or not is_question(text)):
            return
        _swap_with_ask_programme(message)


def _swap_with_ask_programme(message: Message) -> None:
    """Make ``ask_programme`` the message's intent in place of the winner, if ranked at all.

    The two swap confidences: ask_programme takes the winner's, the winner ask_programme's.
    Keeping the winner's confidence on both made them tie, and the FallbackClassifier's
    ambiguity threshold then turned every such question into "please rephrase". The winner is
    recorded as ``intent_overridden_from``."""
    intent = message.get(INTENT) or {}
    name = intent.get(INTENT_NAME_KEY)
    confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    ranking = list(message.get(INTENT_RANKING_KEY) or [])
    asked = next((r for r in ranking if r.get(INTENT_NAME_KEY) == ASK_PROGRAMME), None)
    if asked is None:
        return
    asked_confidence = float(asked.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    others = [
        {**r, PREDICTED_CONFIDENCE_KEY: asked_confidence}
        if r.get(INTENT_NAME_KEY) == name else r
        for r in ranking if r.get(INTENT_NAME_KEY) != ASK_PROGRAMME
    ]
    others.sort(key=lambda r: float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0), reverse=True)
    reordered = [{INTENT_NAME_KEY: ASK_PROGRAMME, PREDICTED_CONFIDENCE_KEY: confidence}, *others]
    message.set(INTENT, {INTENT_NAME_KEY: ASK_PROGRAMME, PREDICTED_CONFIDENCE_KEY: confidence},
                add_to_output=True)
    message.set(INTENT_RANKING_KEY, reordered, add_to_output=True)
    message.set(OVERRIDDEN, name, add_to_output=True)
