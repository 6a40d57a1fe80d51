"""The staff bot end to end: the real python-telegram-bot against a local fake Bot API, the real
aiohttp webhook, the real case and casework services, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from telegram import Bot

from bot.db.engine import session_scope
from bot.db.models import (
    Case,
    CaseEvent,
    CaseStatus,
    OutboxStatus,
    TelegramLinkCode,
    TelegramMember,
    TelegramMessage,
    Unit,
)
from bot.db.types import utcnow
from bot.delivery.outbox import queue_citizen_message
from bot.delivery.senders import OutboxKind, senders_for
from bot.fakes.telegram import (
    FakeTelegram,
    callback_update,
    group,
    message_update,
    user,
)
from bot.knowledge.units import UnitTree
from bot.notify import links
from bot.notify.messages import decode_callback
from bot.notify.outbox import deliver_due, session_factory
from bot.notify.telegram import TelegramService
from bot.notify.web import SECRET_HEADER, telegram_routes
from bot.settings import NotifyConfig
from tests.notify.conftest import (
    LANG_CHAT,
    OPTIONS,
    PROVINCE_CHAT,
    SECRET,
    add_staff,
    buttons,
    link_chat,
    new_case,
    outbox_rows,
)

OFFICER_TG = 555001
OTHER_UNIT_TG = 555002
STRANGER_TG = 555999


async def post_case_message(
    engine: Engine, service: TelegramService, fake: FakeTelegram, **case: Any
) -> tuple[int, dict[str, Any]]:
    """File a case in p_lang, run the worker, return the case id and the posted message."""
    case_id = new_case(engine, **case)
    sent = await deliver_due(session_factory(engine), senders_for(service), options=OPTIONS)
    assert sent >= 1
    stored = fake.messages[(LANG_CHAT, _message_id(fake, -1))]
    assert stored["reply_markup"] == fake.calls_of("sendMessage")[-1].params["reply_markup"]
    return case_id, stored


def _message_id(fake: FakeTelegram, index: int) -> int:
    keys = [k for k in fake.messages if k[0] == LANG_CHAT]
    return keys[index][1]


def case_row(engine: Engine, case_id: int) -> Case:
    with session_scope(engine, read_only=True) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def events(engine: Engine, case_id: int) -> list[str]:
    with session_scope(engine, read_only=True) as session:
        return list(
            session.execute(
                select(CaseEvent.action).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            ).scalars()
        )


@pytest.fixture
def linked(engine: Engine) -> dict[str, int]:
    """p_lang's group is linked; one officer of p_lang and one of p_cua_nam are linked."""
    link_chat(engine, "p_lang", LANG_CHAT)
    return {
        "officer": add_staff(
            engine, "can_bo_lang", "p_lang", telegram_user_id=OFFICER_TG, display_name="Chị Lan"
        ),
        "other": add_staff(engine, "can_bo_cua_nam", "p_cua_nam", telegram_user_id=OTHER_UNIT_TG),
    }


# --------------------------------------------------------------------------- posting


