"""Recording a case's legal type (issue 17): the column, the event, staff changing it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cases.casework import CaseworkError
from bot.cases.legal_type_record import LEGAL_TYPE_EVENT, set_legal_type
from bot.cases.service import Actor, CaseDraft, create_case
from bot.db.engine import session_scope
from bot.db.models import Case, CaseEvent, CaseKind

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc)


def _case(engine: Engine) -> int:
    draft = CaseDraft(kind=CaseKind.PETITION, content="Trưởng thôn thu tiền làm đường rồi không làm.",
                      channel="web", channel_user_id="u-1", unit_code="p_lang")
    with session_scope(engine) as session:
        return int(create_case(session, draft, idempotency_key="k-1", now=NOW).id)


def _events(engine: Engine, case_id: int) -> list[tuple[str, str | None, dict]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id,
                                    CaseEvent.action == LEGAL_TYPE_EVENT).order_by(CaseEvent.id)
        ).scalars()
        return [(str(e.actor_kind.value if hasattr(e.actor_kind, "value") else e.actor_kind),
                 e.actor_id, dict(e.detail)) for e in rows]


def test_classifier_then_staff_change_are_both_recorded(db_with_units: Engine) -> None:
    case_id = _case(db_with_units)
    with session_scope(db_with_units) as session:
        assert set_legal_type(session, case_id, "phan_anh", Actor.system(), confidence=0.61234,
                              now=NOW)
    with session_scope(db_with_units) as session:
        assert set_legal_type(session, case_id, "to_cao", Actor.staff(7), now=NOW)
        assert not set_legal_type(session, case_id, "to_cao", Actor.staff(7), now=NOW)
    with session_scope(db_with_units) as session:
        assert session.get(Case, case_id).legal_type == "to_cao"
    assert _events(db_with_units, case_id) == [
        ("system", None, {"from": None, "to": "phan_anh", "source": "classifier",
                          "confidence": 0.6123}),
        ("staff", "7", {"from": "phan_anh", "to": "to_cao", "source": "staff"}),
    ]


def test_unknown_type_or_case_is_refused(db_with_units: Engine) -> None:
    case_id = _case(db_with_units)
    with session_scope(db_with_units) as session:
        with pytest.raises(CaseworkError, match="Loại vụ việc"):
            set_legal_type(session, case_id, "gop_y", Actor.staff(1))
        with pytest.raises(CaseworkError, match="Không tìm thấy"):
            set_legal_type(session, case_id + 99, "to_cao", Actor.staff(1))


def test_a_likely_to_cao_guessed_otherwise_stays_protected_until_someone_sets_the_type(
    db_with_units: Engine,
) -> None:
    from bot.cases.identity import identity_protected

    case_id = _case(db_with_units)
    with session_scope(db_with_units) as session:
        assert set_legal_type(session, case_id, "phan_anh", Actor.system(), confidence=0.55,
                              protect_identity=True, now=NOW)
    with session_scope(db_with_units) as session:
        assert identity_protected(session.get(Case, case_id))
    assert _events(db_with_units, case_id)[-1][2]["protect_identity"] is True
    # Staff decide it is a kiến nghị: an ordinary sender from then on.
    with session_scope(db_with_units) as session:
        assert set_legal_type(session, case_id, "kien_nghi", Actor.staff(3), now=NOW)
    with session_scope(db_with_units) as session:
        assert not identity_protected(session.get(Case, case_id))
    # ... and a staff tố cáo protects whatever the classifier said.
    with session_scope(db_with_units) as session:
        assert set_legal_type(session, case_id, "to_cao", Actor.staff(3), now=NOW)
        assert identity_protected(session.get(Case, case_id))


def test_the_flag_is_only_the_classifiers_and_only_for_other_types(db_with_units: Engine) -> None:
    from bot.cases.identity import identity_protected

    case_id = _case(db_with_units)
    with session_scope(db_with_units) as session:
        assert set_legal_type(session, case_id, "phan_anh", Actor.system(), confidence=0.9,
                              now=NOW)
    with session_scope(db_with_units) as session:
        assert not identity_protected(session.get(Case, case_id))
    with session_scope(db_with_units) as session:
        assert set_legal_type(session, case_id, "khieu_nai", Actor.staff(2),
                              protect_identity=True, now=NOW)
    with session_scope(db_with_units) as session:
        assert not identity_protected(session.get(Case, case_id))
    assert "protect_identity" not in _events(db_with_units, case_id)[-1][2]
