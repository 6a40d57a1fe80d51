"""Casework service: every function writes its event (and outbox row when the citizen should
hear), refuses what it must with a Vietnamese message, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from staff_helpers import SAMPLE_UNITS, seed_case, seed_outcome, seed_staff

from bot.cases import casework
from bot.cases.casework import ALLOWED_TRANSITIONS, CaseworkError
from bot.cases.service import Actor
from bot.db.engine import session_scope
from bot.db.models import (
    ActorKind,
    Case,
    CaseEvent,
    CaseNote,
    CaseStatus,
    Outbox,
    OutboxStatus,
    Staff,
    StaffRole,
)
from bot.knowledge.units import load_units

UTC = timezone.utc
FILED = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
LATER = FILED + timedelta(hours=3, minutes=20)


@pytest.fixture
def db(db_with_units: Engine) -> Iterator[dict[str, Any]]:
    engine = db_with_units
    yield {
        "engine": engine,
        "lan": seed_staff(engine, "lan", "p_lang", StaffRole.OFFICER),
        "tuan": seed_staff(engine, "tuan", "p_cau_giay", StaffRole.OFFICER),
        "tinh": seed_staff(engine, "tinh", "hn", StaffRole.UNIT_ADMIN),
        "case": seed_case(engine, now=FILED)[0],
    }


def events(engine: Engine, case_id: int) -> list[tuple[str, ActorKind, str | None, Any]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        ).scalars()
        return [(e.action, e.actor_kind, e.actor_id, e.detail) for e in rows]


def outbox(engine: Engine, case_id: int, kind: str) -> list[Outbox]:
    with session_scope(engine) as session:
        return list(
            session.execute(
                select(Outbox).where(Outbox.case_id == case_id, Outbox.kind == kind)
            ).scalars()
        )


def get_case(engine: Engine, case_id: int) -> Case:
    with session_scope(engine) as session:
        return session.get(Case, case_id)


def run(engine: Engine, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with session_scope(engine) as session:
        return fn(session, *args, **kwargs)


# --------------------------------------------------------------------------- assign


def test_assign_writes_event_and_stamps_first_response_once(db: dict[str, Any]) -> None:
    engine, case_id, lan = db["engine"], db["case"], db["lan"]
    actor = Actor.staff(lan)
    run(engine, casework.assign, case_id, lan, actor=actor, now=LATER)
    assert get_case(engine, case_id).assignee_id == lan
    run(engine, casework.assign, case_id, None, actor=actor, now=LATER + timedelta(hours=1))
    assert get_case(engine, case_id).assignee_id is None
    assert events(engine, case_id)[1:] == [
        ("assigned", ActorKind.STAFF, str(lan), {"from": None, "to": lan}),
        ("first_response", ActorKind.STAFF, str(lan), {"seconds": 12000, "by": "assigned"}),
        ("assigned", ActorKind.STAFF, str(lan), {"from": lan, "to": None}),
    ]
    assert outbox(engine, case_id, "citizen_status") == []  # nothing for the citizen


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("tuan", "không thuộc đơn vị phụ trách"),  # a sibling ward's officer
        ("nobody", "Không tìm thấy cán bộ"),
        ("disabled", "Không tìm thấy cán bộ"),
    ],
)
def test_assign_refuses_who_cannot_work_the_case(
    db: dict[str, Any], who: str, message: str
) -> None:
    engine = db["engine"]
    staff_id = {"tuan": db["tuan"], "nobody": 999_999}.get(who)
    if who == "disabled":
        staff_id = seed_staff(engine, "off", "p_lang", StaffRole.OFFICER)
        with session_scope(engine) as session:
            session.get(Staff, staff_id).active = False
    with pytest.raises(CaseworkError, match=message):
        run(engine, casework.assign, db["case"], staff_id, actor=Actor.staff(db["lan"]))
    assert [e[0] for e in events(engine, db["case"])] == ["created"]


def test_assign_accepts_the_province_above_and_refuses_repeats(db: dict[str, Any]) -> None:
    engine, case_id = db["engine"], db["case"]
    run(engine, casework.assign, case_id, db["tinh"], actor=Actor.staff(db["tinh"]))
    with pytest.raises(CaseworkError, match="đã được giao"):
        run(engine, casework.assign, case_id, db["tinh"], actor=Actor.staff(db["tinh"]))
    other = seed_case(engine, channel_user_id="p2")[0]
    with pytest.raises(CaseworkError, match="chưa được giao"):
        run(engine, casework.assign, other, None, actor=Actor.staff(db["lan"]))
    with pytest.raises(CaseworkError, match="Không tìm thấy hồ sơ"):
        run(engine, casework.assign, 999_999, db["lan"], actor=Actor.staff(db["lan"]))


# --------------------------------------------------------------------------- change_status

ORDER = list(CaseStatus)


@pytest.mark.parametrize("current", ORDER)
@pytest.mark.parametrize("target", ORDER)
def test_transition_table(current: CaseStatus, target: CaseStatus) -> None:
    """Forward only (skipping allowed); rejected and closed are final; resolved may close."""
    allowed = target in ALLOWED_TRANSITIONS[current]
    terminal = {CaseStatus.REJECTED, CaseStatus.CLOSED}
    if current in terminal:
        assert not allowed
    elif current == CaseStatus.RESOLVED:
        assert allowed == (target == CaseStatus.CLOSED)
    else:
        assert allowed == (ORDER.index(target) > ORDER.index(current))


def test_status_change_writes_event_note_and_citizen_message(db: dict[str, Any]) -> None:
    engine, case_id, lan = db["engine"], db["case"], db["lan"]
    actor = Actor.staff(lan)
    run(engine, casework.change_status, case_id, CaseStatus.ACKNOWLEDGED, actor=actor, now=LATER)
    run(
        engine,
        casework.change_status,
        case_id,
        CaseStatus.IN_PROGRESS,
        actor=actor,
        note="Đã báo tổ dân phố",
        now=LATER,
    )
    seed_outcome(engine, case_id, lan, now=LATER)
    run(engine, casework.change_status, case_id, CaseStatus.RESOLVED, actor=actor, now=LATER)
    assert get_case(engine, case_id).status == CaseStatus.RESOLVED
    trail = events(engine, case_id)
    assert [e[0] for e in trail] == [
        "created",
        "status_changed",
        "first_response",
        "status_changed",
        "outcome_recorded",
        "status_changed",
    ]
    with session_scope(engine) as session:
        [note] = session.execute(select(CaseNote)).scalars().all()
        assert note.text == "Đã báo tổ dân phố" and note.actor_id == str(lan)
    assert trail[3][3] == {"from": "acknowledged", "to": "in_progress", "note_id": note.id}
    rows = outbox(engine, case_id, "citizen_status")
    assert [(r.payload["previous_status"], r.payload["status"]) for r in rows] == [
        ("new", "acknowledged"),
        ("acknowledged", "in_progress"),
        ("in_progress", "resolved"),
    ]
    assert [r.payload["ask_rating"] for r in rows] == [False, False, True]
    last = rows[-1]
    assert last.status == OutboxStatus.PENDING and last.target == "facebook:psid-1"
    assert last.payload["channel_user_id"] == "psid-1"
    assert last.payload["conversation_id"] == "conv-psid-1"
    assert last.payload["reason"] is None
    assert "person_name" not in last.payload and "phone" not in last.payload


def test_rejection_needs_a_reason_which_the_citizen_gets(db: dict[str, Any]) -> None:
    engine, case_id = db["engine"], db["case"]
    actor = Actor.staff(db["lan"])
    for note in (None, "", "   \n"):
        with pytest.raises(CaseworkError, match="cần ghi rõ lý do"):
            run(
                engine, casework.change_status, case_id, CaseStatus.REJECTED, actor=actor, note=note
            )
    assert get_case(engine, case_id).status == CaseStatus.NEW
    run(engine, casework.change_status, case_id, "rejected", actor=actor, note=" Trùng hồ sơ KN-1 ")
    [row] = outbox(engine, case_id, "citizen_status")
    assert row.payload["reason"] == "Trùng hồ sơ KN-1"
    with pytest.raises(CaseworkError, match="Từ chối"):
        run(engine, casework.change_status, case_id, CaseStatus.CLOSED, actor=actor)


def test_status_refusals(db: dict[str, Any]) -> None:
    engine, case_id = db["engine"], db["case"]
    actor = Actor.staff(db["lan"])
    with pytest.raises(CaseworkError, match="đã ở trạng thái «Mới»"):
        run(engine, casework.change_status, case_id, CaseStatus.NEW, actor=actor)
    with pytest.raises(CaseworkError, match="không hợp lệ"):
        run(engine, casework.change_status, case_id, "done", actor=actor)
    run(engine, casework.change_status, case_id, CaseStatus.IN_PROGRESS, actor=actor)
    with pytest.raises(CaseworkError, match="Không thể chuyển hồ sơ từ «Đang xử lý» sang «Mới»"):
        run(engine, casework.change_status, case_id, CaseStatus.NEW, actor=actor)
    assert len(outbox(engine, case_id, "citizen_status")) == 1


def test_system_actions_do_not_count_as_first_response(db: dict[str, Any]) -> None:
    engine, case_id = db["engine"], db["case"]
    run(engine, casework.change_status, case_id, CaseStatus.ACKNOWLEDGED, actor=Actor.system())
    assert "first_response" not in [e[0] for e in events(engine, case_id)]
    run(engine, casework.add_note, case_id, "x", actor=Actor.staff(db["lan"]))
    assert [e[0] for e in events(engine, case_id)].count("first_response") == 1


# --------------------------------------------------------------------------- notes and replies


def test_add_note_returns_its_id(db: dict[str, Any]) -> None:
    engine, case_id = db["engine"], db["case"]
    note_id = run(
        engine, casework.add_note, case_id, "  Gọi lại lúc 9h  ", actor=Actor.staff(db["lan"])
    )
    with session_scope(engine) as session:
        note = session.get(CaseNote, note_id)
        assert note.text == "Gọi lại lúc 9h" and note.case_id == case_id
    assert events(engine, case_id)[1][:3] == ("note_added", ActorKind.STAFF, str(db["lan"]))
    assert events(engine, case_id)[1][3] == {"note_id": note_id}
    for bad in ("", "   ", "x" * (casework.MAX_NOTE_CHARS + 1)):
        with pytest.raises(CaseworkError, match="Ghi chú"):
            run(engine, casework.add_note, case_id, bad, actor=Actor.staff(db["lan"]))


def test_reply_queues_a_citizen_reply(db: dict[str, Any]) -> None:
    engine, case_id, lan = db["engine"], db["case"], db["lan"]
    outbox_id = run(
        engine, casework.reply_to_citizen, case_id, "Chào bạn <b>!</b>", actor=Actor.staff(lan)
    )
    [row] = outbox(engine, case_id, "citizen_reply")
    assert row.id == outbox_id and row.status == OutboxStatus.PENDING
    assert row.target == "facebook:psid-1"
    assert row.payload == {
        "case_id": case_id,
        "ref_code": get_case(engine, case_id).ref_code,
        "text": "Chào bạn <b>!</b>",
        "channel": "facebook",
        "channel_user_id": "psid-1",
        "conversation_id": "conv-psid-1",
        "staff_id": str(lan),
    }
    assert events(engine, case_id)[1][0] == "replied"
    assert events(engine, case_id)[1][3] == {"outbox_id": outbox_id, "chars": 17}
    with pytest.raises(CaseworkError, match="quá dài"):
        run(engine, casework.reply_to_citizen, case_id, "a" * 2001, actor=Actor.staff(lan))
    with pytest.raises(CaseworkError, match="để trống"):
        run(engine, casework.reply_to_citizen, case_id, " ", actor=Actor.staff(lan))
    assert len(outbox(engine, case_id, "citizen_reply")) == 1


def test_record_outcome_refuses_empty_nul_and_over_long_text(db: dict[str, Any]) -> None:
    """The outcome form's free text goes through casework's ``clean_text``: stripped when kept,
    refused with the form's own words when empty, and refused when it holds a NUL or is too long."""
    from datetime import date

    from bot.cases import outcome

    engine, case_id = db["engine"], db["case"]
    actor = Actor.staff(db["lan"])
    ok = {"action_text": "Đã dọn rác.", "done_by": "Tổ dân phố số 5", "done_on": date(2026, 11, 2)}
    refusals = [
        ({"action_text": "  "}, "Cần ghi rõ đã làm gì để giải quyết hồ sơ."),
        ({"done_by": ""}, "Cần ghi rõ ai đã thực hiện."),
        ({"done_by": "Tổ\x00 5"}, "Nội dung chứa ký tự không hợp lệ."),
        ({"action_text": "x" * (outcome.MAX_ACTION_CHARS + 1)}, "Nội dung quá dài"),
        ({"done_by": "x" * (outcome.MAX_WHO_CHARS + 1)}, "Nội dung quá dài"),
    ]
    for change, message in refusals:
        with pytest.raises(CaseworkError) as refused:
            run(engine, outcome.record_outcome, case_id, actor=actor, now=LATER, **(ok | change))
        assert str(refused.value).startswith(message)
    assert outcome.OUTCOME_RECORDED not in [e[0] for e in events(engine, case_id)]
    outcome_id = run(
        engine, outcome.record_outcome, case_id, actor=actor, now=LATER,
        **(ok | {"done_by": "  Tổ dân phố số 5 "}),
    )
    with session_scope(engine) as session:
        [row] = outcome.case_outcomes(session, case_id)
        assert (row.id, row.action_text, row.done_by) == (outcome_id, "Đã dọn rác.", "Tổ dân phố số 5")


