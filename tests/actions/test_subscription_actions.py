"""Issue 16: subscribing to announcements in the conversation, with consent, and "hủy nhận tin"
at any point. The actions run against hand-built trackers and a real database of each backend;
which action follows which message is the rules' work (nlu_data/rules/subscriptions.yml,
checked by the stories in tests/test_stories.yml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from action_helpers import DOMAIN, action_event, buttons, entity, make_tracker, slots_set, texts
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.case_form import ValidateCaseForm
from actions.case_interruptions import interrupted as case_interrupted
from actions.context import ActionHandleYesNo
from actions.privacy import ActionDeleteMyData
from actions.subscription_form import (
    ActionAskSubConsent,
    ActionAskSubTopics,
    ValidateSubscriptionForm,
)
from actions.subscriptions import (
    ActionCancelSubscription,
    ActionStartSubscription,
    ActionStopSubscriptionForm,
    ActionSubscribe,
    ActionUnsubscribe,
)
from bot.cases.citizen import subscribe_to_announcements, subscription_status
from bot.db.engine import session_scope
from bot.db.models import SUBSCRIPTION_TOPICS, SubscriptionEvent
from bot.db.runtime import get_engine
from bot.knowledge.replies import reply_text
from bot.settings import get_settings

SENDER = "citizen-16"


def _user(text: str, intent: str, channel: str = "zalo") -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "input_channel": channel,
        "parse_data": {"intent": {"name": intent}},
    }


def turn(
    text: str,
    intent: str,
    *,
    step: str | None = None,
    loop: str | None = None,
    channel: str = "zalo",
    confidence: float = 0.9,
    entities: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
    **slots: Any,
) -> Tracker:
    """The tracker as the action server receives it for ``text``: on ``channel``, inside
    ``loop`` at ``step`` when given."""
    tracker = make_tracker(
        text,
        intent,
        entities,
        confidence=confidence,
        sender_id=SENDER,
        slots={"requested_slot": step, **slots},
        events=events,
    )
    tracker.events[-1]["input_channel"] = channel  # the latest message, as make_tracker adds it
    if loop:
        tracker.active_loop = {"name": loop}
    return tracker


async def run(action: Any, tracker: Tracker) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    return await action.run(dispatcher, tracker, DOMAIN), dispatcher


async def fill(step: str, text: str, intent: str = "inform", **kwargs: Any) -> dict[str, Any]:
    """What the subscription form's validation sets for ``text`` at ``step`` (no requested_slot)."""
    events, _ = await run(
        ValidateSubscriptionForm(),
        turn(text, intent, step=step, loop="subscription_form", **kwargs),
    )
    found = slots_set(events)
    found.pop("requested_slot", None)
    return found


def _events(db_url: str) -> list[tuple[str, str, str | None, list[str] | None, str | None]]:
    with session_scope(get_engine(db_url), read_only=True) as session:
        return [
            (e.action, e.channel, e.unit_code, e.topics, e.consent_version)
            for e in session.execute(
                select(SubscriptionEvent)
                .where(SubscriptionEvent.sender_id == SENDER)
                .order_by(SubscriptionEvent.id)
            ).scalars()
        ]


async def subscribe_through_the_form(
    unit_text: str,
    topics_turn: dict[str, Any],
    consent_text: str,
    consent_intent: str,
    channel: str = "zalo",
) -> tuple[dict[str, Any], list[str]]:
    """ "đăng ký nhận tin", the ward, the topics, the notice, the consent answer, the save: the
    slots the form ends with and everything the assistant said."""
    said: list[str] = []
    events, start = await run(
        ActionStartSubscription(), turn("đăng ký nhận tin", "subscribe", channel=channel)
    )
    said += texts(start)
    slots = slots_set(events)
    assert any(
        e.get("event") == "followup" and e.get("name") == "subscription_form" for e in events
    )
    assert slots["sub_consent"] is None  # consent is never carried over, never a default
    slots.update(await fill("sub_unit", unit_text, channel=channel))
    slots.update(await fill("sub_topics", channel=channel, **topics_turn))
    events, notice = await run(
        ActionAskSubConsent(), turn("", "", step="sub_consent", channel=channel, **slots)
    )
    said += texts(notice)
    slots.update(slots_set(events))
    slots.update(await fill("sub_consent", consent_text, consent_intent, channel=channel, **slots))
    events, saved = await run(
        ActionSubscribe(), turn(consent_text, consent_intent, channel=channel, **slots)
    )
    said += texts(saved)
    assert slots_set(events)["sub_consent"] is None  # the form's slots are cleared after
    return slots, said


