"""The case service: creation, reference codes, privacy, dedupe — on SQLite and PostgreSQL.

Table-driven tests of the pure helpers (reference codes, phone numbers) need no database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine

import bot.cases.service as cases
from bot.cases.inbound import quarantine, record_seen_message
from bot.cases.lookup import find_case, get_case_status, last_case_for
from bot.cases.privacy import anonymise_citizen, anonymise_closed_older_than
from bot.cases.service import (
    Actor,
    AttachmentDraft,
    CaseDraft,
    CreatedCase,
    UnknownUnitError,
    create_case,
    normalise_vn_phone,
)
from bot.db.engine import session_scope
from bot.db.models import (
    AttachmentKind,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseKind,
    CaseStatus,
    Outbox,
    Quarantine,
    RefCounter,
    SeenMessage,
)
from bot.db.refcodes import normalise_ref_code

UTC = timezone.utc
#: 00:30 on 1 November 2026 in Hà Nội, still October in UTC: the code must say 2611.
NOW = datetime(2026, 10, 31, 17, 30, tzinfo=UTC)


def draft(**overrides: object) -> CaseDraft:
    fields: dict = dict(
        kind=CaseKind.PETITION,
        content="Đèn đường ngõ 5 bị hỏng một tuần nay.",
        channel="facebook",
        channel_user_id="psid-1",
        unit_code="p_lang",
        category="trat_tu_do_thi",
        location_text="ngõ 5 phố Láng Hạ",
        conversation_id="conv-1",
    )
    fields.update(overrides)
    return CaseDraft(**fields)  # type: ignore[arg-type]


def create(engine: Engine, key: str, now: datetime = NOW, **overrides: object) -> CreatedCase:
    with session_scope(engine) as session:
        return create_case(session, draft(**overrides), idempotency_key=key, now=now)


def count(engine: Engine, model: type) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def run_in_threads(n: int, work: Callable[[int], object]) -> list[object]:
    """Start ``n`` threads together (a barrier) and return their results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def target(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # reported by the assertions below
            results[i] = exc

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("KN-2611-0042", "KN-2611-0042"),
        ("kn26110042", "KN-2611-0042"),
        ("kn 2611 0042", "KN-2611-0042"),
        ("Kn_2611.0042", "KN-2611-0042"),
        ("KN–2611–0042", "KN-2611-0042"),  # en dashes from phone keyboards
        ("  gy-2611-0007 ", "GY-2611-0007"),
        ("Mã của tôi là KN-2611-0042 ạ", "KN-2611-0042"),
        ("KN-2611-10000", "KN-2611-10000"),
        ("kn2611100001", "KN-2611-100001"),
        ("HT-2601-0001", "HT-2601-0001"),
        ("KN-2613-0042", None),  # no 13th month
        ("KN-2611-0000", None),
        ("KN-2611-042", None),
        ("XX-2611-0042", None),
        ("AKN-2611-0042", None),
        ("0912345678", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_ref_code(typed: str | None, expected: str | None) -> None:
    assert normalise_ref_code(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0912345678", "0912345678"),
        ("0912 345 678", "0912345678"),
        ("091.234.5678", "0912345678"),
        ("091-234-5678", "0912345678"),
        ("+84912345678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("(+84) 0912345678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0084912345678", "0912345678"),
        ("0312345678", "0312345678"),
        ("0512345678", "0512345678"),
        ("0712345678", "0712345678"),
        ("0812345678", "0812345678"),
        ("０９１２３４５６７８", "0912345678"),  # full-width digits
        ("02438253456", "02438253456"),  # Hà Nội landline
        ("+84 24 3825 3456", "02438253456"),
        ("842838253456", "02838253456"),
        ("0212345678", None),  # landline needs 10 digits after the 0
        ("0112345678", None),  # no mobile prefix 1
        ("0612345678", None),
        ("091234567", None),  # too short
        ("09123456789", None),  # too long
        ("912345678", None),  # the leading 0 is required
        ("+1 912 345 678", None),
        ("+84 12 345 678", None),
        ("09123a5678", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_vn_phone(typed: str | None, expected: str | None) -> None:
    assert normalise_vn_phone(typed) == expected


# --------------------------------------------------------------------------- creating


def test_create_case_writes_case_event_and_outbox(db_with_units: Engine) -> None:
    created = create(
        db_with_units,
        "k1",
        attachments=(
            AttachmentDraft(AttachmentKind.IMAGE, url="https://cdn.example/1.jpg"),
            AttachmentDraft(AttachmentKind.LOCATION, payload={"lat": 21.0, "lng": 105.8}),
        ),
        person_name="Nguyễn Văn A",
        phone="+84 912 345 678",
        consent=True,
    )
    assert created.created is True
    assert created.ref_code == "KN-2611-0001"
    assert created.status is CaseStatus.NEW
    with session_scope(db_with_units) as session:
        case = session.execute(select(Case)).scalar_one()
        assert case.phone == "0912345678"
        assert case.consent_at == NOW
        assert [a.kind for a in case.attachments] == [AttachmentKind.IMAGE, AttachmentKind.LOCATION]
        assert case.attachments[1].payload == {"lat": 21.0, "lng": 105.8}
        event = session.execute(select(CaseEvent)).scalar_one()
        assert (event.case_id, event.action, event.actor_id) == (case.id, "created", "psid-1")
        outbox = session.execute(select(Outbox)).scalar_one()
        assert (outbox.kind, outbox.target, outbox.status) == ("staff_notify", "p_lang", "pending")
        assert outbox.payload["ref_code"] == "KN-2611-0001"
        assert outbox.next_attempt_at == NOW
        # Personal data stays in the case row only, so erasing it there erases it everywhere.
        for stored in (str(outbox.payload), str(event.detail)):
            assert "Nguyễn" not in stored and "0912345678" not in stored


def test_failure_after_the_insert_persists_nothing(
    db_with_units: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_notify(*args: object, **kwargs: object) -> None:
        raise RuntimeError("notifier crashed")

    monkeypatch.setattr(cases, "_notify_staff", broken_notify)
    with pytest.raises(RuntimeError, match="notifier crashed"):
        create(db_with_units, "k1")
    for model in (Case, CaseEvent, Outbox, CaseAttachment, RefCounter):
        assert count(db_with_units, model) == 0, model


def test_failure_later_in_the_same_unit_of_work_persists_nothing(db_with_units: Engine) -> None:
    with pytest.raises(RuntimeError):
        with session_scope(db_with_units) as session:
            create_case(session, draft(), idempotency_key="k1", now=NOW)
            raise RuntimeError("the reply could not be rendered")
    assert [count(db_with_units, m) for m in (Case, CaseEvent, Outbox)] == [0, 0, 0]
    assert create(db_with_units, "k1").ref_code == "KN-2611-0001"  # no number was burnt


def test_same_idempotency_key_makes_one_case(db_with_units: Engine) -> None:
    first = create(db_with_units, "conv-1:confirm:1700000000")
    again = create(db_with_units, "conv-1:confirm:1700000000", content="a different text")
    assert first.created and not again.created
    assert (again.id, again.ref_code) == (first.id, first.ref_code)
    assert [count(db_with_units, m) for m in (Case, CaseEvent, Outbox)] == [1, 1, 1]


def test_concurrent_duplicates_make_one_case(db_with_units: Engine) -> None:
    results = run_in_threads(10, lambda i: create(db_with_units, "same-key"))
    assert not [r for r in results if isinstance(r, Exception)], results
    created = [r for r in results if isinstance(r, CreatedCase)]
    assert sum(r.created for r in created) == 1
    assert {r.ref_code for r in created} == {"KN-2611-0001"}
    assert [count(db_with_units, m) for m in (Case, CaseEvent, Outbox)] == [1, 1, 1]


def test_ref_codes_unique_under_20_concurrent_creations(db_with_units: Engine) -> None:
    results = run_in_threads(20, lambda i: create(db_with_units, f"key-{i}"))
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = sorted(r.ref_code for r in results if isinstance(r, CreatedCase))
    assert codes == [f"KN-2611-{n:04d}" for n in range(1, 21)]
    assert count(db_with_units, Outbox) == 20


@pytest.mark.parametrize(
    ("kind", "now", "expected"),
    [
        (CaseKind.PETITION, NOW, "KN-2611-0001"),
        (CaseKind.FEEDBACK, NOW, "GY-2611-0001"),
        (CaseKind.HANDOFF, NOW, "HT-2611-0001"),
        (CaseKind.PETITION, NOW - timedelta(minutes=31), "KN-2610-0001"),  # 23:59 in Hà Nội
        (
            CaseKind.PETITION,
            datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=7))),
            "KN-2701-0001",
        ),
    ],
)
def test_ref_code_prefix_and_month(
    db_with_units: Engine, kind: CaseKind, now: datetime, expected: str
) -> None:
    assert create(db_with_units, "k", now=now, kind=kind).ref_code == expected


def test_sequences_are_per_prefix_and_month(db_with_units: Engine) -> None:
    made = [
        create(db_with_units, "a", kind=CaseKind.PETITION).ref_code,
        create(db_with_units, "b", kind=CaseKind.FEEDBACK).ref_code,
        create(db_with_units, "c", kind=CaseKind.PETITION).ref_code,
        create(db_with_units, "d", kind=CaseKind.PETITION, now=NOW + timedelta(days=31)).ref_code,
    ]
    assert made == ["KN-2611-0001", "GY-2611-0001", "KN-2611-0002", "KN-2612-0001"]


def test_sequence_grows_to_five_digits(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        session.add(RefCounter(prefix="KN-2611", last_value=9998))
    codes = [create(db_with_units, f"k{i}").ref_code for i in range(2)]
    assert codes == ["KN-2611-9999", "KN-2611-10000"]
    assert normalise_ref_code("kn 2611 10000") == "KN-2611-10000"


def test_collision_with_an_existing_code_is_retried(db_with_units: Engine) -> None:
    """A counter that fell behind (cases imported by hand) skips codes already used."""
    with session_scope(db_with_units) as session:
        for n in (1, 2, 3):
            session.add(
                Case(
                    ref_code=f"KN-2611-{n:04d}",
                    kind=CaseKind.PETITION,
                    content="imported",
                    unit_code="p_lang",
                    channel="web",
                    channel_user_id="old",
                )
            )
    assert create(db_with_units, "k1").ref_code == "KN-2611-0004"
    assert create(db_with_units, "k2").ref_code == "KN-2611-0005"


CONTENTS = {
    "html": '<script>alert("xss")</script><b>in đậm</b> &amp; &lt;',
    "sql": "'); DROP TABLE cases; -- \" OR 1=1; SELECT * FROM staff WHERE login = 'admin'--",
    "emoji": "Cảm ơn 🙏🏻 ổ gà to quá 😡🕳️ 👨‍👩‍👧",
    "whitespace": "  \n\tdòng đầu\r\n\n  dòng cuối   \n",
    "decomposed": "Ha\u0300 No\u0302\u0323i",  # NFD, kept as typed, not normalised
    "long": ("Phản ánh dài: đường ngập sau mưa, rác không được thu gom. 🌧️ " * 100)[:5000],
    "percent_and_backslash": "100% \\n \\x00 %s %(name)s {0} $1",
}


@pytest.mark.parametrize("name", sorted(CONTENTS))
def test_content_is_stored_exactly_as_typed(db_with_units: Engine, name: str) -> None:
    content = CONTENTS[name]
    created = create(db_with_units, "k1", content=content, location_text=content)
    with session_scope(db_with_units) as session:
        case = session.get(Case, created.id)
        assert case is not None
        assert case.content == content and case.location_text == content
    with db_with_units.connect() as connection:
        raw = connection.execute(text("SELECT content FROM cases")).scalar_one()
    assert raw == content
    if name == "long":
        assert len(raw) == 5000


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"content": "   \n "}, ValueError),
        ({"content": "a\x00b"}, ValueError),
        ({"person_name": "Lan"}, ValueError),  # no consent
        ({"phone": "0912345678"}, ValueError),  # no consent
        ({"phone": "12345", "consent": True}, ValueError),
        ({"channel_user_id": ""}, ValueError),
        ({"unit_code": "p_nowhere"}, UnknownUnitError),
    ],
)
def test_invalid_drafts_are_refused(db_with_units: Engine, overrides: dict, error: type) -> None:
    with pytest.raises(error):
        create(db_with_units, "k1", **overrides)
    assert count(db_with_units, Case) == 0


