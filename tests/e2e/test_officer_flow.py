"""Tried as an officer would: the whole staff side over real processes.

Started once for the module: the action server, the Rasa server (the trained model) and the web
service (``python -m bot.web``: chat page, staff console, Telegram webhook, outbox worker), all on
127.0.0.1 with temporary SQLite databases (the feedback DB shared by the actions and the web
service), and a fake Telegram Bot API running in this process that the real python-telegram-bot
inside the web service talks to.

A citizen files a petition on the chat page; the ward's Telegram group (linked with a one-time
code) gets it with four buttons; a stranger's button press is refused; the linked officer takes
it from Telegram and answers by replying to the case message; then logs into the console, sees
the case (an officer of another ward does not), answers again and resolves it. The citizen's chat
page shows both answers and the status changes, is asked for a 1–5 rating, and the rating lands
on the case.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine, session_scope
from bot.db.models import (
    Case,
    CaseEvent,
    CaseStatus,
    Outbox,
    OutboxStatus,
    StaffRole,
    TelegramLinkCode,
    TelegramMember,
    Unit,
)
from bot.fakes.telegram import callback_update, message_update, user
from bot.notify import links
from bot.staff import accounts
from tests.e2e.e2e_support import (
    PASSWORD,
    Citizen,
    Console,
    TelegramThread,
    buttons,
    fake_telegram,
    log_tail,
    post_update,
    service_env,
    staff_service,
    texts,
    trained_model,
    wait_for,
)
from tools.procs import Proc, action_server, free_ports, rasa_server, wait_ready

pytestmark = pytest.mark.slow

LANG_CHAT = -1001000000201
ADMIN_TG = 880000  # the unit admin who posts /lienket in the group
OFFICER_TG = 880001  # can_bo_lang's Telegram account
BA_DINH_TG = 880002  # can_bo_ba_dinh's Telegram account
STRANGER_TG = 880999  # a group member nobody linked

DESCRIPTION = "Cống thoát nước trước nhà số 12 bị vỡ, nước bẩn tràn ra đường mấy ngày nay"
PETITION = [
    "toi muon gui kien nghi",
    DESCRIPTION,
    "phường Láng",
    '/inform{"category":"moi_truong"}',
    "/deny",
    "/affirm",
]
TELEGRAM_REPLY = "Chào bạn, chiều nay tổ công tác của phường sẽ đến kiểm tra đoạn cống."
CONSOLE_REPLY = "Phường đã cho thay nắp cống và nạo vét xong, bạn kiểm tra giúp nhé."


@dataclass
class World:
    tg: TelegramThread
    base: str  # the web service
    engine: Engine
    web_log: Path
    officer_id: int = 0
    ba_dinh_id: int = 0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    model = trained_model()
    tmp = tmp_path_factory.mktemp("officer-flow")
    logs = tmp / "logs"
    rasa_port, action_port, staff_port = free_ports(3)
    with fake_telegram() as tg:
        env = service_env(
            tmp,
            staff_port=staff_port,
            telegram_base=tg.base_url,
            rasa_port=rasa_port,
            action_port=action_port,
        )
        procs: list[Proc] = [
            action_server(action_port, log=logs / "actions.log", env=env),
            rasa_server(model, rasa_port, log=logs / "rasa.log", env=env),
            staff_service(staff_port, env, logs / "web.log"),
        ]
        engine: Engine | None = None
        try:
            for proc in procs:
                proc.start()
            try:
                wait_ready(procs, timeout=240)
            except (RuntimeError, TimeoutError) as error:
                tails = "\n".join(
                    f"--- {p.name}\n{log_tail(p.log_path)}" for p in procs if p.log_path
                )
                pytest.fail(f"{error}\n{tails}")
            engine = make_engine(env["DATABASE_URL"])
            world = World(tg, f"http://127.0.0.1:{staff_port}", engine, logs / "web.log")
            _set_up_staff(world)
            yield world
        finally:
            for proc in reversed(procs):
                proc.stop()
            if engine is not None:
                engine.dispose()


# --------------------------------------------------------------------------- set-up


def _set_up_staff(world: World) -> None:
    """Two officers (accounts service), the ward's group and the officer's Telegram linked."""
    with session_scope(world.engine) as session:
        lan = accounts.create_staff(
            session,
            login="can_bo_lang",
            unit_code="p_lang",
            role=StaffRole.OFFICER,
            password=PASSWORD,
            display_name="Chị Lan",
        )
        minh = accounts.create_staff(
            session,
            login="can_bo_ba_dinh",
            unit_code="p_ba_dinh",
            role=StaffRole.OFFICER,
            password=PASSWORD,
            display_name="Anh Minh",
        )
        world.officer_id, world.ba_dinh_id = int(lan.id), int(minh.id)
        group_code = links.create_group_link_code(session, "p_lang")
        lan_code = links.create_member_link_code(session, int(lan.id))
        minh_code = links.create_member_link_code(session, int(minh.id))

    admin = user(ADMIN_TG, "Quản trị", "qt_lang")
    assert _webhook(world, message_update(LANG_CHAT, admin, f"/lienket {group_code}")) == 200
    officer = user(OFFICER_TG, "Lan", "lan_mttq")
    assert _webhook(world, message_update(LANG_CHAT, officer, f"/canbo {lan_code}")) == 200
    # The other ward's officer links from a private chat with the bot.
    minh_user = user(BA_DINH_TG, "Minh")
    private = {"id": BA_DINH_TG, "type": "private", "first_name": "Minh"}
    update = message_update(BA_DINH_TG, minh_user, f"/canbo {minh_code}", chat=private)
    assert _webhook(world, update) == 200

    with session_scope(world.engine, read_only=True) as session:
        unit = session.get(Unit, "p_lang")
        assert unit is not None and unit.telegram_chat_id == LANG_CHAT
        members = dict(
            session.execute(select(TelegramMember.telegram_user_id, TelegramMember.staff_id)).all()
        )
    assert members == {OFFICER_TG: world.officer_id, BA_DINH_TG: world.ba_dinh_id}
    said = [c["text"] for c in world.tg.calls_of("sendMessage")]
    assert any(t.startswith("✅ Đã liên kết nhóm này với phường Láng") for t in said), said
    assert any("✅ Đã liên kết tài khoản Telegram của bạn với cán bộ Chị Lan" in t for t in said)


def _webhook(world: World, update: dict[str, Any], **kwargs: Any) -> int:
    return int(post_update(world.base, update, **kwargs).status_code)


# --------------------------------------------------------------------------- reading state


def _case_of(world: World, conversation_id: str) -> Case | None:
    with session_scope(world.engine, read_only=True) as session:
        return session.execute(
            select(Case).where(Case.conversation_id == conversation_id)
        ).scalar_one_or_none()


def _case(world: World, case_id: int) -> Case:
    with session_scope(world.engine, read_only=True) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def _events(world: World, case_id: int) -> list[str]:
    with session_scope(world.engine, read_only=True) as session:
        return list(
            session.execute(
                select(CaseEvent.action).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            ).scalars()
        )


def _outbox(world: World, case_id: int) -> list[tuple[str, str]]:
    with session_scope(world.engine, read_only=True) as session:
        rows = session.execute(
            select(Outbox.kind, Outbox.status).where(Outbox.case_id == case_id).order_by(Outbox.id)
        ).all()
    return [(str(kind), OutboxStatus(status).value) for kind, status in rows]


def _case_message(world: World, ref_code: str) -> dict[str, Any] | None:
    """The group's case message (as the fake Bot API holds it now) for ``ref_code``."""
    for (chat, _), message in sorted(world.tg.messages().items()):
        if (
            chat == LANG_CHAT
            and ref_code in message.get("text", "")
            and message.get("reply_markup")
        ):
            return message
    return None