# --------------------------------------------------------------------------- subscribing


async def test_subscribe_to_every_topic_with_the_buttons(database: str) -> None:
    slots, said = await subscribe_through_the_form(
        "phường Láng",
        {"text": '/inform{"topic":"tat_ca"}', "entities": [entity("topic", "tat_ca")]},
        "/affirm",
        "affirm",
    )
    assert slots["sub_unit"] == "p_lang" and slots["sub_topics"] == list(SUBSCRIPTION_TOPICS)
    assert said[-1].startswith("Bạn đã đăng ký nhận thông báo của Ủy ban MTTQ Việt Nam phường Láng")
    assert "hủy nhận tin" in said[-1]
    current = subscription_status("zalo", SENDER)
    assert current is not None and current.active
    assert current.topics == SUBSCRIPTION_TOPICS and current.unit_code == "p_lang"
    ((action, channel, unit, topics, version),) = _events(database)
    assert (action, channel, unit, topics) == (
        "subscribe",
        "zalo",
        "p_lang",
        list(SUBSCRIPTION_TOPICS),
    )
    assert version == slots["sub_consent_version"] and version.startswith("notice-")


async def test_subscribe_to_some_topics_typed_without_diacritics(database: str) -> None:
    slots, said = await subscribe_through_the_form(
        "xa soc son", {"text": "su kien, canh bao lua dao"}, "dong y", "affirm", channel="facebook"
    )
    assert slots["sub_topics"] == ["su_kien", "canh_bao_lua_dao"]
    current = subscription_status("facebook", SENDER)
    assert current is not None and current.topics == ("su_kien", "canh_bao_lua_dao")
    assert "sự kiện, cảnh báo lừa đảo" in said[-1]
    assert subscription_status("zalo", SENDER) is None  # the channel subscribed from, only


@pytest.mark.parametrize(
    "typed,intent",
    [
        ("khong dong y", "affirm"),  # whatever the NLU makes of it, a refusal word wins
        ("Không đồng ý", "deny"),
        ("ko dong y", "inform"),
        ("không", "deny"),
        ("/deny", "deny"),
    ],
)
async def test_a_refusal_subscribes_nothing(database: str, typed: str, intent: str) -> None:
    slots, said = await subscribe_through_the_form("phường Láng", {"text": "tất cả"}, typed, intent)
    assert slots["sub_consent"] is False
    assert said[-1] == reply_text("subscription_refused")
    assert subscription_status("zalo", SENDER) is None and _events(database) == []


async def test_an_unclear_consent_answer_is_asked_again(database: str) -> None:
    slots = await fill(
        "sub_consent", "để tôi xem đã", "inform", sub_unit="p_lang", sub_topics=["su_kien"]
    )
    assert slots == {"sub_consent": None}
    _, dispatcher = await run(
        ValidateSubscriptionForm(),
        turn(
            "để tôi xem đã",
            "inform",
            step="sub_consent",
            loop="subscription_form",
            sub_unit="p_lang",
            sub_topics=["su_kien"],
        ),
    )
    assert texts(dispatcher) == [reply_text("subscription_consent_missed")]
    # And the save refuses to record anything without an explicit yes.
    _, saved = await run(
        ActionSubscribe(),
        turn("x", "inform", sub_unit="p_lang", sub_topics=["su_kien"], sub_consent=None),
    )
    assert texts(saved) == [reply_text("subscription_refused")]
    assert subscription_status("zalo", SENDER) is None


async def test_the_consent_notice_says_what_where_how_to_stop_and_the_law() -> None:
    _, dispatcher = await run(
        ActionAskSubConsent(),
        turn(
            "",
            "",
            step="sub_consent",
            channel="facebook",
            sub_unit="p_lang",
            sub_topics=["cuu_tro", "bau_cu"],
        ),
    )
    (notice,) = texts(dispatcher)
    assert "thông báo của Ủy ban MTTQ Việt Nam phường Láng (mẫu) về cứu trợ, bầu cử" in notice
    assert "Facebook Messenger" in notice and "chỉ kênh này" in notice
    assert 'nhắn "hủy nhận tin" bất cứ lúc nào' in notice
    assert "Luật Bảo vệ dữ liệu cá nhân (Luật số 91/2025/QH15)" in notice
    assert "Nghị định 356/2025/NĐ-CP" in notice and "13/2023" not in notice
    assert [(b["title"], b["payload"]) for b in buttons(dispatcher)[0]] == [
        ("Đồng ý", "/affirm"),
        ("Không đồng ý", "/deny"),
    ]