# --------------------------------------------------------------------------- reading


def test_status_only_for_the_user_who_filed(db_with_units: Engine) -> None:
    created = create(db_with_units, "k1")
    with session_scope(db_with_units) as session:
        own = get_case_status(session, "kn 2611 0001", "facebook", "psid-1")
        assert own is not None
        assert (own.ref_code, own.status, own.unit_code) == (
            created.ref_code,
            CaseStatus.NEW,
            "p_lang",
        )
        assert own.unit_name.startswith("Ủy ban MTTQ Việt Nam phường Láng")
        # Another user, the same id on another channel, and a code that does not exist all
        # look the same: None.
        assert get_case_status(session, created.ref_code, "facebook", "psid-2") is None
        assert get_case_status(session, created.ref_code, "zalo", "psid-1") is None
        assert get_case_status(session, "KN-2611-0999", "facebook", "psid-1") is None
        assert get_case_status(session, "not a code", "facebook", "psid-1") is None
        assert find_case(session, "kn26110001") is not None  # staff lookup has no owner check


def test_last_case_for_returns_the_newest(db_with_units: Engine) -> None:
    create(db_with_units, "k1", now=NOW)
    create(db_with_units, "k2", now=NOW + timedelta(hours=1), kind=CaseKind.FEEDBACK)
    create(db_with_units, "k3", now=NOW + timedelta(hours=2), channel_user_id="someone-else")
    with session_scope(db_with_units) as session:
        last = last_case_for(session, "facebook", "psid-1")
        assert last is not None and last.ref_code == "GY-2611-0001"
        assert last_case_for(session, "facebook", "nobody") is None


