"""Rasa's CRF entity extractor, trained without examples whose entities were never annotated.

The CRF learns from every training example: a span that is not annotated is taught as "no
entity". Most training lines are written as plain text (by trainers and by helper sessions, to
teach intents), and a petition line that says "cống ngõ 9 phường Láng" without marking the place
teaches the CRF that "phường Láng" is not a location. After 800 such lines the CRF stopped
finding the ward in "…muốn phản ánh: cống ngõ 9 phường Láng tắc 3 ngày nay".

So an example of an intent that carries places, names, phones or codes (``ENTITY_INTENTS``, from
the NLU contract) teaches the CRF only when it has at least one annotation; the others (small
talk, questions without entities) still teach it what is *not* an entity.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
from rasa.shared.nlu.constants import ENTITIES, INTENT
from rasa.shared.nlu.training_data.training_data import TrainingData

#: Intents whose messages usually hold an entity of the contract (location, unit, phone,
#: person_name, ref_code, category): unannotated examples of these are left out of the CRF.
ENTITY_INTENTS = frozenset({"submit_petition", "inform", "ask_contact", "check_status"})


def crf_examples(training_data: TrainingData) -> TrainingData:
    """The training data the CRF should learn from (see the module docstring).

    The kept examples are set on the new ``TrainingData`` after it is built, not passed to it:
    its constructor drops duplicates by hashing every message, features included, and these
    come from training data already rid of them. That hashing took 13 of ``./mttq train``'s
    seconds in a profile (stop 39)."""
    kept = [m for m in training_data.training_examples
            if m.get(ENTITIES) or m.get(INTENT) not in ENTITY_INTENTS]
    data = TrainingData(
        entity_synonyms=training_data.entity_synonyms,
        regex_features=training_data.regex_features,
        lookup_tables=training_data.lookup_tables,
        responses=training_data.responses,
    )
    data.training_examples = kept
    return data


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class AnnotatedCRFEntityExtractor(CRFEntityExtractor):
    """``CRFEntityExtractor`` trained on :func:`crf_examples`."""

    def train(self, training_data: TrainingData) -> Resource:
        return super().train(crf_examples(training_data))
