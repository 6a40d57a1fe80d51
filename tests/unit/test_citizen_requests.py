"""bot.cases.citizen: each citizen request is one unit of work with plain values in and out,
and a database that cannot do it is reported as StoreUnavailable (never an SQLAlchemy error)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from bot.cases.citizen import (
    StoreUnavailable,
    erase_personal_data,
    look_up_status,
    request_person,
    submit_case,
)
from bot.cases.service import CreatedCase
from bot.settings import get_settings


def _file(user: str, unit: str = "p_lang") -> CreatedCase:
    return submit_case(
        kind="petition", content="Rác ở đầu ngõ 5 chưa được dọn", channel="web",
        channel_user_id=user, unit_code=unit, category="moi_truong", location="ngõ 5",
        consent=True, person_name="Nguyễn Văn An", phone="0912345678", moderation_marker=None,
        attachments=[], idempotency_key=f"key-{user}",
    )


def test_status_only_answers_the_filer(database: str) -> None:
    created = _file("owner")
    found = look_up_status(created.ref_code, "web", "owner")
    assert found is not None and found.view.ref_code == created.ref_code
    assert found.staff_reply is None
    assert look_up_status(created.ref_code, "web", "someone-else") is None
    assert look_up_status(None, "web", "owner") == found  # no code: the last case


def test_a_person_is_asked_of_the_named_unit_else_the_last_case_else_the_province(
    database: str,
) -> None:
    named = request_person("web", "a", [None, 3.0, "nowhere", "p_lang"], "gặp cán bộ")
    assert named.unit.code == "p_lang" and named.ref_code.startswith("HT-")
    assert request_person("web", "a", [], "gặp cán bộ") == named  # the same open handoff

    _file("b", unit="p_cau_giay")
    assert request_person("web", "b", [None, None], "gặp cán bộ").unit.code == "p_cau_giay"
    assert request_person("web", "c", [None, None], "gặp cán bộ").unit.code == "hn"


def test_a_redaction_failure_is_reported_like_a_database_one(database: str) -> None:
    _file("owner")

    def broken(sender_id: str) -> None:
        raise OperationalError("UPDATE events", {}, Exception("tracker store away"))

    with pytest.raises(StoreUnavailable, match="tracker store away"):
        erase_personal_data("web", "owner", redact_conversation=broken)
    redacted: list[str] = []
    assert erase_personal_data("web", "owner", redact_conversation=redacted.append).cases == 0
    assert redacted == ["owner"]  # the cases were erased by the first call already


def test_a_database_away_is_store_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    get_settings.cache_clear()
    try:
        with pytest.raises(StoreUnavailable):
            look_up_status(None, "web", "anyone")
    finally:
        get_settings.cache_clear()