# --------------------------------------------------------------------------- personal data


def test_erasure_reaches_the_texts_the_citizen_typed(db_with_units: Engine) -> None:
    """Issue 12: the case text kept whatever the citizen wrote in it ("Nguyễn Văn A 0912345678")."""
    created = create(db_with_units, "k-text", person_name="Nguyễn Văn A", phone="0912345678",
                     consent=True,
                     content="Tôi là Nguyễn Văn A, sđt 0912 345 678, cống ngõ 5 tắc cả tuần",
                     location_text="nhà nguyễn văn a, ngõ 5")
    with session_scope(db_with_units) as session:
        case = session.execute(select(Case).where(Case.ref_code == created.ref_code)).scalar_one()
        session.add(CaseEvent(case_id=case.id, actor_kind="citizen", actor_id="psid-1",
                              action="citizen_message", created_at=NOW,
                              detail={"text": "gọi tôi: +84 912 345 678 nhé, Nguyễn Văn A"}))
    with session_scope(db_with_units) as session:
        anonymise_citizen(session, "facebook", "psid-1", actor=Actor.citizen("psid-1"))
    with session_scope(db_with_units) as session:
        case = session.execute(select(Case).where(Case.ref_code == created.ref_code)).scalar_one()
        texts = [case.content, case.location_text] + [
            str(e.detail) for e in session.execute(
                select(CaseEvent).where(CaseEvent.case_id == case.id)).scalars()]
        everything = " ".join(t or "" for t in texts)
        for gone in ("0912", "345 678", "912 345", "Nguyễn Văn A", "nguyễn văn a"):
            assert gone not in everything, gone
        assert "cống ngõ 5 tắc cả tuần" in case.content  # the matter stays
        assert "[số điện thoại đã xóa]" in case.content and "[họ tên đã xóa]" in case.content


