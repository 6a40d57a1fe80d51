"""The digest (issue 15 item 2) over a real database, SQLite and PostgreSQL: counts by category and
ward against the baseline, rising topics and clusters with masked quotes (never from a tố cáo),
overdue and unanswered cases, response and resolution times, ratings, assistant questions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.cases.digest import Period, Timing, build_digest, subtree
from bot.cases.linking import link_case
from bot.cases.masking import NAME_MASK, PHONE_MASK, mask_identity
from bot.cases.questions import forget_older_than, question_stats, record_question
from bot.db.engine import session_scope
from bot.db.models import (
    ActorKind,
    AssistantQuestion,
    Case,
    CaseEvent,
    CaseKind,
    CaseStatus,
    QuestionKind,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)  # Monday 08:00 local
_refs = count(1)


def _case(
    session: Session,
    text: str,
    *,
    days_ago: float,
    unit: str = "p_lang",
    category: str = "ha_tang",
    status: CaseStatus = CaseStatus.NEW,
    legal_type: str | None = None,
    person_name: str | None = None,
    sla_due_at: datetime | None = None,
) -> Case:
    case = Case(
        ref_code=f"KN-DG-{next(_refs):05d}",
        kind=CaseKind.PETITION,
        category=category,
        content=text,
        unit_code=unit,
        channel="web",
        channel_user_id="u",
        status=status,
        legal_type=legal_type,
        person_name=person_name,
        sla_due_at=sla_due_at,
        created_at=NOW - timedelta(days=days_ago),
    )
    session.add(case)
    session.flush()
    link_case(session, case)
    return case


def _event(session: Session, case: Case, action: str, detail: dict, after: timedelta) -> None:
    """An event as casework appends it (the first response also stamps the case)."""
    if action == "first_response":
        case.first_response_at = case.created_at + after
    session.add(
        CaseEvent(
            case_id=case.id,
            actor_kind=ActorKind.STAFF,
            actor_id="1",
            action=action,
            detail=detail,
            created_at=case.created_at + after,
        )
    )


def test_masking_removes_phones_and_names() -> None:
    text = "Tôi là Nguyễn Văn An, ĐT 0912 345 678. Ông Trần Đức ở ngõ 5 bị ngập, chị Hoa cũng thấy"
    masked = mask_identity(text)
    for gone in ("Nguyễn", "0912", "Trần Đức", "Hoa"):
        assert gone not in masked
    assert PHONE_MASK in masked and NAME_MASK in masked and "ngõ 5 bị ngập" in masked
    assert "Lê Thị Hà" not in mask_identity("Lê Thị Hà báo đèn hỏng", "lê thị hà")
    assert mask_identity("Cống phố Nguyễn Chí Thanh tắc") == "Cống phố Nguyễn Chí Thanh tắc"
    assert mask_identity("chi Hoa o ngo 5") == f"chi {NAME_MASK} o ngo 5"  # typed without marks
    # strict (words kept with no case around them): every run of capitalised words goes too
    bare = "được Nguyễn Văn An giúp ở đường Láng Hạ"
    assert mask_identity(bare) == bare
    assert mask_identity(bare, strict=True) == f"được {NAME_MASK} giúp ở đường {NAME_MASK}"
    assert (
        mask_identity("ten em la hoa sdt 0987654321") == f"ten em la {NAME_MASK} sdt {PHONE_MASK}"
    )


def test_period_defaults_to_the_last_seven_days_against_four_weeks() -> None:
    period = Period.last(NOW, TZ)
    assert period.last_day.isoformat() == "2026-11-29"
    assert period.first_day.isoformat() == "2026-11-23"
    assert period.end - period.start == timedelta(days=7)
    assert period.start - period.baseline_start == timedelta(days=28)
    assert Period.last(NOW, TZ, days=5).days == 7  # only the offered lengths
    assert Timing.of([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]) == Timing(50.0, 90.0, 10)


def test_digest_of_a_unit_and_its_wards(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        flood = []
        for i in range(5):  # this week: the same flooded alley, five times
            flood.append(
                _case(
                    session,
                    f"Ngõ 5 phố Láng Hạ cứ mưa là ngập, nước tràn vào nhà (lần {i}). "
                    "Tôi là Phạm Thị Mai, số 0912345678",
                    days_ago=1 + i * 0.5,
                    person_name="Phạm Thị Mai",
                )
            )
        secret = _case(
            session,
            "Tố cáo ông Nguyễn Văn Cường ở ngõ 5 Láng Hạ lấn chiếm, cứ mưa là ngập",
            days_ago=1.2,
            legal_type="to_cao",
            category="ha_tang",
        )
        for i in range(4):  # the four weeks before: rubbish, once a week
            _case(
                session,
                f"Rác thải ùn ứ đầu ngõ {20 + i} Láng Hạ",
                days_ago=9 + 7 * i,
                category="moi_truong",
            )
        _case(
            session,
            "Đèn đường phố Trần Duy Hưng hỏng",
            days_ago=2,
            unit="p_cau_giay",
            category="trat_tu_do_thi",
        )
        _case(session, "Cũ quá rồi", days_ago=60)  # before the baseline
        late = _case(
            session,
            "Hố ga ngõ 40 Láng Hạ mất nắp",
            days_ago=20,
            sla_due_at=NOW - timedelta(days=3),
            status=CaseStatus.IN_PROGRESS,
        )
        _event(session, flood[0], "first_response", {"seconds": 3600}, timedelta(hours=1))
        _event(session, flood[1], "first_response", {"seconds": 7200}, timedelta(hours=2))
        _event(session, late, "first_response", {"seconds": 60}, timedelta(minutes=1))
        _event(
            session,
            flood[0],
            "status_changed",
            {"from": "new", "to": "resolved"},
            timedelta(hours=10),
        )
        _event(session, flood[0], "rated", {"rating": 2}, timedelta(hours=11))
        _event(session, flood[0], "rated", {"rating": 4}, timedelta(hours=12))
        record_question(
            session,
            QuestionKind.ANSWERED,
            unit_code="p_lang",
            programme="quy_vi_nguoi_ngheo",
            aspect="dieu_kien",
            text="ai được nhận",
            now=NOW - timedelta(days=2),
        )
        record_question(
            session,
            QuestionKind.UNANSWERED,
            unit_code=None,
            programme="quy_vi_nguoi_ngheo",
            now=NOW - timedelta(days=2),
            text="tôi là Lê Văn Tám 0987654321 quỹ năm nay được bao nhiêu tiền",
        )
        record_question(
            session,
            QuestionKind.NOT_UNDERSTOOD,
            unit_code="p_cau_giay",
            text="abc xyz",
            now=NOW - timedelta(days=3),
        )
        flood_ids = {c.id for c in flood}
        secret_id = secret.id

    with session_scope(db_with_units) as session:
        assert set(subtree(session, "hn")) >= {"hn", "p_lang", "p_cau_giay"}
        digest = build_digest(session, "hn", tz=TZ, now=NOW)
        assert digest.total.current == 7 and digest.total.baseline == 5 / 4
        by_cat = {c.key: c for c in digest.by_category}
        assert by_cat["ha_tang"].current == 6 and by_cat["moi_truong"].baseline == 1.0
        by_unit = {c.key: c for c in digest.by_unit}
        assert by_unit["p_lang"].current == 6 and by_unit["p_cau_giay"].current == 1

        [top, *_] = digest.rising_topics
        assert top.key == "flood" and top.current == 6 and top.baseline == 0
        cluster = next(iter(flood_ids & {top.cluster_id}))
        assert top.cluster_size >= 5 and cluster in flood_ids
        quoted = " ".join(q.text for q in top.quotes)
        assert top.quotes and all(q.case_id in flood_ids for q in top.quotes)
        assert "Phạm Thị Mai" not in quoted and "0912345678" not in quoted
        every_quote = [q for t in digest.rising_topics for q in t.quotes] + [
            c.quote for c in digest.growing_clusters if c.quote
        ]
        assert secret_id not in {q.case_id for q in every_quote}
        assert "Cường" not in " ".join(q.text for q in every_quote)
        assert digest.growing_clusters[0].new >= 5
        assert any("ngap" in t.key for t in digest.rising_terms)

        assert digest.overdue_count == 1 and digest.overdue[0].id == late.id
        # 3 flood, the tố cáo, 4 rubbish, the street light, the 60-day-old one: all open, none acted on
        assert digest.unanswered_count == 10
        assert digest.oldest_unanswered[0].created_at <= digest.oldest_unanswered[-1].created_at
        assert digest.first_response == Timing(3600.0, 7200.0, 2)  # the late one answered before
        assert digest.resolution.count == 1 and digest.resolution.median == 10 * 3600
        assert digest.ratings == {4: 1} and digest.rating_average == 4.0

        questions = digest.questions
        assert questions is not None
        assert sorted(questions.asked, key=str) == [
            ("quy_vi_nguoi_ngheo", "dieu_kien", 1),
            ("quy_vi_nguoi_ngheo", None, 1),
        ]
        unanswered = {
            programme: (text, times) for text, programme, _, times in questions.unanswered
        }
        assert unanswered[None] == ("abc xyz", 1)  # a message the NLU did not understand
        text, times = unanswered["quy_vi_nguoi_ngheo"]
        assert times == 1
        assert "Lê Văn Tám" not in text and "0987654321" not in text and "bao nhiêu tiền" in text
        assert questions.not_understood == 1

        ward = build_digest(session, "p_cau_giay", tz=TZ, now=NOW)
        assert ward.units == ("p_cau_giay",) and ward.total.current == 1
        assert ward.rising_topics == [] and ward.overdue_count == 0

    with session_scope(db_with_units) as session:
        answered = session.query(AssistantQuestion).filter_by(kind="answered").one()
        assert answered.text is None  # words are kept only for what was not answered
        assert forget_older_than(session, days=1, now=NOW) == 3
        assert question_stats(session, None, NOW - timedelta(days=9), NOW).asked == []


def test_the_first_staff_action_stamps_the_case(db_with_units: Engine) -> None:
    """The digest's "unanswered" reads ``cases.first_response_at``: casework sets it with the
    ``first_response`` event, once."""
    from bot.cases.casework import add_note
    from bot.cases.service import Actor

    with session_scope(db_with_units) as session:
        case = _case(session, "Đèn đường ngõ 3 Láng Hạ hỏng", days_ago=1)
        assert case.first_response_at is None
        add_note(session, case.id, "Đã gọi điện lực", actor=Actor.citizen("u"), now=NOW)
        assert case.first_response_at is None  # a citizen is not a response
        add_note(session, case.id, "Đã báo đội điện", actor=Actor.staff(1), now=NOW)
        assert case.first_response_at == NOW
        add_note(session, case.id, "Đã sửa", actor=Actor.staff(1), now=NOW + timedelta(hours=2))
        assert case.first_response_at == NOW
        assert build_digest(session, "p_lang", tz=TZ, now=NOW).unanswered_count == 0


def test_revision_0011_fills_what_the_digest_reads_for_existing_cases(db_url: str) -> None:
    """A database from before the digest: its signed cases get their topic terms and its
    answered cases their first response time."""
    from sqlalchemy import text

    from bot.db.engine import make_engine
    from bot.db.migrate import upgrade_to, upgrade_to_head

    upgrade_to(db_url, "0008")
    engine = make_engine(db_url)
    sig = '{"v": 1, "concepts": ["flood"], "terms": {"ngap": 0.5, "nuoc_ngap": 0.5, "#flood": 1}}'
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO units (code, name, level, active) VALUES ('hn', 'HN', 'province', true)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO cases (id, ref_code, kind, content, unit_code, channel,"
                    " channel_user_id, consent, status, anonymised, signature, created_at, updated_at)"
                    " VALUES (1, 'KN-1', 'petition', 'ngập', 'hn', 'web', 'u1', false, 'new', false,"
                    " :sig, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
                ),
                {"sig": sig},
            )
            connection.execute(
                text(
                    "INSERT INTO case_events (case_id, actor_kind, action, created_at) VALUES"
                    " (1, 'staff', 'first_response', '2026-11-01 02:00:00')"
                )
            )
        upgrade_to_head(db_url)
        with session_scope(engine) as session:
            case = session.get(Case, 1)
            assert case.topic_terms == ["#flood", "nuoc_ngap"]
            assert case.first_response_at == datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
    finally:
        engine.dispose()
