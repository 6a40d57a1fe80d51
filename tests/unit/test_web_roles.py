"""The web service's roles: ``staff`` serves people and runs no background work, ``worker`` runs
the background work and serves nothing but its operational endpoints, ``all`` does both."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import bot.notify.web as notify_web
import bot.web.handoff_monitor as monitor
from bot.settings import Settings
from bot.web.app import create_app

SAMPLE_UNITS = Path(__file__).resolve().parents[2] / "content" / "units.sample.yml"


@dataclasses.dataclass
class Background:
    workers: int = 0
    handoff_checks: int = 0


@pytest.fixture
def background(monkeypatch: pytest.MonkeyPatch) -> Background:
    seen = Background()

    async def fake_worker(*args: Any, stop_event: asyncio.Event, **kwargs: Any) -> None:
        seen.workers += 1
        await stop_event.wait()

    def fake_return_idle(engine: Any, idle: Any) -> int:
        seen.handoff_checks += 1
        return 0

    monkeypatch.setattr(notify_web, "run_worker", fake_worker)
    monkeypatch.setattr(monitor, "return_idle", fake_return_idle)
    return seen


async def _started(role: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = dataclasses.replace(
        Settings(), database_url=f"sqlite:///{tmp_path / 'feedback.db'}", var_dir=tmp_path,
        units_file=SAMPLE_UNITS, rasa_url="http://127.0.0.1:9",
    )
    client = TestClient(TestServer(create_app(settings, role=role), host="127.0.0.1"))
    await client.start_server()
    try:
        await asyncio.sleep(0.05)  # let background tasks take their first step
        yield client
    finally:
        await client.close()


PEOPLE_PAGES = ["/chat", "/staff/login", "/api/v1/cases", "/"]


async def test_worker_serves_health_but_no_console_chat_or_webhook(
    tmp_path: Path, background: Background
) -> None:
    async for client in _started("worker", tmp_path):
        assert (await client.get("/health")).status == 200
        for path in PEOPLE_PAGES:
            assert (await client.get(path, allow_redirects=False)).status == 404, path
        assert (await client.post("/telegram/webhook", json={})).status in (404, 405)
        assert background.workers == 1 and background.handoff_checks == 1


async def test_staff_serves_people_and_runs_no_background_work(
    tmp_path: Path, background: Background
) -> None:
    async for client in _started("staff", tmp_path):
        assert (await client.get("/health")).status == 200
        assert (await client.get("/chat")).status == 200
        assert (await client.get("/staff/login")).status == 200
        assert (await client.post("/telegram/webhook", json={})).status == 403  # mounted
        assert background.workers == 0 and background.handoff_checks == 0


async def test_all_does_both(tmp_path: Path, background: Background) -> None:
    async for client in _started("all", tmp_path):
        assert (await client.get("/staff/login")).status == 200
        assert background.workers == 1 and background.handoff_checks == 1


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="WEB_ROLE must be one of"):
        create_app(Settings(), role="console")


def test_role_comes_from_web_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_ROLE", "Worker")
    assert Settings().web_role == "worker"
    monkeypatch.delenv("WEB_ROLE")
    assert Settings().web_role == "all"