def test_anonymise_citizen(db_with_units: Engine) -> None:
    personal: dict[str, Any] = {"person_name": "Trần Thị B", "phone": "0987654321", "consent": True}
    create(db_with_units, "k1", **personal)
    create(db_with_units, "k2", **personal)
    create(db_with_units, "k3", channel_user_id="psid-2", **personal)
    with session_scope(db_with_units) as session:
        changed = anonymise_citizen(session, "facebook", "psid-1", actor=Actor.citizen("psid-1"))
    assert changed == 2
    with session_scope(db_with_units) as session:
        rows = session.execute(select(Case).order_by(Case.id)).scalars().all()
        assert [(c.person_name, c.phone, c.anonymised) for c in rows] == [
            (None, None, True),
            (None, None, True),
            ("Trần Thị B", "0987654321", False),
        ]
        assert rows[0].content == draft().content  # the matter itself stays on record
        events = session.execute(
            select(CaseEvent.case_id, CaseEvent.detail).where(CaseEvent.action == "anonymised")
        ).all()
        assert sorted(e.case_id for e in events) == [rows[0].id, rows[1].id]
        assert events[0].detail["erased"] == ["person_name", "phone"]
        # Still the citizen's case: they can ask about it.
        assert get_case_status(session, rows[0].ref_code, "facebook", "psid-1") is not None
    with session_scope(db_with_units) as session:
        assert anonymise_citizen(session, "facebook", "psid-1", actor=Actor.system()) == 0