# --------------------------------------------------------------------------- transfer


def test_transfer_moves_notifies_and_unassigns_who_cannot_follow(db: dict[str, Any]) -> None:
    engine, case_id, lan = db["engine"], db["case"], db["lan"]
    actor = Actor.staff(lan)
    run(engine, casework.assign, case_id, lan, actor=actor)
    run(engine, casework.transfer, case_id, "p_cau_giay", actor=actor, note="Sai địa bàn")
    case = get_case(engine, case_id)
    assert case.unit_code == "p_cau_giay" and case.assignee_id is None
    action, _, _, detail = events(engine, case_id)[-1]
    assert action == "transferred"
    assert (
        detail["from"] == "p_lang" and detail["to"] == "p_cau_giay" and detail["unassigned"] == lan
    )
    notes = outbox(engine, case_id, "staff_notify")
    assert notes[-1].target == "p_cau_giay" and notes[-1].payload["from_unit_code"] == "p_lang"

    run(engine, casework.assign, case_id, db["tinh"], actor=actor)
    run(engine, casework.transfer, case_id, "p_lang", actor=actor)  # the province still sees it
    assert get_case(engine, case_id).assignee_id == db["tinh"]
    with pytest.raises(CaseworkError, match="đã thuộc đơn vị này"):
        run(engine, casework.transfer, case_id, "p_lang", actor=actor)
    with pytest.raises(CaseworkError, match="Không tìm thấy đơn vị"):
        run(engine, casework.transfer, case_id, "khong_co", actor=actor)


