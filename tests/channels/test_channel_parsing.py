"""Platform payloads (recorded formats from the platforms' documentation) → the assistant's events."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.channels import facebook, zalo
from bot.channels.webhook import Inbound, MalformedPayload, from_millis
from tests.channels.conftest import payload


def _summary(events: list[Inbound]) -> list[tuple[str, str, str, str]]:
    return [(e.sender_id, e.message_id, e.kind, e.text) for e in events]


def test_facebook_text() -> None:
    (event,) = facebook.parse_events(payload("facebook_text"))
    assert (event.sender_id, event.text, event.kind) == ("7012345678901234", "xin chao", "message")
    assert event.message_id.startswith("m_AG5Hz2")
    assert event.at == datetime(2025, 11, 22, 2, 0, 0, 1000, tzinfo=timezone.utc)
    assert event.attachments == ()


def test_facebook_batch_keeps_every_event_and_ignores_echo_read_delivery_standby() -> None:
    events = facebook.parse_events(payload("facebook_batch"))
    assert _summary(events) == [
        ("7012345678900001", "m_batch_text_0001", "message", "xin chào"),
        ("7012345678900002", "m_batch_quick_0002", "message", "/submit_petition"),
        ("7012345678900003", "m_batch_postback_0003", "postback", "/greet"),
    ]
    assert events[2].metadata == {"postback_title": "Bắt đầu"}


def test_facebook_attachments_are_metadata_not_text() -> None:
    image, location, file, like = facebook.parse_events(payload("facebook_attachments"))
    assert image.text == ""
    assert image.attachments == ({"kind": "image", "url": "https://scontent.xx.fbcdn.net/v/"
                                  "t1.15752-9/ong-cong-vo.jpg?_nc_cat=1", "payload": None},)
    assert location.attachments == ({"kind": "location", "url": None,
                                     "payload": {"latitude": 21.0227, "longitude": 105.8194,
                                                 "title": "Vị trí đã ghim"}},)
    assert file.text == "đơn kiến nghị kèm theo"
    assert file.attachments[0]["kind"] == "file"
    assert file.attachments[0]["url"].endswith("don-kien-nghi.pdf")
    # The "like" sticker is a thumbs-up, not a photo to attach to a case.
    assert (like.text, like.attachments) == ("👍", ())
    assert all("http" not in e.text for e in (image, location, file, like))


def test_facebook_postback_without_mid_gets_a_stable_id() -> None:
    body = payload("facebook_batch")
    del body["entry"][1]["messaging"][1]["postback"]["mid"]
    first = facebook.parse_events(body)[2]
    again = facebook.parse_events(body)[2]
    assert first.message_id == again.message_id and first.message_id.startswith("postback:")


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"object": "instagram", "entry": []},
        {"object": "page"},
        {"object": "page", "entry": "x"},
        {"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"},
                                                     "message": {"text": "no mid"}}]}]},
        {"object": "page", "entry": [{"messaging": [{"message": {"mid": "m1", "text": "no one"}}]}]},
    ],
    ids=["list", "not-page", "no-entry", "entry-not-list", "no-mid", "no-sender"],
)
def test_facebook_malformed(body: object) -> None:
    with pytest.raises(MalformedPayload):
        facebook.parse_events(body)


def test_facebook_one_bad_event_does_not_lose_the_batch() -> None:
    body = payload("facebook_batch")
    body["entry"][0]["messaging"].append({"sender": {"id": "9"}, "message": {"text": "no mid"}})
    assert len(facebook.parse_events(body)) == 3


def test_facebook_nothing_for_the_assistant() -> None:
    body = payload("facebook_batch")
    body["entry"] = [body["entry"][0]]
    body["entry"][0]["messaging"] = body["entry"][0]["messaging"][1:]  # echo, delivery, read
    assert facebook.parse_events(body) == []


def test_zalo_text() -> None:
    event = zalo.parse_event(payload("zalo_user_send_text"))
    assert event is not None
    assert (event.sender_id, event.message_id, event.text, event.kind) == (
        "2468101214161820222", "96d3cdf3af150460909", "xin chao", "message")
    assert event.at == from_millis("1763776800123")


def test_zalo_image_location_file() -> None:
    image = zalo.parse_event(payload("zalo_user_send_image"))
    location = zalo.parse_event(payload("zalo_user_send_location"))
    file = zalo.parse_event(payload("zalo_user_send_file"))
    assert image is not None and location is not None and file is not None
    assert image.text == "ảnh ống cống bị vỡ"
    assert image.attachments == ({"kind": "image", "url": "https://photo-stal-1.zdn.vn/ong-cong.jpg",
                                  "payload": None},)
    assert location.attachments == ({"kind": "location", "url": None,
                                     "payload": {"latitude": 21.0227431,
                                                 "longitude": 105.8194541}},)
    assert file.attachments == ({"kind": "file", "url": "https://f1.zdn.vn/files/don-kien-nghi.pdf",
                                 "payload": {"name": "don-kien-nghi.pdf", "size": "48213",
                                             "type": "pdf"}},)
    assert (location.text, file.text) == ("", "")


def test_zalo_follow_greets_and_unfollow_is_recorded_only() -> None:
    follow = zalo.parse_event(payload("zalo_follow"))
    unfollow = zalo.parse_event(payload("zalo_unfollow"))
    assert follow is not None and unfollow is not None
    assert (follow.kind, follow.sender_id, follow.text) == ("follow", "2468101214161820333",
                                                           "/greet")
    assert (unfollow.kind, unfollow.text) == ("unfollow", "")
    assert follow.message_id != unfollow.message_id


@pytest.mark.parametrize("name", ["oa_send_text", "oa_send_image", "user_seen_message",
                                  "user_send_sticker", "add_user_to_tag"])
def test_zalo_events_not_for_the_assistant(name: str) -> None:
    body = payload("zalo_oa_send_text")
    body["event_name"] = name
    assert zalo.parse_event(body) is None


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ("drop", ("message", "msg_id")),
        ("drop", ("sender",)),
        ("drop", ("message",)),
        ("drop", ("event_name",)),
        ("empty-attachments", ("message", "attachments")),
    ],
    ids=["no-msg-id", "no-sender", "no-message", "no-event", "image-without-attachment"],
)
def test_zalo_malformed(change: str, path: tuple[str, ...]) -> None:
    body = payload("zalo_user_send_image")
    target = body
    for key in path[:-1]:
        target = target[key]
    if change == "drop":
        del target[path[-1]]
    else:
        target[path[-1]] = []
    with pytest.raises(MalformedPayload):
        zalo.parse_event(body)


def test_zalo_not_an_object() -> None:
    with pytest.raises(MalformedPayload):
        zalo.parse_event(["user_send_text"])


@pytest.mark.parametrize("value", [None, "", "abc", -5, "0", 10**30])
def test_timestamps_that_are_not_times(value: object) -> None:
    assert from_millis(value) is None
