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

import json
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken
from rasa.shared.nlu.constants import ENTITIES, INTENT
from rasa.shared.nlu.training_data.training_data import TrainingData

#: Intents whose messages usually hold an entity of the contract (location, unit, phone,
#: person_name, ref_code, category): unannotated examples of these are left out of the CRF.
ENTITY_INTENTS = frozenset({"submit_petition", "inform", "ask_contact", "check_status"})

logger = logging.getLogger(__name__)


def tagger_file(directory: Path, tag_name: str) -> Path:
    """Where the trained crfsuite model of one tag ("entity", "role", "group") is kept."""
    return directory / f"crf_tagger_{tag_name}.crfsuite"


def tagger_from_file(path: Path) -> Any:
    """A fitted ``sklearn_crfsuite.CRF`` predicting with the crfsuite model in ``path``.

    The bytes go to the estimator's own temporary file (deleted with it), as unpickling one
    does, so nothing depends on the model storage's folder staying where it is."""
    import sklearn_crfsuite

    tagger = sklearn_crfsuite.CRF()
    tagger.modelfile.ensure_name()
    Path(tagger.modelfile.name).write_bytes(path.read_bytes())
    return tagger


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

    def persist(self, dataset: list[list[CRFToken]]) -> None:
        """Rasa's files (the training features, the order of the taggers) and each trained
        tagger's crfsuite model, so that loading needs no training (module docstring)."""
        super().persist(dataset)
        with self._model_storage.write_to(self._resource) as model_dir:
            for tag_name, tagger in (self.entity_taggers or {}).items():
                tagger_file(model_dir, tag_name).write_bytes(
                    Path(tagger.modelfile.name).read_bytes())

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CRFEntityExtractor:
        """The taggers as trained; Rasa's load (training them again) for a model without them."""
        try:
            with model_storage.read_from(resource) as model_dir:
                order_file = model_dir / "crf_order.json"
                crf_order = json.loads(order_file.read_text(encoding="utf-8"))
                files = [tagger_file(model_dir, name) for name in crf_order]
                if files and all(path.is_file() for path in files):
                    taggers = OrderedDict(
                        (name, tagger_from_file(path))
                        for name, path in zip(crf_order, files, strict=True))
                    extractor = cls(config, model_storage, resource, taggers)
                    extractor.crf_order = crf_order
                    return extractor
        except (ValueError, OSError) as error:
            logger.debug("CRF taggers not found with the model (%s); Rasa's load", error)
        return super().load(config, model_storage, resource, execution_context, **kwargs)