# --------------------------------------------------------------------------- rating


def test_rating_only_for_finished_cases_and_from_one_to_five(db: dict[str, Any]) -> None:
    engine, case_id = db["engine"], db["case"]
    citizen = Actor.citizen("psid-1")
    with pytest.raises(CaseworkError, match="đã xử lý xong"):
        run(engine, casework.record_rating, case_id, 5, actor=citizen)
    seed_outcome(engine, case_id, db["lan"])
    run(engine, casework.change_status, case_id, CaseStatus.RESOLVED, actor=Actor.staff(db["lan"]))
    for bad in (0, 6, True, "5"):
        with pytest.raises(CaseworkError, match="từ 1 đến 5"):
            run(engine, casework.record_rating, case_id, bad, actor=citizen)
    run(engine, casework.record_rating, case_id, 4, actor=citizen)
    run(engine, casework.record_rating, case_id, 5, actor=citizen)
    assert get_case(engine, case_id).rating == 5
    rated = [e for e in events(engine, case_id) if e[0] == "rated"]
    assert rated == [
        ("rated", ActorKind.CITIZEN, "psid-1", {"rating": 4, "previous": None}),
        ("rated", ActorKind.CITIZEN, "psid-1", {"rating": 5, "previous": 4}),
    ]


# --------------------------------------------------------------------------- visibility


def test_visible_units_and_case_for_staff(db: dict[str, Any]) -> None:
    engine, case_id = db["engine"], db["case"]
    tree = load_units(SAMPLE_UNITS)
    all_codes = {u.code for u in tree}
    with session_scope(engine) as session:
        lan = session.get(Staff, db["lan"])
        tuan = session.get(Staff, db["tuan"])
        tinh = session.get(Staff, db["tinh"])
        assert casework.visible_unit_codes(tree, lan) == {"p_lang"}
        assert casework.visible_unit_codes(tree, tinh) == all_codes
        root = Staff(login="r", unit_code="p_lang", role=StaffRole.SYSTEM_ADMIN, active=True)
        assert casework.visible_unit_codes(tree, root) == all_codes
        assert casework.case_for_staff(session, case_id, lan, tree).id == case_id
        assert casework.case_for_staff(session, case_id, tuan, tree) is None
        assert casework.case_for_staff(session, case_id, tinh, tree).id == case_id
        assert casework.case_for_staff(session, 999_999, tinh, tree) is None
        lan.active = False
        assert casework.case_for_staff(session, case_id, lan, tree) is None
