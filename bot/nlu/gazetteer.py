"""A gazetteer entity extractor for closed-vocabulary entities (programme, aspect, category).

With a dozen examples per programme, a CRF misses many of the ways citizens name a programme,
above all without diacritics or with a typo in a neighbouring word. These entities are a closed
list, and the training data already spells out their variants (synonyms, and every annotated
example). This component learns that list at training time, folded (no case, no diacritics,
teencode expanded, segmented like the message), and at run time finds the longest known variants
in the message's syllables (not its words: see :func:`syllables`). Where it finds an entity type it replaces what the CRF said for that
type; where it finds none, the CRF's values are mapped to canonical values when a variant matches.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.segment import segment

logger = logging.getLogger(__name__)
_FILE = "gazetteer.json"


def variant_key(text: str) -> str:
    """The folded, segmented form of a variant: how it looks among a message's token lemmas."""
    return " ".join(seg.lemma for seg in segment(text))


def build_table(
    training_data: TrainingData, entity_types: list[str]
) -> dict[str, dict[str, str]]:
    """``{entity_type: {variant_key: canonical_value}}`` from annotations and synonyms.

    A variant that would mean two different values (within one type) is left out: a gazetteer
    must never guess.
    """
    seen: dict[str, dict[str, set[str]]] = {t: {} for t in entity_types}
    canonical_type: dict[str, str] = {}
    for message in training_data.entity_examples:
        text = message.get(TEXT) or ""
        for entity in message.get(ENTITIES) or []:
            etype = entity.get(ENTITY_ATTRIBUTE_TYPE)
            if etype not in seen:
                continue
            value = str(entity.get(ENTITY_ATTRIBUTE_VALUE))
            canonical = training_data.entity_synonyms.get(value, value)
            canonical_type[canonical] = etype
            surface = text[entity[ENTITY_ATTRIBUTE_START] : entity[ENTITY_ATTRIBUTE_END]]
            for variant in (surface, value):
                key = variant_key(variant)
                if key:
                    seen[etype].setdefault(key, set()).add(canonical)
    for variant, canonical in training_data.entity_synonyms.items():
        etype = canonical_type.get(canonical)
        if etype is None:
            continue
        key = variant_key(variant)
        if key:
            seen[etype].setdefault(key, set()).add(canonical)
    table: dict[str, dict[str, str]] = {}
    for etype, variants in seen.items():
        table[etype] = {k: next(iter(v)) for k, v in variants.items() if len(v) == 1}
        ambiguous = sorted(k for k, v in variants.items() if len(v) > 1)
        if ambiguous:
            logger.info("gazetteer: ambiguous %s variants left out: %s", etype, ambiguous)
    return table


def find_matches(
    lemmas: list[str], table: dict[str, dict[str, str]], max_tokens: int = 12
) -> list[tuple[int, int, str, str]]:
    """Longest non-overlapping matches as (first unit, end unit, type, value).

    ``lemmas`` are the message's units in order (syllables, see :func:`syllables`); a variant
    key matches a run of consecutive units joined by single spaces.
    """
    candidates = []
    n = len(lemmas)
    for i in range(n):
        for j in range(min(n, i + max_tokens), i, -1):
            key = " ".join(lemmas[i:j])
            for etype, variants in table.items():
                value = variants.get(key)
                if value is not None:
                    candidates.append((j - i, i, j, etype, value))
    candidates.sort(key=lambda c: (-c[0], c[1]))
    taken: set[int] = set()
    matches = []
    for _, i, j, etype, value in candidates:
        if any(k in taken for k in range(i, j)):
            continue
        taken.update(range(i, j))
        matches.append((i, j, etype, value))
    return sorted(matches)


def syllables(text: str, tokens: list[Any]) -> list[tuple[str, int, int]]:
    """(folded syllable, start, end) for every syllable of the message's tokens.

    Matching runs on syllables, not on the tokenizer's words: without diacritics underthesea
    often glues a programme's first or last syllable to its neighbour ("ve quy vi", "ngheo la"
    in "cho hoi ve quy vi nguoi ngheo la gi"), and a word-level match then misses the programme
    altogether. A token whose folded form has as many syllables as its text gets exact offsets
    per syllable; one that teencode expanded ("mttq") keeps the token's span for each part.
    """
    out: list[tuple[str, int, int]] = []
    for token in tokens:
        parts = token.lemma.split()
        spans = [
            (token.start + m.start(), token.start + m.end())
            for m in re.finditer(r"\S+", text[token.start : token.end])
        ]
        if len(spans) == len(parts):
            out.extend((part, start, end) for part, (start, end) in zip(parts, spans, strict=True))
        else:
            out.extend((part, token.start, token.end) for part in parts)
    return out


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class VietnameseGazetteer(GraphComponent, EntityExtractorMixin):
    """Finds closed-vocabulary entities by their known variants, with or without diacritics."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"entities": ["programme", "aspect", "category"]}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        table: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self._config = config
        self._types = list(config.get("entities") or [])
        self._model_storage = model_storage
        self._resource = resource
        self._table = table or {}
        self._canonical = {
            etype: set(variants.values()) for etype, variants in self._table.items()
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseGazetteer:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        self._table = build_table(training_data, self._types)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / _FILE).write_text(json.dumps(self._table, ensure_ascii=False))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> VietnameseGazetteer:
        try:
            with model_storage.read_from(resource) as directory:
                table = json.loads((directory / _FILE).read_text())
        except (ValueError, FileNotFoundError):
            logger.warning("gazetteer: no stored table; it will find nothing")
            table = {}
        return cls(config, model_storage, resource, table)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._process(message)
        return messages

    def _process(self, message: Message) -> None:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        if not tokens or not self._table:
            return
        units = syllables(message.get(TEXT) or "", tokens)
        matches = find_matches([u[0] for u in units], self._table)
        found_types = {etype for _, _, etype, _ in matches}
        kept = []
        for entity in message.get(ENTITIES) or []:
            etype = entity.get(ENTITY_ATTRIBUTE_TYPE)
            if etype in found_types:
                continue  # ours replaces the statistical guess for this type
            if etype in self._table:
                value = str(entity.get(ENTITY_ATTRIBUTE_VALUE))
                if value not in self._canonical.get(etype, set()):
                    mapped = self._table[etype].get(variant_key(value))
                    if mapped is None:
                        continue  # not a known value of a closed list: drop, never guess
                    entity = {**entity, ENTITY_ATTRIBUTE_VALUE: mapped}
            kept.append(entity)
        for i, j, etype, value in matches:
            start, end = units[i][1], units[j - 1][2]
            kept.append(
                {
                    ENTITY_ATTRIBUTE_TYPE: etype,
                    ENTITY_ATTRIBUTE_START: start,
                    ENTITY_ATTRIBUTE_END: end,
                    ENTITY_ATTRIBUTE_VALUE: value,
                    "confidence_entity": 1.0,
                    "extractor": self.__class__.__name__,
                }
            )
        message.set(ENTITIES, kept, add_to_output=True)
