"""Helpers of the staff console tests (see conftest.py for the fixtures).

``World`` is what the ``world`` fixture yields: the whole web service (``create_app``) started on
``db_url``, which migrates the database and syncs the sample unit tree on start-up, with staff
accounts of two wards and the province and one case in each ward.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cases.service import CaseDraft, create_case
from bot.db.engine import session_scope
from bot.db.models import CaseKind, Outbox, StaffRole
from bot.settings import Settings
from bot.staff import accounts

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_UNITS = ROOT / "content" / "units.sample.yml"
PASSWORD = "mat-khau-thu-nghiem-1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')

_keys = itertools.count(1)


def seed_case(
    engine: Engine,
    *,
    unit: str = "p_lang",
    content: str = "Rác thải ùn ứ ở đầu ngõ 5 phố Láng Hạ.",
    category: str | None = "moi_truong",
    channel: str = "facebook",
    channel_user_id: str = "psid-1",
    sla_due_at: datetime | None = None,
    now: datetime | None = None,
    kind: CaseKind = CaseKind.PETITION,
) -> tuple[int, str]:
    """Create a case as the bot would; returns (id, ref_code)."""
    with session_scope(engine) as session:
        created = create_case(
            session,
            CaseDraft(
                kind=kind,
                content=content,
                channel=channel,
                channel_user_id=channel_user_id,
                unit_code=unit,
                category=category,
                location_text="ngõ 5 phố Láng Hạ",
                conversation_id=f"conv-{channel_user_id}",
                sla_due_at=sla_due_at,
            ),
            idempotency_key=f"test-{next(_keys)}",
            now=now,
        )
    return created.id, created.ref_code


def seed_staff(
    engine: Engine, login: str, unit: str, role: StaffRole, name: str | None = None
) -> int:
    with session_scope(engine) as session:
        staff = accounts.create_staff(
            session, login=login, unit_code=unit, role=role, password=PASSWORD, display_name=name
        )
        return int(staff.id)


def outbox_rows(engine: Engine, case_id: int, kind: str | None = None) -> list[Outbox]:
    with session_scope(engine) as session:
        stmt = select(Outbox).where(Outbox.case_id == case_id).order_by(Outbox.id)
        if kind is not None:
            stmt = stmt.where(Outbox.kind == kind)
        return list(session.execute(stmt).scalars())


@dataclass
class World:
    server: TestServer
    engine: Engine
    staff: dict[str, int]
    cases: dict[str, tuple[int, str]]
    clients: list[TestClient] = field(default_factory=list)

    async def client(self) -> TestClient:
        """A new browser-like client (own cookie jar) on the running server."""
        client = TestClient(self.server)
        await client.start_server()
        self.clients.append(client)
        return client

    async def logged_in(self, login: str, password: str = PASSWORD) -> TestClient:
        client = await self.client()
        response = await login_as(client, login, password)
        assert response.status == 303, await response.text()
        return client


async def login_as(client: TestClient, login: str, password: str) -> ClientResponse:
    page = await client.get("/staff/login")
    token = csrf_from(await page.text())
    return await client.post(
        "/staff/login",
        data={"csrf_token": token, "login": login, "password": password},
        allow_redirects=False,
    )


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match is not None, "no CSRF field on the page"
    return match.group(1)


async def csrf_of(client: TestClient, path: str = "/staff/cases") -> str:
    response = await client.get(path)
    assert response.status == 200
    return csrf_from(await response.text())


def settings_for(db_url: str, tmp_path: Path) -> Settings:
    return dataclasses.replace(
        Settings(),
        database_url=db_url,
        units_file=SAMPLE_UNITS,
        var_dir=tmp_path,
        rasa_url="http://127.0.0.1:9",
    )


def form(token: str, **values: Any) -> dict[str, Any]:
    return {"csrf_token": token, **values}


def seed_outcome(engine: Engine, case_id: int, staff_id: int, *,
                 now: datetime | None = None) -> int:
    """Record what was done, so staff may resolve or close the case (issue 17 item 5)."""
    from datetime import timezone

    from bot.cases.outcome import record_outcome
    from bot.cases.service import Actor

    moment = now or datetime.now(timezone.utc)
    with session_scope(engine) as session:
        return record_outcome(session, case_id, action_text="Đã thu gom rác, vệ sinh đầu ngõ.",
                              done_by="Tổ dân phố số 5", done_on=moment.date(),
                              actor=Actor.staff(staff_id), now=moment)
