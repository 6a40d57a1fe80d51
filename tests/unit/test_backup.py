"""Backup and restore of the feedback DB, on both backends and across them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cases.service import CaseDraft, create_case
from bot.db.backup import BackupError, backup, restore
from bot.db.engine import make_engine, session_scope
from bot.db.migrate import upgrade_to_head
from bot.db.models import Case, CaseEvent, Outbox


def _fill(engine) -> list[str]:  # type: ignore[no-untyped-def]
    refs = []
    for i, content in enumerate(["<b>rác</b> 🗑️ ngõ 5", "'; DROP TABLE cases; --", "Đèn hỏng\n2 dòng"]):
        with session_scope(engine) as session:
            created = create_case(session, CaseDraft(
                kind="petition", content=content, channel="web", channel_user_id=f"u{i}",
                unit_code="p_lang", person_name="Nguyễn Văn An", phone="0912345678",
                consent=True), idempotency_key=f"k{i}")
            refs.append(created.ref_code)
    return refs


def test_backup_then_restore_into_an_empty_database(
    db_with_units, db_url: str, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    refs = _fill(db_with_units)
    file = tmp_path / "feedback.backup.gz"
    report = backup(db_with_units, file)
    assert report.rows["cases"] == 3 and report.rows["units"] > 10

    target_url = f"sqlite:///{tmp_path / 'restored.db'}"
    target = make_engine(target_url)
    try:
        restored = restore(target, file)
        assert restored.rows == report.rows
        with session_scope(target) as session:
            cases = session.execute(select(Case).order_by(Case.id)).scalars().all()
            assert [c.ref_code for c in cases] == refs
            assert cases[0].content == "<b>rác</b> 🗑️ ngõ 5"
            assert cases[2].content == "Đèn hỏng\n2 dòng"
            assert session.execute(select(func.count()).select_from(CaseEvent)).scalar_one() == 3
            assert session.execute(select(func.count()).select_from(Outbox)).scalar_one() == 3
        with session_scope(target) as session:  # new cases continue after the restored ones
            created = create_case(session, CaseDraft(
                kind="petition", content="mới", channel="web", channel_user_id="n",
                unit_code="p_lang"), idempotency_key="new")
            assert created.ref_code not in refs
        with pytest.raises(BackupError, match="not empty"):
            restore(target, file)
    finally:
        target.dispose()


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    import gzip

    bad = tmp_path / "x.gz"
    with gzip.open(bad, "wt") as out:
        out.write('{"format": "something-else"}\n')
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade_to_head(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(BackupError, match="not a feedback backup"):
            restore(engine, bad)
    finally:
        engine.dispose()