async def test_topics_are_offered_as_buttons_and_typed_topics_are_read() -> None:
    _, dispatcher = await run(ActionAskSubTopics(), turn("", "", step="sub_topics"))
    titles = [b["title"] for b in buttons(dispatcher)[0]]
    assert titles == ["Sự kiện", "Cứu trợ", "Bầu cử", "Lịch tiếp dân", "Cảnh báo lừa đảo", "Tất cả"]
    assert (await fill("sub_topics", "lịch tiếp dân với bầu cử"))["sub_topics"] == [
        "bau_cu",
        "lich_tiep_dan",
    ]
    # "cứu trợ" reads like a programme question, but at this step it is the answer.
    assert (await fill("sub_topics", "cứu trợ", "ask_programme"))["sub_topics"] == ["cuu_tro"]
    missed = await fill("sub_topics", "gì cũng được")
    assert missed == {"sub_topics": None}


async def test_an_unknown_ward_is_asked_again_and_unknown_means_the_city() -> None:
    assert await fill("sub_unit", "phường Không Có") == {"sub_unit": None}
    assert await fill("sub_unit", "không rõ") == {"sub_unit": "hn"}


async def test_subscribing_again_changes_the_topics_after_the_notice(database: str) -> None:
    subscribe_to_announcements("zalo", SENDER, "p_lang", ["su_kien"], "notice-old")
    events, dispatcher = await run(
        ActionStartSubscription(), turn("đổi chủ đề nhận tin", "subscribe")
    )
    assert texts(dispatcher)[0].startswith(
        "Bạn đang nhận thông báo của Ủy ban MTTQ Việt Nam phường Láng (mẫu) về: sự kiện."
    )
    slots = slots_set(events)
    assert slots["sub_unit"] == "p_lang" and slots["sub_topics"] is None
    await run(
        ActionSubscribe(),
        turn(
            "đồng ý",
            "affirm",
            sub_unit="p_lang",
            sub_topics=["cuu_tro"],
            sub_consent=True,
            sub_consent_version="notice-new",
        ),
    )
    assert [e[0] for e in _events(database)] == ["subscribe", "update"]
    assert subscription_status("zalo", SENDER).topics == ("cuu_tro",)  # type: ignore[union-attr]


async def test_cancel_while_subscribing_saves_nothing(database: str) -> None:
    assert await fill("sub_topics", "hủy", "cancel", sub_unit="p_lang") == {}
    events, dispatcher = await run(
        ActionCancelSubscription(),
        turn("hủy", "cancel", step="sub_topics", loop="subscription_form", sub_unit="p_lang"),
    )
    assert texts(dispatcher) == [reply_text("subscription_cancelled")]
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    assert subscription_status("zalo", SENDER) is None


# --------------------------------------------------------------------------- hủy nhận tin


async def test_unsubscribe_withdraws_at_once_is_confirmed_and_idempotent(database: str) -> None:
    subscribe_to_announcements("zalo", SENDER, "p_lang", list(SUBSCRIPTION_TOPICS), "v1")
    events, dispatcher = await run(ActionUnsubscribe(), turn("huy nhan tin", "unsubscribe"))
    assert texts(dispatcher) == [reply_text("subscription_withdrawn")]
    assert "không nhận thêm thông báo nào" in texts(dispatcher)[0]
    assert slots_set(events)["subscription_offered"] is True
    assert not any(e.get("event") == "active_loop" for e in events)  # never touches a form
    current = subscription_status("zalo", SENDER)
    assert current is not None and not current.active and current.topics == ()
    _, again = await run(ActionUnsubscribe(), turn("hủy nhận tin", "unsubscribe"))
    assert texts(again) == [reply_text("subscription_withdrawn_nothing")]
    assert [e[0] for e in _events(database)] == ["subscribe", "withdraw"]


@pytest.mark.parametrize("step", ["sub_unit", "sub_topics", "sub_consent"])
@pytest.mark.parametrize("text", ["hủy nhận tin", "ko muon nhan tin nua", "/unsubscribe"])
async def test_the_subscription_form_does_not_take_unsubscribe_as_an_answer(
    step: str, text: str
) -> None:
    """Not even at the consent step, where "không muốn" reads as a refusal."""
    filled = {"sub_unit": "p_lang", "sub_topics": ["cuu_tro"]} if step == "sub_consent" else {}
    assert await fill(step, text, "unsubscribe", **filled) == {}  # the form is rejected


