"""Rasa graph components for Vietnamese: a normaliser and a word tokenizer.

They are thin adapters over :mod:`bot.vietnamese.normalize` and :mod:`bot.nlu.segment` (which know
nothing of Rasa), modelled on Rasa's ``JiebaTokenizer`` but computing offsets themselves:
underthesea rewrites characters, and Rasa's default offset search then raises.

Pipeline order in ``config.yml``: ``VietnameseNormalizer`` then ``VietnameseTokenizer``. The
normaliser leaves the message text untouched (entity values and offsets must refer to what the
citizen typed) and stores the normalised text with its span map beside it; the tokenizer uses
that, or normalises by itself when run alone.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.segment import segment_normalized
from bot.vietnamese.normalize import Normalized, normalize

#: Message keys where the normaliser stores its result for the tokenizer.
NORMALIZED_TEXT = "vi_normalized_text"
NORMALIZED_SPANS = "vi_normalized_spans"


def _stored_normalization(message: Message, attribute: str) -> Normalized | None:
    if attribute != TEXT:
        return None
    text = message.get(NORMALIZED_TEXT)
    spans = message.get(NORMALIZED_SPANS)
    if text is None or spans is None or len(spans) != len(text):
        return None
    return Normalized(text, tuple((int(a), int(b)) for a, b in spans))


def _entity_boundaries(message: Message) -> frozenset[int] | None:
    """Where annotated entities start and end (training examples only)."""
    entities = message.get(ENTITIES) or []
    edges: set[int] = set()
    for entity in entities:
        if isinstance(entity, dict) and "start" in entity and "end" in entity:
            edges.update((int(entity["start"]), int(entity["end"])))
    return frozenset(edges) or None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class VietnameseNormalizer(GraphComponent):
    """Normalises the citizen's text once (NFC, tone marks, whitespace, teencode)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"teencode": True}

    def __init__(self, config: dict[str, Any]) -> None:
        self._teencode = bool(config.get("teencode", True))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseNormalizer:
        return cls(config)

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["vi"]

    def _normalize(self, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str):
            return
        norm = normalize(text, teencode=self._teencode)
        message.set(NORMALIZED_TEXT, norm.text)
        message.set(NORMALIZED_SPANS, [list(span) for span in norm.spans])

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalize(message)
        return messages


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class VietnameseTokenizer(Tokenizer):
    """Word tokenizer on underthesea with offsets into the original text.

    Multi-syllable words stay one token (``kiến_nghị``); ``token.lemma`` holds the folded
    syllables (``kien nghi``) for featurisers that must not care about diacritics.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        # Load underthesea's CRF now, while the server starts, not on the first citizen's message.
        segment_normalized(normalize("xin chào"))
        return cls(config)

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["vi"]

    @staticmethod
    def required_packages() -> list[str]:
        return ["underthesea"]

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        if not isinstance(text, str) or not text:
            return []
        norm = _stored_normalization(message, attribute) or normalize(text)
        boundaries = _entity_boundaries(message) if attribute == TEXT else None
        tokens = [
            Token(seg.text, seg.start, end=seg.end, lemma=seg.lemma)
            for seg in segment_normalized(norm, boundaries)
        ]
        if not tokens and text.strip():
            # Only punctuation ("???"): like Rasa's WhitespaceTokenizer, keep one token so
            # every featuriser and classifier downstream sees a non-empty message.
            start = len(text) - len(text.lstrip())
            stripped = text.strip()
            tokens = [Token(stripped, start, end=start + len(stripped), lemma=stripped)]
        return tokens
