"""Messaging windows: Facebook's 24 hours / 7 days, platform errors, and what staff delivery sees."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.channels.facebook import graph_error, messaging_for
from bot.delivery.errors import (
    WINDOW_MARKER,
    ChannelSendError,
    OutsideMessagingWindow,
    classify_trigger_failure,
)

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
RESPONSE = {"messaging_type": "RESPONSE"}
HUMAN = {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(minutes=1), RESPONSE),
        (timedelta(hours=23, minutes=59), RESPONSE),
        (timedelta(hours=24), RESPONSE),
        (timedelta(hours=24, seconds=1), HUMAN),
        (timedelta(days=3), HUMAN),
        (timedelta(days=7), HUMAN),
    ],
)
def test_staff_messages_inside_the_windows(age: timedelta, expected: dict[str, str]) -> None:
    assert messaging_for(NOW - age, NOW, proactive=True) == expected


@pytest.mark.parametrize("age", [timedelta(days=7, seconds=1), timedelta(days=30)])
def test_staff_messages_beyond_seven_days_are_refused(age: timedelta) -> None:
    with pytest.raises(OutsideMessagingWindow) as refused:
        messaging_for(NOW - age, NOW, proactive=True)
    assert str(refused.value).startswith(WINDOW_MARKER)
    assert not refused.value.retryable


def test_no_record_of_the_person_is_refused() -> None:
    with pytest.raises(OutsideMessagingWindow):
        messaging_for(None, NOW, proactive=True)


def test_answers_to_the_message_just_received_are_responses() -> None:
    assert messaging_for(None, NOW, proactive=False) == RESPONSE
    assert messaging_for(NOW - timedelta(days=30), NOW, proactive=False) == RESPONSE


@pytest.mark.parametrize(
    ("status", "error", "kind", "retryable"),
    [
        (400, {"code": 10, "error_subcode": 2018278, "message": "(#10) outside window"},
         OutsideMessagingWindow, False),
        (400, {"code": 551, "message": "This person isn't available right now."},
         OutsideMessagingWindow, False),
        (400, {"code": 613, "message": "Calls to this api have exceeded the rate limit."},
         ChannelSendError, True),
        (400, {"code": 4, "message": "Application request limit reached"}, ChannelSendError, True),
        (500, {"code": 2, "message": "Temporary issue"}, ChannelSendError, True),
        (502, None, ChannelSendError, True),
        (400, {"code": 190, "message": "Invalid OAuth access token."}, ChannelSendError, False),
        (400, {"code": 100, "message": "(#100) Param recipient[id] must be a valid ID"},
         ChannelSendError, False),
    ],
)
def test_graph_errors(status: int, error: dict | None, kind: type, retryable: bool) -> None:
    failure = graph_error(status, {"error": error} if error else None)
    assert type(failure) is kind
    assert failure.retryable is retryable


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, '{"status":"failure","message":"An unexpected error occurred. Error: '
              f'{WINDOW_MARKER}: zalo: User has not interacted (error -213)","code":500}}',
         "refused"),
        (500, '{"message":"An unexpected error occurred. Error: zalo: timeout"}', "retry"),
        (409, "conflict", "retry"),
        (404, '{"message":"conversation not found"}', "fail"),
        (400, "bad request", "fail"),
    ],
)
def test_classify_trigger_failure(status: int, body: str, expected: str) -> None:
    assert classify_trigger_failure(status, body) == expected


def test_window_error_text_names_channel_code_and_marker() -> None:
    error = OutsideMessagingWindow("zalo", "User has not interacted", code=-213)
    assert str(error) == f"{WINDOW_MARKER}: zalo: User has not interacted (error -213)"
    assert (error.channel, error.code) == ("zalo", -213)