async def test_new_case_posts_one_message_with_four_buttons(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    case_id = new_case(engine, content="Rác <b>chất đống</b> & bốc mùi ở ngõ 5")
    factory = session_factory(engine)

    assert await deliver_due(factory, senders_for(service), options=OPTIONS) == 1
    assert await deliver_due(factory, senders_for(service), options=OPTIONS) == 0

    sends = fake_tg.calls_of("sendMessage")
    assert len(sends) == 1
    params = sends[0].params
    assert params["chat_id"] == LANG_CHAT
    assert params["parse_mode"] == "HTML"
    ref_code = case_row(engine, case_id).ref_code
    assert ref_code in params["text"]
    # what the citizen typed is escaped, never markup
    assert "Rác &lt;b&gt;chất đống&lt;/b&gt; &amp; bốc mùi" in params["text"]
    assert "<b>chất đống</b>" not in params["text"]

    keyboard = buttons(params["reply_markup"])
    assert [b["text"] for b in keyboard] == ["Nhận xử lý", "Đã giải quyết", "Chuyển đơn vị", "Xem"]
    actions = [decode_callback(b.get("callback_data")) for b in keyboard[:3]]
    assert [(a.case_id, a.action) for a in actions if a] == [
        (case_id, "take"),
        (case_id, "done"),
        (case_id, "xfer"),
    ]
    assert keyboard[3]["url"] == f"http://127.0.0.1:8080/staff/cases/{case_id}"

    [row] = outbox_rows(engine, OutboxKind.STAFF_NOTIFY)
    assert row.status == OutboxStatus.SENT and row.attempts == 1 and row.sent_at is not None
    with session_scope(engine, read_only=True) as session:
        mapping = session.execute(select(TelegramMessage)).scalar_one()
    assert (mapping.chat_id, mapping.case_id, mapping.outbox_id) == (LANG_CHAT, case_id, row.id)


async def test_unit_without_group_goes_to_the_nearest_linked_unit_above(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram
) -> None:
    link_chat(engine, "hn", PROVINCE_CHAT)
    new_case(engine, "p_hoan_kiem")
    assert await deliver_due(session_factory(engine), senders_for(service), options=OPTIONS) == 1
    [send] = fake_tg.calls_of("sendMessage")
    assert send.params["chat_id"] == PROVINCE_CHAT
    assert "phường Hoàn Kiếm chưa liên kết nhóm Telegram" in send.params["text"]


async def test_console_url_refused_as_a_button_becomes_a_link_in_the_text(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    fake_tg.fail_next(
        "sendMessage",
        status=400,
        description="Bad Request: inline keyboard button URL 'http://127.0.0.1:8080/staff/cases/1'"
        " is invalid: Wrong HTTP URL",
    )
    case_id, message = await post_case_message(engine, service, fake_tg)
    first, second = fake_tg.calls_of("sendMessage")
    assert "url" in buttons(first.params["reply_markup"])[-1]
    assert [b["text"] for b in buttons(second.params["reply_markup"])] == [
        "Nhận xử lý",
        "Đã giải quyết",
        "Chuyển đơn vị",
    ]
    link = f"Xem trên trang quản trị: http://127.0.0.1:8080/staff/cases/{case_id}"
    assert link in second.params["text"]
    assert outbox_rows(engine, OutboxKind.STAFF_NOTIFY)[0].status == OutboxStatus.SENT

    take = buttons(message["reply_markup"])[0]["callback_data"]
    await service.process_json(callback_update(message, user(OFFICER_TG), take))
    [edit] = fake_tg.calls_of("editMessageText")
    assert link in edit.params["text"]
    assert all("url" not in b for b in buttons(edit.params["reply_markup"]))


# --------------------------------------------------------------------------- buttons


async def test_linked_officer_takes_the_case_and_the_message_shows_it(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    case_id, message = await post_case_message(engine, service, fake_tg)
    take = buttons(message["reply_markup"])[0]["callback_data"]

    await service.process_json(callback_update(message, user(OFFICER_TG, "Lan"), take))

    case = case_row(engine, case_id)
    assert case.assignee_id == linked["officer"]
    assert case.status == CaseStatus.IN_PROGRESS
    assert events(engine, case_id)[1:] == [
        "assigned",
        "first_response",
        "status_changed",
    ]
    [edit] = fake_tg.calls_of("editMessageText")
    assert edit.params["chat_id"] == LANG_CHAT
    assert edit.params["message_id"] == message["message_id"]
    assert "Chị Lan đã nhận xử lý lúc" in edit.params["text"]
    assert "Người xử lý: Chị Lan" in edit.params["text"]
    assert "Đang xử lý" in edit.params["text"]
    assert len(buttons(edit.params["reply_markup"])) == 4
    [answer] = fake_tg.calls_of("answerCallbackQuery")
    assert answer.params["text"] == "Bạn đã nhận xử lý hồ sơ."


async def test_resolve_button_resolves_and_leaves_only_view(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    case_id, message = await post_case_message(engine, service, fake_tg)
    done = buttons(message["reply_markup"])[1]["callback_data"]

    # Issue 17: without a recorded outcome the button is refused, pointing at the console.
    await service.process_json(callback_update(message, user(OFFICER_TG), done))
    assert case_row(engine, case_id).status == CaseStatus.NEW
    refusal = fake_tg.calls_of("answerCallbackQuery")[-1].params
    assert refusal["show_alert"] is True and "ghi nhận kết quả xử lý" in refusal["text"]
    assert len(refusal["text"]) <= 200  # Telegram's limit for a callback answer
    assert outbox_rows(engine, OutboxKind.CITIZEN_STATUS) == []

    from bot.cases.outcome import record_outcome
    from bot.cases.service import Actor

    with session_scope(engine) as session:
        record_outcome(session, case_id, action_text="Đã sửa đèn.", done_by="Điện lực",
                       done_on=utcnow().date() - timedelta(days=1),
                       actor=Actor.staff(linked["officer"]))
    await service.process_json(callback_update(message, user(OFFICER_TG), done))

    assert case_row(engine, case_id).status == CaseStatus.RESOLVED
    [status_row] = outbox_rows(engine, OutboxKind.CITIZEN_STATUS)
    assert status_row.payload["status"] == "resolved" and status_row.payload["ask_rating"] is True
    [edit] = fake_tg.calls_of("editMessageText")
    assert "đã đánh dấu «Đã giải quyết»" in edit.params["text"]
    assert [b["text"] for b in buttons(edit.params["reply_markup"])] == ["Xem"]

    # pressing it again (an old message) is refused by casework; nothing changes
    await service.process_json(callback_update(message, user(OFFICER_TG), done))
    assert len(fake_tg.calls_of("editMessageText")) == 1
    assert fake_tg.calls_of("answerCallbackQuery")[-1].params["show_alert"] is True
    assert len(outbox_rows(engine, OutboxKind.CITIZEN_STATUS)) == 1


async def test_transfer_offers_units_then_moves_the_case(
    engine: Engine,
    service: TelegramService,
    fake_tg: FakeTelegram,
    linked: dict[str, int],
    tree: UnitTree,
) -> None:
    case_id, message = await post_case_message(engine, service, fake_tg)
    xfer = buttons(message["reply_markup"])[2]["callback_data"]

    await service.process_json(callback_update(message, user(OFFICER_TG), xfer))
    [markup_edit] = fake_tg.calls_of("editMessageReplyMarkup")
    unit_buttons = buttons(markup_edit.params["reply_markup"])
    assert len(unit_buttons) == len(tree) - 1 + 1  # every other unit, and "« Quay lại"
    assert unit_buttons[-1]["text"] == "« Quay lại"
    assert "phường Láng" not in [b["text"] for b in unit_buttons]
    assert case_row(engine, case_id).unit_code == "p_lang"  # nothing moved yet

    target = next(b for b in unit_buttons if b["text"] == "phường Cửa Nam")
    moved_message = fake_tg.messages[(LANG_CHAT, message["message_id"])]
    await service.process_json(
        callback_update(moved_message, user(OFFICER_TG), target["callback_data"])
    )

    assert case_row(engine, case_id).unit_code == "p_cua_nam"
    notify = outbox_rows(engine, OutboxKind.STAFF_NOTIFY)
    assert [r.target for r in notify] == ["p_lang", "p_cua_nam"]
    [edit] = fake_tg.calls_of("editMessageText")
    assert "đã chuyển hồ sơ đến phường Cửa Nam" in edit.params["text"]
    assert [b["text"] for b in buttons(edit.params["reply_markup"])] == ["Xem"]


async def test_back_button_restores_the_case_keyboard(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    case_id, message = await post_case_message(engine, service, fake_tg)
    xfer = buttons(message["reply_markup"])[2]["callback_data"]
    await service.process_json(callback_update(message, user(OFFICER_TG), xfer))
    shown = fake_tg.messages[(LANG_CHAT, message["message_id"])]
    back = buttons(shown["reply_markup"])[-1]["callback_data"]
    await service.process_json(callback_update(shown, user(OFFICER_TG), back))
    restored = fake_tg.messages[(LANG_CHAT, message["message_id"])]
    assert restored["reply_markup"] == message["reply_markup"]
    assert case_row(engine, case_id).status == CaseStatus.NEW


@pytest.mark.parametrize(
    "who", [STRANGER_TG, OTHER_UNIT_TG], ids=["unlinked-user", "officer-of-another-unit"]
)
async def test_callback_from_someone_without_rights_changes_nothing(
    engine: Engine,
    service: TelegramService,
    fake_tg: FakeTelegram,
    linked: dict[str, int],
    who: int,
) -> None:
    case_id, message = await post_case_message(engine, service, fake_tg)
    before = events(engine, case_id)
    outbox_before = len(outbox_rows(engine))
    for button in buttons(message["reply_markup"])[:3]:
        await service.process_json(callback_update(message, user(who), button["callback_data"]))
    transfer_to = f"c:{case_id}:to:hn"
    await service.process_json(callback_update(message, user(who), transfer_to))

    case = case_row(engine, case_id)
    assert (case.status, case.assignee_id, case.unit_code) == (CaseStatus.NEW, None, "p_lang")
    assert events(engine, case_id) == before
    assert len(outbox_rows(engine)) == outbox_before
    assert fake_tg.calls_of("editMessageText") == []
    assert fake_tg.calls_of("editMessageReplyMarkup") == []
    answers = fake_tg.calls_of("answerCallbackQuery")
    assert len(answers) == 4
    assert all(a.params["text"].startswith("Bạn không có quyền") for a in answers)
    assert all(a.params["show_alert"] is True for a in answers)


async def test_second_officer_cannot_take_a_taken_case(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    colleague_tg = 555003
    add_staff(engine, "can_bo_lang_2", "p_lang", telegram_user_id=colleague_tg)
    case_id, message = await post_case_message(engine, service, fake_tg)
    take = buttons(message["reply_markup"])[0]["callback_data"]
    await service.process_json(callback_update(message, user(OFFICER_TG), take))
    await service.process_json(callback_update(message, user(colleague_tg), take))
    assert case_row(engine, case_id).assignee_id == linked["officer"]
    answer = fake_tg.calls_of("answerCallbackQuery")[-1].params
    assert answer["text"] == "Hồ sơ đang do Chị Lan xử lý." and answer["show_alert"] is True


async def test_forged_callback_data_is_refused(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    case_id, message = await post_case_message(engine, service, fake_tg)
    for data in ["c:abc:take", "x:1:take", f"c:{case_id}:drop", f"c:{case_id}:to:"]:
        await service.process_json(callback_update(message, user(OFFICER_TG), data))
    assert case_row(engine, case_id).status == CaseStatus.NEW
    assert all(
        a.params["text"] == "Nút này không còn dùng được."
        for a in fake_tg.calls_of("answerCallbackQuery")
    )


# --------------------------------------------------------------------------- replies


async def test_reply_to_the_case_message_becomes_a_citizen_reply(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    case_id, message = await post_case_message(engine, service, fake_tg)
    text = "Chào bạn, phường đã cử người kiểm tra đèn đường chiều nay."

    await service.process_json(message_update(LANG_CHAT, user(OFFICER_TG), text, reply_to=message))

    [reply] = outbox_rows(engine, OutboxKind.CITIZEN_REPLY)
    assert reply.case_id == case_id and reply.status == OutboxStatus.PENDING
    assert reply.payload["text"] == text
    assert reply.payload["staff_id"] == str(linked["officer"])
    assert reply.target.startswith("facebook:psid-")
    assert "replied" in events(engine, case_id)
    confirmation = fake_tg.calls_of("sendMessage")[-1].params
    assert confirmation["chat_id"] == LANG_CHAT
    assert case_row(engine, case_id).ref_code in confirmation["text"]


async def test_reply_from_someone_without_rights_is_not_sent(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    case_id, message = await post_case_message(engine, service, fake_tg)
    await service.process_json(
        message_update(LANG_CHAT, user(STRANGER_TG), "Tôi trả lời hộ", reply_to=message)
    )
    assert outbox_rows(engine, OutboxKind.CITIZEN_REPLY) == []
    assert fake_tg.calls_of("sendMessage")[-1].params["text"].startswith("❌ Bạn không có quyền")


async def test_reply_to_other_messages_is_ignored(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    await post_case_message(engine, service, fake_tg)
    chatter = message_update(LANG_CHAT, user(STRANGER_TG), "Họp lúc 2 giờ nhé")["message"]
    await service.process_json(
        message_update(LANG_CHAT, user(OFFICER_TG), "Vâng ạ", reply_to=chatter)
    )
    assert outbox_rows(engine, OutboxKind.CITIZEN_REPLY) == []
    assert len(fake_tg.calls_of("sendMessage")) == 1  # only the case message


async def test_citizen_message_is_quoted_and_can_be_answered(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    case_id, _ = await post_case_message(engine, service, fake_tg)
    with session_scope(engine) as session:
        queue_citizen_message(session, case_id, "Đèn vẫn chưa sửa <ạ>, tối nay rất tối.")
    assert await deliver_due(session_factory(engine), senders_for(service), options=OPTIONS) == 1
    posted = fake_tg.messages[(LANG_CHAT, _message_id(fake_tg, -1))]
    assert posted["text"].startswith("💬 Người dân nhắn thêm")
    assert "Đèn vẫn chưa sửa &lt;ạ&gt;" in fake_tg.calls_of("sendMessage")[-1].params["text"]
    assert len(buttons(posted["reply_markup"])) == 4

    await service.process_json(
        message_update(
            LANG_CHAT, user(OFFICER_TG), "Tối nay tổ dân phố sẽ kiểm tra.", reply_to=posted
        )
    )
    [reply] = outbox_rows(engine, OutboxKind.CITIZEN_REPLY)
    assert reply.case_id == case_id


# --------------------------------------------------------------------------- linking


async def test_group_linking_with_a_one_time_code(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram
) -> None:
    admin = add_staff(engine, "admin_lang", "p_lang")
    with session_scope(engine) as session:
        code = links.create_group_link_code(session, "p_lang", created_by=admin)
    await service.process_json(
        message_update(LANG_CHAT, user(777, "Admin"), f"/lienket@mttq_test_bot {code.lower()}")
    )
    with session_scope(engine, read_only=True) as session:
        assert session.get(Unit, "p_lang").telegram_chat_id == LANG_CHAT
        row = session.execute(select(TelegramLinkCode)).scalar_one()
        assert (row.created_by, row.used_by_telegram_user_id, row.used_in_chat_id) == (
            admin,
            777,
            LANG_CHAT,
        )
        # the code itself is not stored
        assert code.replace("-", "") not in row.code_hash.upper()
    assert (
        "Đã liên kết nhóm này với phường Láng" in fake_tg.calls_of("sendMessage")[-1].params["text"]
    )

    # single use: the same code in another group does nothing
    await service.process_json(message_update(-100555, user(778), f"/lienket {code}"))
    with session_scope(engine, read_only=True) as session:
        assert session.get(Unit, "p_lang").telegram_chat_id == LANG_CHAT
    assert "đã được dùng" in fake_tg.calls_of("sendMessage")[-1].params["text"]


async def test_group_link_code_must_be_used_in_a_group_and_in_time(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram
) -> None:
    with session_scope(engine) as session:
        code = links.create_group_link_code(session, "p_lang")
        old = links.create_group_link_code(session, "p_lang", now=utcnow() - timedelta(hours=1))
    private = {"id": 777, "type": "private", "first_name": "Admin"}
    await service.process_json(message_update(777, user(777), f"/lienket {code}", chat=private))
    assert "trong nhóm Telegram" in fake_tg.calls_of("sendMessage")[-1].params["text"]
    await service.process_json(message_update(LANG_CHAT, user(777), f"/lienket {old}"))
    assert "hết hạn" in fake_tg.calls_of("sendMessage")[-1].params["text"]
    await service.process_json(message_update(LANG_CHAT, user(777), "/lienket KHONG-DUNG"))
    assert "không đúng" in fake_tg.calls_of("sendMessage")[-1].params["text"]
    with session_scope(engine, read_only=True) as session:
        assert session.get(Unit, "p_lang").telegram_chat_id is None


async def test_officer_links_their_account_then_can_act(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram
) -> None:
    link_chat(engine, "p_lang", LANG_CHAT)
    staff_id = add_staff(engine, "can_bo_moi", "p_lang", display_name="Anh Minh")
    case_id, message = await post_case_message(engine, service, fake_tg)
    take = buttons(message["reply_markup"])[0]["callback_data"]

    await service.process_json(callback_update(message, user(888), take))
    assert case_row(engine, case_id).assignee_id is None

    with session_scope(engine) as session:
        code = links.create_member_link_code(session, staff_id)
    await service.process_json(
        message_update(LANG_CHAT, user(888, username="minh"), f"/canbo {code}")
    )
    assert "cán bộ Anh Minh" in fake_tg.calls_of("sendMessage")[-1].params["text"]
    with session_scope(engine, read_only=True) as session:
        member = session.execute(select(TelegramMember)).scalar_one()
        assert (member.telegram_user_id, member.staff_id, member.telegram_username) == (
            888,
            staff_id,
            "minh",
        )

    await service.process_json(callback_update(message, user(888), take))
    assert case_row(engine, case_id).assignee_id == staff_id

    # a group code is not a member code
    with session_scope(engine) as session:
        group_code = links.create_group_link_code(session, "p_lang")
    await service.process_json(message_update(LANG_CHAT, user(889), f"/canbo {group_code}"))
    with session_scope(engine, read_only=True) as session:
        assert session.execute(select(func.count()).select_from(TelegramMember)).scalar() == 1


async def test_redelivered_update_is_handled_once(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    case_id, message = await post_case_message(engine, service, fake_tg)
    update = message_update(LANG_CHAT, user(OFFICER_TG), "Đã xử lý xong", reply_to=message)
    await service.process_json(update)
    await service.process_json(update)
    assert len(outbox_rows(engine, OutboxKind.CITIZEN_REPLY)) == 1


# --------------------------------------------------------------------------- the webhook


@pytest.fixture
async def webhook_client(
    engine: Engine, config: NotifyConfig, tree: UnitTree
) -> AsyncIterator[TestClient]:
    app = web.Application()
    telegram_routes(app, engine=engine, config=config, tree=tree)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.mark.parametrize(
    "headers",
    [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}, {SECRET_HEADER: ""}],
    ids=["missing", "wrong", "longer", "empty"],
)
async def test_webhook_rejects_a_missing_or_forged_secret(
    engine: Engine,
    webhook_client: TestClient,
    fake_tg: FakeTelegram,
    linked: dict[str, int],
    headers: dict[str, str],
) -> None:
    case_id = new_case(engine)
    message = {
        "message_id": 1,
        "date": 0,
        "chat": group(LANG_CHAT),
        "text": "x",
        "from": user(1, "bot"),
    }
    update = callback_update(message, user(OFFICER_TG), f"c:{case_id}:take")
    response = await webhook_client.post("/telegram/webhook", json=update, headers=headers)
    assert response.status == 403
    assert case_row(engine, case_id).assignee_id is None
    assert [c.method for c in fake_tg.calls] == ["getMe"]  # start-up only: nothing answered


async def test_webhook_with_the_secret_processes_the_update(
    engine: Engine, webhook_client: TestClient, fake_tg: FakeTelegram, linked: dict[str, int]
) -> None:
    with session_scope(engine) as session:
        code = links.create_group_link_code(session, "p_ba_dinh")
    update = message_update(-100200300, user(42, "Admin"), f"/lienket {code}")
    response = await webhook_client.post(
        "/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET}
    )
    assert response.status == 200
    with session_scope(engine, read_only=True) as session:
        assert session.get(Unit, "p_ba_dinh").telegram_chat_id == -100200300
    assert [c.method for c in fake_tg.calls] == ["getMe", "sendMessage"]

    bad = await webhook_client.post(
        "/telegram/webhook", data=b"not json", headers={SECRET_HEADER: SECRET}
    )
    assert bad.status == 400


async def test_webhook_refuses_everything_when_no_secret_is_configured(
    engine: Engine, fake_tg: FakeTelegram, config: NotifyConfig, tree: UnitTree
) -> None:
    no_secret = NotifyConfig(
        telegram_bot_token=config.telegram_bot_token,
        telegram_api_base=config.telegram_api_base,
        telegram_webhook_secret="",
    )
    app = web.Application()
    telegram_routes(app, engine=engine, config=no_secret, tree=tree)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for headers in ({}, {SECRET_HEADER: ""}):
            response = await client.post(
                "/telegram/webhook", json={"update_id": 1}, headers=headers
            )
            assert response.status == 403


async def test_set_webhook_sends_the_secret_token(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram
) -> None:
    assert await service.set_webhook("https://mttq.example.org/telegram/webhook")
    assert fake_tg.webhook["secret_token"] == SECRET
    assert fake_tg.webhook["url"] == "https://mttq.example.org/telegram/webhook"


async def test_the_real_bot_is_pointed_at_the_fake(
    config: NotifyConfig, fake_tg: FakeTelegram
) -> None:
    async with Bot(config.telegram_bot_token, base_url=config.telegram_api_base) as bot:
        me = await bot.get_me()
    assert me.username == "mttq_test_bot"
    assert fake_tg.calls_of("getMe")


async def test_long_polling_handles_updates_until_stopped(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram
) -> None:
    fake_tg.webhook = {"url": "https://old.example.org/hook"}  # poll removes it first
    with session_scope(engine) as session:
        code = links.create_group_link_code(session, "p_dong_da")
    update = message_update(-100424242, user(9, "Admin"), f"/lienket {code}")
    fake_tg.updates.append(update)
    stop = asyncio.Event()
    task = asyncio.create_task(service.poll(stop_event=stop, timeout=1))
    confirmed = update["update_id"] + 1
    for _ in range(200):  # until the update is confirmed by the next getUpdates
        if any(c.params.get("offset") == confirmed for c in fake_tg.calls_of("getUpdates")):
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    with session_scope(engine, read_only=True) as session:
        assert session.get(Unit, "p_dong_da").telegram_chat_id == -100424242
    assert fake_tg.calls_of("deleteWebhook")
    # handled once, though it was offered until confirmed
    assert len(fake_tg.calls_of("sendMessage")) == 1


async def test_a_case_filed_before_the_group_was_linked_is_posted_as_soon_as_it_is(
    engine: Engine, service: TelegramService, fake_tg: FakeTelegram
) -> None:
    """Issue 14 item 5: no group anywhere up the tree → the card waits; linking wakes it."""
    new_case(engine, "p_lang")
    factory = session_factory(engine)
    await deliver_due(factory, senders_for(service), options=OPTIONS)
    assert not [c for c in fake_tg.calls_of("sendMessage") if c.params["chat_id"] == LANG_CHAT]
    with session_scope(engine) as session:
        code = links.create_group_link_code(session, "p_lang")
    await service.process_json(message_update(LANG_CHAT, user(777, "Admin"), f"/lienket {code}"))
    assert await deliver_due(factory, senders_for(service), options=OPTIONS) == 1  # now, not in 5 min
    cards = [c for c in fake_tg.calls_of("sendMessage")
             if c.params["chat_id"] == LANG_CHAT and "reply_markup" in c.params]
    assert len(cards) == 1
