"""`./mttq retention`: finished cases older than the period lose name and phone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from bot.cases.service import CaseDraft, create_case
from bot.db.engine import session_scope
from bot.db.models import Case, CaseStatus
from bot.db.runtime import dispose_all, get_engine
from bot.settings import get_settings
from tools.cli import main


def test_retention_command_anonymises_only_old_finished_cases(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    dispose_all()
    try:
        engine = get_engine(db_url)
        ids = []
        for key, status in (("old-closed", CaseStatus.CLOSED), ("old-open", CaseStatus.IN_PROGRESS)):
            with session_scope(engine) as session:
                created = create_case(session, CaseDraft(
                    kind="petition", content="rác", channel="web", channel_user_id=key,
                    unit_code="p_lang", person_name="Nguyễn Văn An", phone="0912345678",
                    consent=True), idempotency_key=key)
                ids.append(created.id)
            with session_scope(engine) as session:
                session.execute(update(Case).where(Case.id == created.id).values(
                    status=status, updated_at=datetime.now(timezone.utc) - timedelta(days=400)))
        assert main(["retention", "--days", "365"]) == 0
        assert "Anonymised 1 finished case(s)" in capsys.readouterr().out
        with session_scope(engine) as session:
            rows = {c.id: c for c in session.execute(select(Case)).scalars()}
            assert (rows[ids[0]].phone, rows[ids[0]].anonymised) == (None, True)
            assert rows[ids[1]].phone == "0912345678"
    finally:
        dispose_all()
        get_settings.cache_clear()