def test_anonymise_closed_older_than(db_with_units: Engine) -> None:
    personal: dict[str, Any] = {"person_name": "Lê C", "phone": "0912345678", "consent": True}
    old, recent = NOW - timedelta(days=400), NOW - timedelta(days=10)
    plan = [
        ("old-closed", CaseStatus.CLOSED, old),
        ("old-resolved", CaseStatus.RESOLVED, old),
        ("recent-closed", CaseStatus.CLOSED, recent),
        ("old-open", CaseStatus.IN_PROGRESS, old),
    ]
    for key, status, when in plan:
        created = create(db_with_units, key, now=when, **personal)
        with session_scope(db_with_units) as session:
            # Explicit updated_at: the ORM's onupdate would otherwise stamp the real clock.
            session.execute(
                update(Case).where(Case.id == created.id).values(status=status, updated_at=when)
            )
    with session_scope(db_with_units) as session:
        assert anonymise_closed_older_than(session, 365, now=NOW) == 2
    with session_scope(db_with_units) as session:
        state = dict(session.execute(select(Case.idempotency_key, Case.anonymised)).all())
        assert state == {
            "old-closed": True,
            "old-resolved": True,
            "recent-closed": False,
            "old-open": False,
        }
        actors = (
            session.execute(select(CaseEvent.actor_kind).where(CaseEvent.action == "anonymised"))
            .scalars()
            .all()
        )
        assert actors == ["system", "system"]


# --------------------------------------------------------------------------- dedupe, quarantine


def test_seen_message_dedupe(db_engine: Engine) -> None:
    with session_scope(db_engine) as session:
        assert record_seen_message(session, "facebook", "m_1") is True
        assert record_seen_message(session, "facebook", "m_1") is False
        assert record_seen_message(session, "zalo", "m_1") is True
    with session_scope(db_engine) as session:  # and after commit, from another session
        assert record_seen_message(session, "facebook", "m_1") is False
    assert count(db_engine, SeenMessage) == 2


def test_seen_message_concurrent_redelivery_wins_once(db_engine: Engine) -> None:
    def work(i: int) -> bool:
        with session_scope(db_engine) as session:
            return record_seen_message(session, "zalo", "msg-42")

    results = run_in_threads(8, work)
    assert sorted(map(str, results)) == ["False"] * 7 + ["True"]


def test_quarantine_keeps_text_as_typed(db_engine: Engine) -> None:
    typed = "Đồ <b>tồi</b> '); --  🤬"
    with session_scope(db_engine) as session:
        qid = quarantine(
            session,
            channel="zalo",
            channel_user_id="z1",
            text=typed,
            reason="profanity",
            category="abuse",
            now=NOW,
        )
    with session_scope(db_engine) as session:
        row = session.get(Quarantine, qid)
        assert row is not None
        assert (row.text, row.reason, row.category, row.created_at, row.reviewed_by) == (
            typed,
            "profanity",
            "abuse",
            NOW,
            None,
        )
