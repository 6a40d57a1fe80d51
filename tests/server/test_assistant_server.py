"""The real assistant over HTTP: Rasa server + action server with the trained model.

One start-up serves every check (starting Rasa costs most of the time), then one restart proves
the SQLite tracker store keeps conversations.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.assistant_stack import AssistantStack, running
from tools.procs import wait_ready

pytestmark = pytest.mark.slow

VIETNAMESE = set("àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ")


class Assistant(AssistantStack):
    """The stack with the REST channel, the SQLite tracker store and the cases it files."""

    def restart_rasa(self) -> None:
        self.rasa.stop()
        self.rasa = self.new_rasa()
        self.procs = [self.actions, self.rasa]
        self.rasa.start()
        wait_ready([self.rasa], timeout=240)

    def post(self, sender: str, message: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook",
            data=json.dumps({"sender": sender, "message": message}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def send(self, sender: str, message: str) -> list[dict[str, Any]]:
        status, body = self.post(sender, message)
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    def cases(self) -> list[dict[str, Any]]:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.env["DATABASE_URL"], future=True)
        try:
            with engine.connect() as connection:
                rows = connection.execute(text(
                    "SELECT ref_code, kind, unit_code, category, content, location_text, "
                    "person_name, phone, consent, conversation_id FROM cases ORDER BY id"
                )).mappings().all()
                return [dict(r) for r in rows]
        finally:
            engine.dispose()

    def talk(self, sender: str, *messages: str) -> list[dict[str, Any]]:
        replies: list[dict[str, Any]] = []
        for message in messages:
            replies = self.send(sender, message)
        return replies

    def tracker(self, sender: str) -> dict[str, Any]:
        url = (f"http://127.0.0.1:{self.rasa_port}/conversations/{sender}/tracker"
               f"?token={self.env['RASA_TOKEN']}")
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    yield from running(Assistant(tmp_path_factory.mktemp("assistant")))


def _texts(replies: list[dict[str, Any]]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


def _is_vietnamese(text: str) -> bool:
    return any(ch in VIETNAMESE for ch in text.lower())


def test_greeting_without_diacritics(assistant: Assistant) -> None:
    replies = assistant.send(f"t-{uuid.uuid4()}", "xin chao")
    assert _texts(replies).startswith("Xin chào! Tôi là trợ lý tự động")
    assert any(b["payload"] == "/submit_petition" for r in replies for b in r.get("buttons", []))


def test_programme_question_is_answered_from_the_knowledge_base(assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    replies = assistant.send(sender, "Quỹ vì người nghèo là gì")
    assert "Quỹ \"Vì người nghèo\"" in _texts(replies)
    follow_up = assistant.send(sender, "thế ai được hỗ trợ?")
    assert "hộ nghèo, hộ cận nghèo" in _texts(follow_up)


def test_petition_request_is_understood(assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    assistant.send(sender, "toi muon gui kien nghi")
    events = assistant.tracker(sender)["events"]
    intents = [e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"]
    assert intents == ["submit_petition"]


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "😀😀😀",
        "👍",
        "?!?!",
        "Xin chào 你好 привет مرحبا 😀 kiến nghị",
        ("Đề nghị phường xử lý rác thải ở ngõ 5, tổ 12 ạ. " * 250)[:10_000],
        ("asdf qwer zxcv " * 700)[:10_000],
    ],
    ids=["empty", "spaces", "emoji", "thumbs-up", "punctuation", "mixed-scripts",
         "10k-petition", "10k-noise"],
)
def test_broken_input_gets_a_vietnamese_reply(assistant: Assistant, message: str) -> None:
    replies = assistant.send(f"t-{uuid.uuid4()}", message)
    text = _texts(replies)
    assert text.strip(), f"no reply to {message[:30]!r}"
    assert _is_vietnamese(text)


def test_a_bare_insult_gets_the_calm_reply_whatever_the_nlu_made_of_it(
        assistant: Assistant) -> None:
    """Issue 12: an insult with nothing asked gets the calm reply, not "please rephrase" or a
    programme's answer; the conversation goes on, and a service asked for in anger is given."""
    from bot.knowledge.replies import reply_text

    sender, before = f"t-{uuid.uuid4()}", len(assistant.cases())
    calm = reply_text("moderation_calm")
    for insult in ("bọn mày ngu như bò", "dm cái bot ngu vl"):
        assert _texts(assistant.send(sender, insult)) == calm
    assert "Quỹ \"Vì người nghèo\"" in _texts(assistant.send(sender, "Quỹ vì người nghèo là gì"))
    assert _texts(assistant.send(sender, "xóa dữ liệu của tôi đi đồ ngu")) != calm
    assert len(assistant.cases()) == before


