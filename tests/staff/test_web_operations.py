"""The web service's /health, /ready and /metrics on SQLite and PostgreSQL: cases and the outbox
backlog read from the DB at scrape time, HTTP traffic by route, a broken DB."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import create_engine, update
from staff_helpers import World

from bot.db.engine import session_scope
from bot.db.models import Outbox
from bot.db.types import utcnow
from bot.delivery.senders import OutboxRow
from bot.observability.web_ops import ENGINE_SOURCE, WEB_METRICS, delivery_observer
from bot.web.app import create_app
from bot.web.keys import SETTINGS


def value(text: str, series: str) -> float | None:
    """The value of one exact series line (``name{labels}``) in an exposition."""
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


async def scrape(world: World) -> str:
    client = await world.client()
    answer = await client.get("/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return await answer.text()


async def test_health_and_ready(world: World) -> None:
    client = await world.client()
    assert (await client.get("/health")).status == 200
    answer = await client.get("/ready")
    assert answer.status == 200
    assert await answer.json() == {"status": "ready", "checks": {"feedback_db": "ok"}}


async def test_ready_is_503_when_the_database_is_unreachable(world: World) -> None:
    broken = create_engine("postgresql://nobody@127.0.0.1:1/none",
                           connect_args={"connect_timeout": 2})
    app = world.server.app
    app[ENGINE_SOURCE] = lambda: broken
    client = await world.client()
    answer = await client.get("/ready")
    assert answer.status == 503
    body = await answer.json()
    assert body["status"] == "not ready"
    assert body["checks"]["feedback_db"].startswith("OperationalError")
    assert (await client.get("/health")).status == 200  # liveness is not readiness
    text = await scrape(world)
    assert value(text, "mttq_feedback_db_up") == 0.0
    assert "mttq_cases{" not in text


async def test_metrics_read_cases_and_the_outbox_backlog(world: World) -> None:
    # One case per ward from the fixture, each with its pending staff notification.
    with session_scope(world.engine) as session:
        session.execute(update(Outbox).where(Outbox.case_id == world.cases["lang"][0])
                        .values(created_at=utcnow() - timedelta(minutes=10)))
    text = await scrape(world)
    assert value(text, "mttq_feedback_db_up") == 1.0
    assert value(text, 'mttq_cases{kind="petition",status="new",unit="p_lang"}') == 1.0
    assert value(text, 'mttq_cases{kind="petition",status="new",unit="p_cau_giay"}') == 1.0
    assert value(text, 'mttq_outbox_rows{kind="staff_notify",status="pending"}') == 2.0
    lag = value(text, 'mttq_outbox_lag_seconds{kind="staff_notify"}')
    assert lag is not None and 600 <= lag < 700


async def test_http_requests_are_counted_by_route(world: World) -> None:
    client = await world.client()
    for _ in range(2):
        assert (await client.get("/chat")).status == 200
    assert (await client.get("/no-such-page")).status == 404
    text = await scrape(world)
    assert value(text, 'mttq_http_requests_total{endpoint="/chat",method="GET",status="200"}'
                 ) == 2.0
    assert value(text, 'mttq_http_requests_total{endpoint="unmatched",method="GET",'
                       'status="404"}') == 1.0


async def test_outbox_results_are_counted(world: World) -> None:
    observe = delivery_observer(world.server.app)
    row = OutboxRow(id=1, kind="citizen_reply", case_id=None, target="web:x")
    observe(row, "sent")
    observe(row, "pending")
    observe(row, "undeliverable")
    registry = world.server.app[WEB_METRICS].registry
    for result in ("sent", "retry", "undeliverable"):
        assert registry.get_sample_value(
            "mttq_outbox_deliveries_total", {"kind": "citizen_reply", "result": result}) == 1.0


async def test_metrics_token(world: World) -> None:
    settings = dataclasses.replace(world.server.app[SETTINGS], metrics_token="s3cret")
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        assert (await client.get("/metrics")).status == 401
        ok = await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert ok.status == 200
        assert (await client.get("/ready")).status == 200  # readiness stays open
