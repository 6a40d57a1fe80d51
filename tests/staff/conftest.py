"""Fixtures of the staff console tests: the real aiohttp app (TestServer on 127.0.0.1) over a
real database, on SQLite and PostgreSQL in turn (``db_url`` from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.engine import Engine
from staff_helpers import World, seed_case, seed_staff, settings_for

from bot.db.models import StaffRole
from bot.web.app import create_app
from tests.browser_support import browser_ready  # noqa: F401 (the browser tests' fixture)


@pytest.fixture
def world_role() -> str:
    """The staff service's role (``WEB_ROLE``) in :func:`world`: ``all`` runs the background
    workers too; a test module that runs a worker's steps itself overrides this with ``staff``,
    or the service's own worker races it for the same rows."""
    return "all"


@pytest.fixture
async def world(db_url: str, tmp_path: Path, seeded_engine: Engine,
                world_role: str) -> AsyncIterator[World]:
    server = TestServer(create_app(settings_for(db_url, tmp_path), role=world_role),
                        host="127.0.0.1")
    await server.start_server()  # migrates and syncs the units (cleanup_ctx)
    engine = seeded_engine
    staff = {
        "lan": seed_staff(engine, "lan", "p_lang", StaffRole.OFFICER, "Nguyễn Thị Lan"),
        "minh": seed_staff(engine, "minh", "p_lang", StaffRole.OFFICER, "Trần Văn Minh"),
        "hoa": seed_staff(engine, "hoa", "p_lang", StaffRole.UNIT_ADMIN, "Lê Thị Hoa"),
        "tuan": seed_staff(engine, "tuan", "p_cau_giay", StaffRole.OFFICER, "Phạm Văn Tuấn"),
        "tinh": seed_staff(engine, "tinh", "hn", StaffRole.UNIT_ADMIN, "Cán bộ thành phố"),
        "root": seed_staff(engine, "root", "hn", StaffRole.SYSTEM_ADMIN),
    }
    cases = {
        "lang": seed_case(engine),
        "cau_giay": seed_case(
            engine,
            unit="p_cau_giay",
            content="Đèn đường hỏng ở phố Trần Duy Hưng.",
            category="trat_tu_do_thi",
            channel_user_id="psid-2",
        ),
    }
    world = World(server=server, engine=engine, staff=staff, cases=cases)
    try:
        yield world
    finally:
        for client in world.clients:
            await client.close()
        await server.close()
