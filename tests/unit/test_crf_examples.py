"""What the CRF learns from (``bot.nlu.crf.crf_examples``): unannotated lines of the intents
that carry places, names, phones and codes are left out; everything else is kept, in order."""

from __future__ import annotations

from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.crf import crf_examples


def _m(text: str, intent: str, entities: list[dict] | None = None) -> Message:
    data = {TEXT: text, INTENT: intent}
    if entities:
        data[ENTITIES] = entities
    return Message(data)


def test_unannotated_petitions_are_left_out_and_the_rest_kept_in_order() -> None:
    place = [{"entity": "location", "value": "phường Láng", "start": 10, "end": 21}]
    source = TrainingData(
        training_examples=[
            _m("cống tắc ở phường Láng", "submit_petition", place),
            _m("cống ngõ 9 tắc 3 ngày nay", "submit_petition"),
            _m("xin chào", "greet"),
            _m("quỹ vì người nghèo là gì", "ask_programme"),
            _m("số điện thoại mặt trận phường", "ask_contact"),
        ],
        entity_synonyms={"p. láng": "phường Láng"},
    )
    data = crf_examples(source)
    assert [m.get(TEXT) for m in data.training_examples] == [
        "cống tắc ở phường Láng", "xin chào", "quỹ vì người nghèo là gì"]
    assert [m.get(TEXT) for m in data.entity_examples] == ["cống tắc ở phường Láng"]
    assert data.entity_synonyms == {"p. láng": "phường Láng"}