async def test_unsubscribe_in_the_middle_of_subscribing(database: str) -> None:
    """The rule stops the form (nothing saved), then withdraws the earlier subscription that
    was being changed."""
    subscribe_to_announcements("zalo", SENDER, "p_lang", ["su_kien"], "v1")
    tracker = turn(
        "ko muon nhan tin nua",
        "unsubscribe",
        step="sub_consent",
        loop="subscription_form",
        sub_unit="p_lang",
        sub_topics=["cuu_tro"],
    )
    stop, quiet = await run(ActionStopSubscriptionForm(), tracker)  # the rule's first action
    assert texts(quiet) == []
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in stop)
    assert slots_set(stop)["sub_topics"] is None and slots_set(stop)["requested_slot"] is None
    _, dispatcher = await run(ActionUnsubscribe(), tracker)
    assert texts(dispatcher) == [reply_text("subscription_withdrawn")]
    current = subscription_status("zalo", SENDER)
    assert current is not None and not current.active
    assert [e[0] for e in _events(database)] == ["subscribe", "withdraw"]  # no "update"


DRAFT = {
    "case_kind": "petition",
    "case_key": "k",
    "case_content": "Cống ngõ 5 bị tắc",
    "case_unit": "p_lang",
    "case_location": "ngõ 5",
}


def _in_petition(text: str, step: str) -> Tracker:
    return turn(
        text,
        "unsubscribe",
        step=step,
        loop="case_form",
        **DRAFT,
        **({"case_consent": True} if step in ("case_name", "case_phone") else {}),
    )


@pytest.mark.parametrize(
    "step",
    [
        "case_content",
        "case_unit",
        "case_category",
        "case_consent",
        "case_name",
        "case_phone",
        "case_confirm",
    ],
)
@pytest.mark.parametrize("text", ["hủy nhận tin", "không muốn nhận tin nữa", "/unsubscribe"])
async def test_the_petition_form_does_not_take_unsubscribe_as_an_answer(
    step: str, text: str
) -> None:
    """Not even at the consent step, where "không muốn" would read as "anonymous": the form
    is rejected and the rule withdraws (then the form goes on)."""
    tracker = _in_petition(text, step)
    assert case_interrupted(tracker, step)
    events, _ = await run(ValidateCaseForm(), tracker)
    assert {k: v for k, v in slots_set(events).items() if k != "requested_slot"} == {}


async def test_unsubscribe_in_the_middle_of_the_petition_form(database: str) -> None:
    subscribe_to_announcements("zalo", SENDER, "p_lang", ["su_kien"], "v1")
    events, dispatcher = await run(
        ActionUnsubscribe(), _in_petition("hủy nhận tin", "case_category")
    )
    assert texts(dispatcher) == [reply_text("subscription_withdrawn")]
    assert not any(e.get("event") == "active_loop" for e in events)  # the petition goes on
    assert not any((e.get("name") or "").startswith("case_") for e in events)  # draft kept
    assert not subscription_status("zalo", SENDER).active  # type: ignore[union-attr]


def test_a_short_refusal_at_the_petition_consent_step_is_still_a_refusal() -> None:
    tracker = turn("không", "unsubscribe", step="case_consent", loop="case_form")
    assert not case_interrupted(tracker, "case_consent")


# --------------------------------------------------------------------------- the one offer


def _after_helpful_answer(text: str, intent: str, **slots: Any) -> Tracker:
    history = [
        _user("ngày hội đại đoàn kết tổ chức khi nào", "ask_programme"),
        action_event("action_answer_programme"),
    ]
    return turn(text, intent, events=history, awaiting="helpful", **slots)


def _after_offer(text: str, intent: str) -> Tracker:
    history = [_user("có", "affirm"), action_event("action_handle_yes_no")]
    return turn(text, intent, events=history, awaiting="subscribe_offer", subscription_offered=True)


async def test_offered_once_after_a_helpful_answer_and_no_ends_it(database: str) -> None:
    events, dispatcher = await run(ActionHandleYesNo(), _after_helpful_answer("có", "affirm"))
    assert texts(dispatcher) == [reply_text("helpful_glad"), reply_text("subscription_offer")]
    assert [b["payload"] for b in buttons(dispatcher)[1]] == ["/subscribe", "/deny"]
    assert slots_set(events)["subscription_offered"] is True
    assert slots_set(events)["awaiting"] == "subscribe_offer"

    events, dispatcher = await run(ActionHandleYesNo(), _after_offer("không", "deny"))
    assert texts(dispatcher) == [reply_text("subscription_offer_declined")]
    assert not any(e.get("event") == "followup" for e in events)
    assert subscription_status("zalo", SENDER) is None

    # Never pushed twice: the next helpful answer in the conversation says only that.
    events, dispatcher = await run(
        ActionHandleYesNo(), _after_helpful_answer("có", "affirm", subscription_offered=True)
    )
    assert texts(dispatcher) == [reply_text("helpful_glad")]
    assert "subscription_offered" not in slots_set(events)


