"""The action server's app (rasa_sdk's, plus /ready and /metrics) in a real Sanic server."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sanic import Sanic

from bot.observability import logs
from bot.observability.action_server import create_app, domain_actions
from bot.observability.metrics import ActionMetrics, new_registry
from bot.service_secrets import ACTION_SECRET_HEADER
from bot.settings import ROOT, get_settings
from tools.procs import free_port

SECRET = "action-server-test-secret"


@pytest.fixture
def feedback_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    from bot.db.runtime import dispose_all

    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        yield url
    finally:
        dispose_all()
        get_settings.cache_clear()


class Served:
    def __init__(self, url: str, metrics: ActionMetrics) -> None:
        self.url = url
        self.metrics = metrics

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


async def serve(domain_file: Path = ROOT / "domain.yml") -> tuple[Served, Any]:
    Sanic.test_mode = True  # rasa_sdk names every app "rasa_sdk"
    metrics = ActionMetrics(new_registry(process_metrics=False))
    app = create_app("actions", metrics=metrics, domain_file=domain_file, secret=SECRET)
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    await server.after_start()
    return Served(f"http://127.0.0.1:{port}", metrics), server


async def stop(server: Any) -> None:
    await server.before_stop()
    for connection in list(server.connections):  # keep-alive connections of the test client
        connection.close_if_idle()
    server.close()
    await server.wait_closed()
    await server.after_stop()


@pytest.fixture
async def actions(feedback_db: str) -> AsyncIterator[Served]:
    served, server = await serve()
    try:
        yield served
    finally:
        await stop(server)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # As Rasa calls it (endpoints.yml sends the header on every action call).
    async with aiohttp.ClientSession(headers={ACTION_SECRET_HEADER: SECRET}) as session:
        yield session


def call(action: str, sender: str, text: str = "xin chao") -> dict[str, Any]:
    return {
        "next_action": action, "sender_id": sender, "version": "3.6.21", "domain": {},
        "tracker": {"sender_id": sender, "slots": {}, "events": [], "latest_message": {
            "text": text, "intent": {"name": "nlu_fallback"}, "intent_ranking": []}},
    }


def test_domain_actions_are_read_from_the_domain() -> None:
    names = domain_actions()
    assert {"action_clarify", "action_submit_case", "validate_case_form"} <= names


async def test_ready_and_metrics(actions: Served, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{actions.url}/ready") as answer:
        assert answer.status == 200, await answer.text()
        body = await answer.json()
    assert body["checks"] == {"actions": "ok", "feedback_db": "ok"}
    assert body["actions"] == len(domain_actions())

    async with http.post(f"{actions.url}/webhook", json=call("action_clarify", "web-1")) as a:
        assert a.status == 200
    async with http.post(f"{actions.url}/webhook", json=call("action_nope", "web-2")) as a:
        assert a.status == 404
    assert actions.sample("mttq_action_runs_total", action="action_clarify", outcome="ok") == 1
    assert actions.sample("mttq_action_runs_total", action="action_nope",
                          outcome="not_found") == 1
    assert actions.sample("mttq_action_duration_seconds_count", action="action_clarify") == 1
    async with http.get(f"{actions.url}/metrics") as answer:
        text = await answer.text()
    assert 'mttq_action_runs_total{action="action_clarify",outcome="ok"} 1.0' in text
    assert 'mttq_http_requests_total{endpoint="/webhook",method="POST",status="404"} 1.0' in text


async def test_log_lines_of_an_action_call_carry_its_conversation(
    actions: Served, http: aiohttp.ClientSession
) -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.addFilter(logs.ContextFilter("actions"))
    handler.emit = records.append  # type: ignore[method-assign]
    endpoint_logger = logging.getLogger("rasa_sdk.endpoint")
    endpoint_logger.addHandler(handler)
    try:
        async with http.post(f"{actions.url}/webhook", json=call("action_nope", "zalo-77")):
            pass
        async with http.get(f"{actions.url}/actions"):
            pass
    finally:
        endpoint_logger.removeHandler(handler)
    errors = [r for r in records if "action_nope" in r.getMessage()]
    assert [r.conversation_id for r in errors] == ["zalo-77"]  # type: ignore[attr-defined]
    assert logs.current_conversation() is None


async def test_missing_action_or_database_is_not_ready(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    from bot.db.runtime import dispose_all

    domain = tmp_path / "domain.yml"
    domain.write_text("actions:\n  - action_clarify\n  - action_that_failed_to_import\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    get_settings.cache_clear()
    served, server = await serve(domain)
    try:
        started = time.monotonic()
        async with http.get(f"{served.url}/ready") as answer:
            assert answer.status == 503
            body = await answer.json()
        assert time.monotonic() - started < 10
    finally:
        await stop(server)
        dispose_all()
        get_settings.cache_clear()
    assert body["status"] == "not ready"
    assert body["checks"]["actions"] == "RuntimeError: not registered: action_that_failed_to_import"
    assert body["checks"]["feedback_db"].startswith("OperationalError")