def test_restart_keeps_the_conversation(assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    assistant.send(sender, "xin chào")
    before = [e for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assistant.restart_rasa()
    after = [e for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assert [e["text"] for e in after] == [e["text"] for e in before] == ["xin chào"]


def test_conversation_database_outage_fails_the_turn_loudly(assistant: Assistant) -> None:
    """With the tracker database unwritable, the turn is refused with a Vietnamese 503 (Rasa's
    default would answer 200 and keep the turn only in memory), and the conversation goes on
    intact once the database is back."""
    import sqlite3

    sender = f"t-{uuid.uuid4()}"
    assistant.send(sender, "xin chào")
    blocker = sqlite3.connect(assistant.tracker_db, timeout=1, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # nobody else can write until we let go
        status, body = assistant.post(sender, "quỹ vì người nghèo là gì")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert status == 503
    assert "tạm gián đoạn" in body["error"]
    assistant.send(sender, "cảm ơn")
    texts = [e["text"] for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assert texts == ["xin chào", "cảm ơn"]


def test_missing_fields_are_a_400(assistant: Assistant) -> None:
    status, body = assistant.post("", "xin chào")
    assert status == 400 and "sender" in body["error"]


def _cases_of(assistant: Assistant, sender: str) -> list[dict[str, Any]]:
    return [c for c in assistant.cases() if c["conversation_id"] == sender]


def test_petition_spread_over_messages_without_diacritics(assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    last = assistant.talk(
        sender,
        "toi muon gui kien nghi",
        "cong thoat nuoc truoc nha so 12 bi vo, nuoc ban tran ra duong",
        "phuong cau giay",
        "/inform{\"category\":\"moi_truong\"}",
        "/deny",
    )
    assert "Gửi ẩn danh" in _texts(last) and "phường Cầu Giấy" in _texts(last)
    saved = assistant.send(sender, "/affirm")
    (case,) = _cases_of(assistant, sender)
    assert case["ref_code"] in _texts(saved) and case["ref_code"].startswith("KN-")
    assert case["content"] == "cong thoat nuoc truoc nha so 12 bi vo, nuoc ban tran ra duong"
    assert (case["unit_code"], case["category"], case["person_name"]) == (
        "p_cau_giay", "moi_truong", None)


def test_petition_with_fields_in_one_message_and_contact(assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    last = assistant.talk(
        sender,
        "Tôi muốn phản ánh: đống rác ở phường Láng 3 ngày chưa được dọn, bốc mùi hôi khắp ngõ",
        "/affirm",
        "Nguyễn Văn An",
        "0912 345 678",
    )
    assert "Nguyễn Văn An, 0912345678" in _texts(last)
    assistant.send(sender, "/affirm")
    (case,) = _cases_of(assistant, sender)
    assert (case["unit_code"], case["category"], case["phone"]) == (
        "p_lang", "moi_truong", "0912345678")


def test_edit_then_send(assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    assistant.talk(
        sender,
        "gửi góp ý",
        "Buổi họp tổ dân phố nên thông báo sớm hơn trên nhóm Zalo",
        "phường Ba Đình",
        "/inform{\"category\":\"hoat_dong_mat_tran\"}",
        "/deny",
    )
    asked = assistant.send(sender, '/edit{"edit_field":"place"}')
    assert "phường, xã nào" in _texts(asked)
    summary = assistant.send(sender, "phường Đống Đa")
    assert "phường Đống Đa" in _texts(summary)
    assistant.send(sender, "/affirm")
    (case,) = _cases_of(assistant, sender)
    assert (case["kind"], case["unit_code"]) == ("feedback", "p_dong_da")
    assert case["ref_code"].startswith("GY-")


def test_cancel_saves_nothing(assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    replies = assistant.talk(sender, "toi muon phan anh", "đèn đường ngõ 7 hỏng cả tháng nay", "hủy")
    assert "Đã hủy" in _texts(replies)
    assert _cases_of(assistant, sender) == []
    again = assistant.send(sender, "xin chào")
    assert _texts(again).startswith("Xin chào")


# -- issue 11: the form never traps; programmes by meaning ------------------------------------

def _at_category_step(assistant: Assistant, sender: str) -> str:
    replies = assistant.talk(sender, "toi muon phan anh",
                             "cong o ngo 5 bi tac ca tuan nay, nuoc ban tran ra duong",
                             "phuong Lang")
    assert "Sự việc thuộc lĩnh vực nào?" in _texts(replies)
    return _texts(replies)


def test_a_status_question_inside_the_form_is_answered_and_the_form_goes_on(
        assistant: Assistant) -> None:
    from bot.knowledge.replies import reply_text
    RESUME_NOTE = reply_text("case_resume_note")
    from bot.knowledge.replies import reply_text

    sender = f"t-{uuid.uuid4()}"
    _at_category_step(assistant, sender)
    answered = _texts(assistant.send(sender, "đơn của tôi sao rồi"))
    assert reply_text("status_no_cases") in answered
    assert RESUME_NOTE in answered and "Sự việc thuộc lĩnh vực nào?" in answered
    # The category typed in words, not tapped, is taken; the form moves on to consent.
    moved_on = _texts(assistant.send(sender, "ha tang"))
    assert "Gửi ẩn danh" in moved_on or "Đồng ý" in moved_on


def test_a_person_asked_for_inside_the_form_goes_to_the_ward_being_reported(
        assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    _at_category_step(assistant, sender)
    replies = _texts(assistant.send(sender, "tôi muốn gặp cán bộ"))
    assert "phường Láng" in replies and "HT-" in replies
    assert "Sự việc thuộc lĩnh vực nào?" not in replies
    events = assistant.tracker(sender)["events"]
    assert [e for e in events if e["event"] == "active_loop"][-1]["name"] is None


def test_two_answers_the_step_does_not_understand_offer_a_person(assistant: Assistant) -> None:
    from bot.knowledge.replies import reply_text
    SECOND_MISS = reply_text("case_second_miss")

    sender = f"t-{uuid.uuid4()}"
    _at_category_step(assistant, sender)
    first = _texts(assistant.send(sender, "khong biet nua"))
    assert SECOND_MISS not in first
    second = assistant.send(sender, "cai gi cung duoc")
    assert SECOND_MISS in _texts(second)
    assert any(b.get("payload") == "/request_human" for r in second for b in r.get("buttons", []))


@pytest.mark.parametrize("message,title", [
    ("nha toi ngheo lam, co duoc ho tro xay nha khong a", "Đại đoàn kết"),
    ("ngày 18/11 ở khu phố có tổ chức gì vậy", "Ngày hội"),
])
def test_a_programme_described_not_named_is_answered_not_a_petition(
        assistant: Assistant, message: str, title: str) -> None:
    sender = f"t-{uuid.uuid4()}"
    replies = _texts(assistant.send(sender, message))
    assert title in replies
    events = assistant.tracker(sender)["events"]
    assert not [e for e in events if e["event"] == "active_loop" and e.get("name")]
    (user,) = [e for e in events if e["event"] == "user"]
    assert user["parse_data"]["intent"]["name"] == "ask_programme"


def test_a_second_question_about_another_need_is_not_answered_with_the_first_programme(
        assistant: Assistant) -> None:
    """Tried on the chat page: after the 18/11 answer, a question about overseeing the works in
    a lane got the festival's "how to take part", and one about a deputy's broken promises too."""
    sender = f"t-{uuid.uuid4()}"
    assert "Ngày hội" in _texts(assistant.send(sender, "ngày 18/11 ở khu phố có tổ chức gì vậy"))
    works = _texts(assistant.send(sender, "lam the nao de giam sat viec lam duong trong ngo"))
    assert "Ban Giám sát đầu tư" in works, works
    replies = assistant.send(sender, "dai bieu hdnd hua ma ko lam thi mat tran co theo doi dc ko")
    payloads = [b.get("payload") or "" for r in replies for b in r.get("buttons", [])]
    assert any("giam_sat_phan_bien" in p for p in payloads), payloads
    assert not any("ngay_hoi" in p for p in payloads), payloads


def test_a_name_the_question_contradicts_offers_both_programmes(assistant: Assistant) -> None:
    """"đại biểu HĐND" is one of the election's names, but deputies meeting voters is the Front's
    oversight: the citizen gets those two programmes (and a way to the full list), not a
    confident election answer and not all thirteen."""
    sender = f"t-{uuid.uuid4()}"
    replies = assistant.send(sender, "đại biểu hđnd có về gặp dân không a")
    payloads = [b.get("payload") or "" for r in replies for b in r.get("buttons", [])]
    assert any("giam_sat_phan_bien" in p for p in payloads), payloads
    assert any("bau_cu" in p for p in payloads), payloads
    assert len(payloads) == 3, payloads


def test_a_petition_that_asks_about_a_programme_is_offered_its_answer_on_the_first_question(
        assistant: Assistant) -> None:
    """A complaint worded as a question ("tiền cứu trợ … sao chưa nhận được?") opens the form,
    but its first question carries a relief button: tapping it answers about relief and the draft
    is kept; a hard-luck question misread as a petition costs one tap the same way."""
    sender = f"t-{uuid.uuid4()}"
    opened = assistant.send(sender, "tiền cứu trợ lũ sao xóm tôi chưa nhận được?")
    payloads = [b.get("payload") or "" for r in opened for b in r.get("buttons", [])]
    assert payloads == ['/ask_programme{"programme":"cuu_tro"}'], _texts(opened)
    assert "bấm nút bên dưới" in _texts(opened)
    answered = _texts(assistant.send(sender, payloads[0]))
    assert "cứu trợ" in answered.lower() and "vẫn được giữ" in answered, answered
    # The next question of the form comes without the button: it is offered once.
    again = assistant.send(sender, "xóm 3")
    assert not [b for r in again for b in r.get("buttons", []) if "cuu_tro" in b.get("payload", "")]


# -- issue 12: erasure reaches every copy ------------------------------------------------------

def test_erasure_leaves_no_name_or_phone_in_any_store_and_keeps_the_case(
        assistant: Assistant) -> None:
    import sqlite3

    sender = f"t-{uuid.uuid4()}"
    name, phone = "Lưu Thị Bích Ngọc", "0987654321"
    assistant.talk(
        sender,
        f"Tôi là {name}, số {phone}, muốn phản ánh: cống ngõ 9 phường Láng tắc 3 ngày nay",
        "/inform{\"category\":\"ha_tang\"}",
        "/affirm",
        name,
        phone,
    )
    saved = _texts(assistant.send(sender, "/affirm"))
    (case,) = _cases_of(assistant, sender)
    assert case["ref_code"] in saved and case["phone"] == phone
    asked = _texts(assistant.send(sender, "xóa dữ liệu của tôi"))
    assert "xóa" in asked.lower()
    done = _texts(assistant.send(sender, "/affirm"))
    assert "Đã xóa" in done

    (after,) = _cases_of(assistant, sender)
    assert after["ref_code"] == case["ref_code"]  # the matter stays, for staff
    assert "cống ngõ 9" in after["content"] and after["person_name"] is None
    folded_phone = phone[1:]  # "987654321": also catches +84 and spaced spellings

    def dump_sqlite(path: Path) -> str:
        with sqlite3.connect(path) as db:
            return "\n".join(
                str(row) for table, in db.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'").fetchall()
                for row in db.execute(f'SELECT * FROM "{table}"').fetchall())

    feedback = dump_sqlite(Path(assistant.env["DATABASE_URL"].removeprefix("sqlite:///")))
    tracker = dump_sqlite(assistant.tracker_db)
    logs = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for p in assistant.logs.glob("*.log"))
    for where, dump in (("feedback DB", feedback), ("tracker store", tracker), ("logs", logs)):
        assert folded_phone not in dump.replace(" ", "").replace(".", ""), where
        assert name not in dump and "Bích Ngọc" not in dump, where
    # The conversation goes on after the erasure.
    assert _texts(assistant.send(sender, "xin chào")).startswith("Xin chào")


# -- issue 16: subscriptions with consent, and "hủy nhận tin" at any point ----------------------

def _subscription(assistant: Assistant, sender: str) -> dict[str, Any] | None:
    from sqlalchemy import create_engine, text

    engine = create_engine(assistant.env["DATABASE_URL"], future=True)
    try:
        with engine.connect() as connection:
            row = connection.execute(text(
                "SELECT channel, unit_code, topics, withdrawn_at FROM subscriptions "
                "WHERE sender_id = :sender"), {"sender": sender}).mappings().one_or_none()
            return dict(row) if row is not None else None
    finally:
        engine.dispose()


def test_subscribing_typed_refusal_then_consent_then_unsubscribe_mid_petition(assistant: Assistant) -> None:
    from bot.knowledge.replies import reply_text

    sender = f"t-{uuid.uuid4()}"
    notice = _texts(assistant.talk(sender, "dang ky nhan thong bao cua phuong", "phuong Lang",
                                   "su kien, cuu tro"))
    assert "Luật số 91/2025/QH15" in notice and "Nghị định 356/2025/NĐ-CP" in notice
    assert 'nhắn "hủy nhận tin"' in notice and "sự kiện, cứu trợ" in notice
    refused = _texts(assistant.send(sender, "khong dong y"))
    assert reply_text("subscription_refused") in refused
    assert _subscription(assistant, sender) is None

    saved = _texts(assistant.talk(sender, "đăng ký nhận tin", "phường Láng", "tất cả", "đồng ý"))
    assert "Bạn đã đăng ký nhận thông báo" in saved
    row = _subscription(assistant, sender)
    assert row is not None and row["unit_code"] == "p_lang" and row["withdrawn_at"] is None
    assert json.loads(row["topics"]) == ["su_kien", "cuu_tro", "bau_cu", "lich_tiep_dan",
                                         "canh_bao_lua_dao"]

    # In the middle of a petition: withdrawn at once, said so, and the petition goes on.
    _at_category_step(assistant, sender)
    middle = _texts(assistant.send(sender, "huy nhan tin"))
    assert reply_text("subscription_withdrawn") in middle
    assert "Sự việc thuộc lĩnh vực nào?" in middle
    row = _subscription(assistant, sender)
    assert row is not None and row["withdrawn_at"] is not None and json.loads(row["topics"]) == []
    assert "Đồng ý" in _texts(assistant.send(sender, "ha tang"))  # the petition's next step


def test_unsubscribe_in_the_middle_of_subscribing_stops_the_form(assistant: Assistant) -> None:
    from bot.knowledge.replies import reply_text

    sender = f"t-{uuid.uuid4()}"
    asked = _texts(assistant.talk(sender, "đăng ký nhận tin", "phường Láng"))
    assert reply_text("subscription_ask_topics") in asked
    stopped = _texts(assistant.send(sender, "ko muon nhan tin nua"))
    assert reply_text("subscription_withdrawn_nothing") in stopped
    assert reply_text("subscription_ask_topics") not in stopped
    events = assistant.tracker(sender)["events"]
    assert [e for e in events if e["event"] == "active_loop"][-1]["name"] is None
    assert _subscription(assistant, sender) is None


def test_offered_once_after_a_helpful_answer(assistant: Assistant) -> None:
    from bot.knowledge.replies import reply_text

    sender = f"t-{uuid.uuid4()}"
    first = _texts(assistant.send(sender, "ngày hội đại đoàn kết tổ chức khi nào"))
    assert reply_text("helpful_question") in first
    offered = _texts(assistant.send(sender, "có"))
    assert reply_text("helpful_glad") in offered and reply_text("subscription_offer") in offered
    assert reply_text("subscription_offer_declined") in _texts(assistant.send(sender, "không"))
    second = _texts(assistant.send(sender, "ai được quỹ vì người nghèo hỗ trợ"))
    assert reply_text("helpful_question") in second
    again = _texts(assistant.send(sender, "có"))
    assert reply_text("helpful_glad") in again  # the same helpful answer, never pushed twice
    assert reply_text("subscription_offer") not in again


def test_yes_to_the_offer_opens_the_form_and_a_misspelt_unsubscribe_withdraws(assistant: Assistant) -> None:
    from bot.knowledge.replies import reply_text

    sender = f"t-{uuid.uuid4()}"
    assistant.send(sender, "ngày hội đại đoàn kết tổ chức khi nào")
    assert reply_text("subscription_offer") in _texts(assistant.send(sender, "có"))
    opened = _texts(assistant.send(sender, "có"))
    assert reply_text("subscription_intro") in opened
    assert reply_text("subscription_ask_unit") in opened
    assistant.talk(sender, "phường Láng", "cảnh báo lừa đảo")
    assert "Bạn đã đăng ký" in _texts(assistant.send(sender, "/affirm"))
    # "kí" as often typed: withdrawn whatever the NLU made of it (cancel, with nothing to cancel).
    assert reply_text("subscription_withdrawn") in _texts(assistant.send(sender, "hủy đăng kí"))
    row = _subscription(assistant, sender)
    assert row is not None and row["withdrawn_at"] is not None