def _press(world: World, message: dict[str, Any], who: int, label: str) -> None:
    [button] = [b for b in buttons(message["reply_markup"]) if b["text"] == label]
    update = callback_update(message, user(who, f"user {who}"), button["callback_data"])
    assert _webhook(world, update) == 200


# --------------------------------------------------------------------------- the flow


def test_officer_works_a_case_from_telegram_and_the_console(world: World) -> None:
    tg = world.tg

    # 1. A citizen files a petition on the chat page and gets a KN- code.
    citizen = Citizen(world.base)
    replies: list[dict[str, Any]] = []
    for message in PETITION:
        replies = citizen.say(message)
        if message == "/deny":
            assert "phường Láng" in texts(replies), texts(replies)
    case = _case_of(world, citizen.conversation_id)
    assert case is not None, texts(replies)
    ref = case.ref_code
    assert ref.startswith("KN-") and ref in texts(replies)
    assert (case.unit_code, case.category, case.content, case.channel) == (
        "p_lang",
        "moi_truong",
        DESCRIPTION,
        "web",
    )

    # 2. The ward's group gets the case with the four buttons.
    message = wait_for(
        lambda: _case_message(world, ref), timeout=30, what="the case message in the group"
    )
    assert [b["text"] for b in buttons(message["reply_markup"])] == [
        "Nhận xử lý",
        "Đã giải quyết",
        "Chuyển đơn vị",
        "Xem",
    ]
    assert buttons(message["reply_markup"])[3]["url"] == f"{world.base}/staff/cases/{case.id}"
    assert DESCRIPTION in message["text"]

    # 3. Someone nobody linked presses the buttons, and an officer of another ward tries to take
    #    it: both are refused and nothing changes. (The worker records the post as sent just
    #    after Telegram accepted it: wait for that, or the snapshot races the worker.)
    wait_for(lambda: _outbox(world, case.id) == [("staff_notify", "sent")], timeout=30,
             what="the case post recorded as sent")
    events_before, outbox_before = _events(world, case.id), _outbox(world, case.id)
    answers_before = len(tg.calls_of("answerCallbackQuery"))
    for label in ("Nhận xử lý", "Đã giải quyết", "Chuyển đơn vị"):
        _press(world, message, STRANGER_TG, label)
    _press(world, message, BA_DINH_TG, "Nhận xử lý")
    refusals = tg.calls_of("answerCallbackQuery")[answers_before:]
    assert len(refusals) == 4
    assert all(a["text"].startswith("Bạn không có quyền") for a in refusals), refusals
    assert all(a["show_alert"] is True for a in refusals)
    unchanged = _case(world, case.id)
    assert (unchanged.status, unchanged.assignee_id, unchanged.unit_code) == (
        CaseStatus.NEW,
        None,
        "p_lang",
    )
    assert _events(world, case.id) == events_before
    assert _outbox(world, case.id) == outbox_before
    assert tg.calls_of("editMessageText") == [] and tg.calls_of("editMessageReplyMarkup") == []

    # 4. The linked officer takes it from Telegram: assigned, in progress, message edited.
    _press(world, message, OFFICER_TG, "Nhận xử lý")
    taken = _case(world, case.id)
    assert (taken.assignee_id, taken.status) == (world.officer_id, CaseStatus.IN_PROGRESS)
    assert tg.calls_of("answerCallbackQuery")[-1]["text"] == "Bạn đã nhận xử lý hồ sơ."
    [edit] = tg.calls_of("editMessageText")
    assert (edit["chat_id"], edit["message_id"]) == (LANG_CHAT, message["message_id"])
    assert "Chị Lan đã nhận xử lý lúc" in edit["text"]
    assert "Người xử lý: Chị Lan" in edit["text"]
    edited = tg.messages()[(LANG_CHAT, message["message_id"])]
    assert "Chị Lan đã nhận xử lý lúc" in edited["text"]
    # ... and the citizen's page hears the case is being handled.
    citizen.wait_update(f"Hồ sơ {ref} đã được cập nhật: Đang được xem xét, giải quyết")

    # 5. The officer answers by replying to the case message in the group.
    sends_before = len(tg.calls_of("sendMessage"))
    reply = message_update(LANG_CHAT, user(OFFICER_TG, "Lan"), TELEGRAM_REPLY, reply_to=edited)
    assert _webhook(world, reply) == 200
    confirmations = [
        c
        for c in tg.calls_of("sendMessage")[sends_before:]
        if f"Đã nhận trả lời cho hồ sơ {ref}" in c["text"]
    ]
    assert [c["chat_id"] for c in confirmations] == [LANG_CHAT]
    shown = citizen.wait_update(TELEGRAM_REPLY)
    assert shown["text"] == f"Cán bộ Mặt trận trả lời (hồ sơ {ref}): {TELEGRAM_REPLY}"

    # 6. The officer logs into the console and sees the case; the other ward's officer doesn't.
    lan = Console(world.base)
    login = lan.login("can_bo_lang")
    assert login.status_code == 303 and login.headers["Location"] == "/staff/cases"
    queue = lan.get("/staff/cases")
    assert queue.status_code == 200 and ref in queue.text
    page = lan.get(f"/staff/cases/{case.id}")
    assert page.status_code == 200 and ref in page.text and DESCRIPTION in page.text

    minh = Console(world.base)
    assert minh.login("can_bo_ba_dinh").status_code == 303
    other_queue = minh.get("/staff/cases")
    assert other_queue.status_code == 200 and ref not in other_queue.text
    assert minh.get(f"/staff/cases/{case.id}").status_code == 404
    sneaky = minh.post_form(
        "/staff/cases", f"/staff/cases/{case.id}/reply", {"text": "Trả lời hộ phường Láng"}
    )
    assert sneaky.status_code == 404

    # 7. The officer answers again from the console.
    answered = lan.post_form(
        f"/staff/cases/{case.id}", f"/staff/cases/{case.id}/reply", {"text": CONSOLE_REPLY}
    )
    assert answered.status_code == 303, answered.text[:500]
    assert answered.headers["Location"] == f"/staff/cases/{case.id}?done=reply"
    shown = citizen.wait_update(CONSOLE_REPLY)
    assert shown["text"] == f"Cán bộ Mặt trận trả lời (hồ sơ {ref}): {CONSOLE_REPLY}"
    page_texts = [u["text"] for u in citizen.updates()]
    assert sum(TELEGRAM_REPLY in t for t in page_texts) == 1
    assert sum(CONSOLE_REPLY in t for t in page_texts) == 1
    assert "Trả lời hộ phường Láng" not in " ".join(page_texts)

    # 8. The officer records what was done (issue 17: no resolving without it), then resolves
    # it: the page shows the status and asks for a 1–5 rating.
    refused = lan.post_form(
        f"/staff/cases/{case.id}", f"/staff/cases/{case.id}/status", {"status": "resolved"})
    assert refused.status_code == 422 and "ghi nhận kết quả xử lý" in refused.text
    outcome = lan.post_form(
        f"/staff/cases/{case.id}",
        f"/staff/cases/{case.id}/outcome",
        {"action_text": "Tổ dân phố đã thu gom rác đầu ngõ.", "done_by": "Tổ dân phố số 5",
         "done_on": "2026-01-05"},
    )
    assert outcome.status_code == 303, outcome.text[:500]
    resolved = lan.post_form(
        f"/staff/cases/{case.id}",
        f"/staff/cases/{case.id}/status",
        {"status": "resolved", "note": ""},
    )
    assert resolved.status_code == 303, resolved.text[:500]
    assert _case(world, case.id).status == CaseStatus.RESOLVED
    citizen.wait_update(f"Hồ sơ {ref} đã được cập nhật: Đã giải quyết")
    question = citizen.wait_update(f"Bạn đánh giá thế nào về việc giải quyết hồ sơ {ref}?")
    choices = question["buttons"]
    assert [b["title"] for b in choices] == ["1", "2", "3", "4", "5"]
    payloads = [b["payload"] for b in choices]
    assert payloads[3].startswith("/rate")
    assert json.loads(payloads[3][len("/rate") :]) == {"rating": "4", "ref_code": ref}

    # 9. The citizen presses "4": thanked, and the rating is stored on the case.
    thanks = citizen.say(payloads[3])
    assert "Cảm ơn bạn đã đánh giá 4/5" in texts(thanks), texts(thanks)
    rated = _case(world, case.id)
    assert (rated.rating, rated.status) == (4, CaseStatus.RESOLVED)
    assert _events(world, case.id)[-1] == "rated"

    # Every notification of the case went out, each once.
    assert sorted(_outbox(world, case.id)) == sorted(
        [
            ("staff_notify", "sent"),
            ("citizen_status", "sent"),  # in progress (taken from Telegram)
            ("citizen_reply", "sent"),  # from Telegram
            ("citizen_reply", "sent"),  # from the console
            ("citizen_status", "sent"),  # resolved
        ]
    )


def test_webhook_refuses_a_missing_or_forged_secret(world: World) -> None:
    """Without the right X-Telegram-Bot-Api-Secret-Token the update is refused and not acted on."""
    with session_scope(world.engine) as session:
        code = links.create_group_link_code(session, "p_ba_dinh")
    forged_chat = -1001000000666
    update = message_update(forged_chat, user(STRANGER_TG), f"/lienket {code}")

    assert _webhook(world, update, secret=None) == 403
    assert _webhook(world, update, secret="wrong-secret") == 403
    assert _webhook(world, update, secret="") == 403

    with session_scope(world.engine, read_only=True) as session:
        unit = session.get(Unit, "p_ba_dinh")
        assert unit is not None and unit.telegram_chat_id is None
        used = session.execute(
            select(TelegramLinkCode.used_at).where(
                TelegramLinkCode.unit_code == "p_ba_dinh", TelegramLinkCode.purpose == "group"
            )
        ).scalar_one()
    assert used is None
    assert all(c.get("chat_id") != forged_chat for c in world.tg.calls_of("sendMessage"))