async def test_yes_to_the_offer_opens_the_form(database: str) -> None:
    events, _ = await run(ActionHandleYesNo(), _after_offer("có", "affirm"))
    assert {"event": "followup", "name": "action_start_subscription"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]


async def test_no_offer_to_someone_who_subscribed_or_withdrew(database: str) -> None:
    subscribe_to_announcements("zalo", SENDER, "p_lang", ["su_kien"], "v1")
    for _ in range(2):
        events, dispatcher = await run(ActionHandleYesNo(), _after_helpful_answer("có", "affirm"))
        assert texts(dispatcher) == [reply_text("helpful_glad")]
        assert slots_set(events).get("awaiting") is None
        await run(ActionUnsubscribe(), turn("hủy nhận tin", "unsubscribe"))


# --------------------------------------------------------------------------- erasure


async def test_erasure_removes_the_subscription_and_its_record(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    get_settings.cache_clear()
    subscribe_to_announcements("zalo", SENDER, "p_lang", ["su_kien"], "v1")
    _, ask = await run(ActionDeleteMyData(), turn("xóa dữ liệu của tôi", "delete_my_data"))
    assert "đăng ký nhận tin" in texts(ask)[0]
    history = [
        _user("xóa dữ liệu của tôi", "delete_my_data"),
        action_event("action_delete_my_data"),
    ]
    _, dispatcher = await run(
        ActionHandleYesNo(), turn("/affirm", "affirm", events=history, awaiting="delete_data")
    )
    assert texts(dispatcher) == [
        reply_text("data_deleted_nothing_held"),
        reply_text("data_deleted_subscription"),
    ]
    assert subscription_status("zalo", SENDER) is None and _events(database) == []


async def test_what_is_held_names_the_subscription_and_its_withdrawal(database: str) -> None:
    """The right to access: "dữ liệu của tôi" lists the subscription, then that it was
    withdrawn (the record of consent is kept until erased)."""
    from actions.privacy import ActionShowMyData

    subscribe_to_announcements("zalo", SENDER, "p_lang", ["bau_cu"], "v1")
    _, shown = await run(ActionShowMyData(), turn("dữ liệu của tôi", "access_my_data"))
    (answer,) = texts(shown)
    assert answer.startswith(reply_text("data_held_intro"))
    assert "Đăng ký nhận tin: thông báo của Ủy ban MTTQ Việt Nam phường Láng (mẫu) về bầu cử" in (
        answer
    )
    assert "hủy nhận tin" in answer
    await run(ActionUnsubscribe(), turn("hủy nhận tin", "unsubscribe"))
    _, shown = await run(ActionShowMyData(), turn("dữ liệu của tôi", "access_my_data"))
    assert "Bạn đã hủy nhận tin ngày" in texts(shown)[0]


@pytest.mark.parametrize("text", ["hủy đăng kí", "huy dang ky nhan tin", "hủy đk"])
async def test_a_stop_about_announcements_read_as_cancel_still_withdraws(
    database: str, text: str
) -> None:
    """The NLU may read "hủy đăng kí" as a plain "hủy" (cancel): with no draft to cancel, and
    inside the subscription form, it withdraws all the same."""
    from actions.cases import ActionCancelCase

    subscribe_to_announcements("zalo", SENDER, "p_lang", ["su_kien"], "v1")
    events, dispatcher = await run(ActionCancelCase(), turn(text, "cancel"))
    assert texts(dispatcher) == [reply_text("subscription_withdrawn")]
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    assert not subscription_status("zalo", SENDER).active  # type: ignore[union-attr]

    events, dispatcher = await run(
        ActionCancelSubscription(),
        turn(text, "cancel", step="sub_topics", loop="subscription_form", sub_unit="p_lang"),
    )
    assert texts(dispatcher) == [reply_text("subscription_withdrawn_nothing")]
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)


async def test_a_plain_cancel_while_changing_keeps_the_subscription(database: str) -> None:
    subscribe_to_announcements("zalo", SENDER, "p_lang", ["su_kien"], "v1")
    _, dispatcher = await run(
        ActionCancelSubscription(),
        turn("hủy", "cancel", step="sub_consent", loop="subscription_form", sub_unit="p_lang"),
    )
    assert texts(dispatcher) == [reply_text("subscription_cancelled")]
    assert subscription_status("zalo", SENDER).active  # type: ignore[union-attr]
