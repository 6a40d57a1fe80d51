"""Metric helpers and what the Rasa process counts: bounded labels, the bearer token, the aiohttp
middleware and handler, the event broker's counting and the turn-tracking lock store."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from bot.observability import logs
from bot.observability.metrics import (
    BoundedLabel,
    HttpMetrics,
    RasaMetrics,
    aiohttp_handler,
    aiohttp_middleware,
    exposition,
    new_registry,
    token_allows,
)
from bot.observability.rasa_events import (
    CURRENT_TURN,
    MetricsEventBroker,
    TrackedInMemoryLockStore,
    Turn,
    count_event,
)
from bot.settings import ROOT


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.mark.parametrize(
    ("header", "token", "allowed"),
    [
        (None, "", True),
        ("Bearer x", "", True),
        (None, "s3cret", False),
        ("Bearer wrong", "s3cret", False),
        ("Basic s3cret", "s3cret", False),
        ("Bearer s3cret", "s3cret", True),
        ("bearer  s3cret ", "s3cret", True),
    ],
)
def test_metrics_token(header: str | None, token: str, allowed: bool) -> None:
    assert token_allows(header, token) is allowed


def test_bounded_label_caps_distinct_values_and_refuses_odd_ones() -> None:
    label = BoundedLabel(limit=2, known=["greet"])
    assert [label("greet"), label("deny"), label("affirm"), label("deny")] == [
        "greet", "deny", "other", "deny"]
    assert label("tên có dấu") == "other" and label("") == "other" and label(None) == "other"
    assert label("x" * 81) == "other"


def test_exposition_is_prometheus_text_with_process_metrics() -> None:
    registry = new_registry()
    HttpMetrics(registry).observe("/chat", "get", 200, 0.02)
    body, content_type = exposition(registry)
    text = body.decode()
    assert content_type.startswith("text/plain; version=0.0.4")
    assert 'mttq_http_requests_total{endpoint="/chat",method="GET",status="200"} 1.0' in text
    assert "mttq_http_request_duration_seconds_bucket" in text
    assert "process_resident_memory_bytes" in text


async def test_aiohttp_middleware_and_handler() -> None:
    registry = new_registry(process_metrics=False)
    http = HttpMetrics(registry)
    app = web.Application(middlewares=[aiohttp_middleware(http)])

    async def case(request: web.Request) -> web.Response:
        return web.Response(text=request.match_info["ref"])

    async def broken(request: web.Request) -> web.Response:
        raise web.HTTPForbidden()

    app.router.add_get("/cases/{ref}", case)
    app.router.add_get("/forbidden", broken)
    app.router.add_get("/metrics", aiohttp_handler(registry, token="t0ken"))
    async with TestClient(TestServer(app)) as client:
        for ref in ("KN-1", "KN-2"):
            assert (await client.get(f"/cases/{ref}")).status == 200
        assert (await client.get("/forbidden")).status == 403
        assert (await client.get("/nowhere")).status == 404
        assert (await client.get("/metrics")).status == 401
        answer = await client.get("/metrics", headers={"Authorization": "Bearer t0ken"})
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = await answer.text()
    # The route template, never the raw path (two cases, one series).
    assert 'mttq_http_requests_total{endpoint="/cases/{ref}",method="GET",status="200"} 2.0' in text
    assert 'endpoint="/forbidden",method="GET",status="403"} 1.0' in text
    assert 'endpoint="unmatched",method="GET",status="404"} 1.0' in text
    assert "KN-1" not in text


# --------------------------------------------------------------------------- the Rasa process


def user_event(intent: str, confidence: float, channel: str = "rest", **extra: Any) -> dict:
    return {
        "event": "user", "sender_id": "s", "text": "xin chao", "input_channel": channel,
        "parse_data": {"intent": {"name": intent, "confidence": confidence}}, **extra,
    }


def test_events_are_counted_by_channel_intent_confidence_and_fallback() -> None:
    metrics = RasaMetrics(new_registry(process_metrics=False))
    registry = metrics.registry
    for event in [
        user_event("greet", 0.97),
        user_event("greet", 0.91, channel="facebook"),
        user_event("nlu_fallback", 0.5, channel="zalo"),
        {"event": "action", "name": "action_clarify"},
        {"event": "action", "name": "action_default_fallback"},
        {"event": "bot", "text": "Xin chào"},
        # a staff reply delivered as an external intent: not a citizen message
        user_event("EXTERNAL_staff_reply", 1.0, metadata={"is_external": True},
                   text="EXTERNAL: EXTERNAL_staff_reply"),
    ]:
        count_event(metrics, event)
    assert sample(registry, "mttq_messages_total", channel="rest") == 1
    assert sample(registry, "mttq_messages_total", channel="facebook") == 1
    assert sample(registry, "mttq_messages_total", channel="zalo") == 1
    assert sample(registry, "mttq_intents_total", intent="greet") == 2
    assert sample(registry, "mttq_intents_total", intent="EXTERNAL_staff_reply") == 0
    assert sample(registry, "mttq_intent_confidence_bucket", intent="greet", le="0.95") == 1
    assert sample(registry, "mttq_intent_confidence_count", intent="greet") == 2
    assert sample(registry, "mttq_fallbacks_total", kind="nlu") == 1
    assert sample(registry, "mttq_fallbacks_total", kind="dialogue") == 1


def test_the_broker_never_raises() -> None:
    metrics = RasaMetrics(new_registry(process_metrics=False))
    broker = MetricsEventBroker(metrics)
    broker.publish({"event": "user", "parse_data": "not a dict"})
    broker.publish(user_event("greet", 0.9))
    assert sample(metrics.registry, "mttq_event_broker_errors_total") == 1
    assert sample(metrics.registry, "mttq_intents_total", intent="greet") == 1


async def test_a_held_lock_is_a_turn_labelled_by_its_message_channel() -> None:
    metrics = RasaMetrics(new_registry(process_metrics=False))
    store = TrackedInMemoryLockStore()
    store.metrics = metrics
    # A clock that moves only when read: the turn lasts exactly 0.25 s whatever the machine's load
    # (a real sleep can wake a hair early on the event loop's clock and made this test flaky).
    readings = iter([100.0, 100.25, 200.0, 200.0])
    store.clock = lambda: next(readings)  # type: ignore[method-assign]
    broker = MetricsEventBroker(metrics)
    seen: list[tuple[str | None, Turn | None]] = []

    async with store.lock("zalo-123"):
        seen.append((logs.current_conversation(), CURRENT_TURN.get()))
        await asyncio.sleep(0)
        broker.publish(user_event("greet", 0.9, channel="zalo"))
    async with store.lock("api-only"):  # e.g. GET /conversations/…/tracker: no message
        pass
    assert seen[0][0] == "zalo-123" and seen[0][1] is not None
    assert (logs.current_conversation(), CURRENT_TURN.get()) == (None, None)
    assert sample(metrics.registry, "mttq_turn_duration_seconds_count", channel="zalo") == 1
    assert sample(metrics.registry, "mttq_turn_duration_seconds_sum", channel="zalo") == 0.25
    total = sum(s.value for m in metrics.registry.collect() if m.name == "mttq_turn_duration_seconds"
                for s in m.samples if s.name.endswith("_count"))
    assert total == 1


async def test_turn_log_lines_carry_the_conversation_id(caplog: pytest.LogCaptureFixture) -> None:
    store = TrackedInMemoryLockStore()
    store.metrics = RasaMetrics(new_registry(process_metrics=False))
    handler = logging.Handler()
    handler.addFilter(logs.ContextFilter("rasa"))
    records: list[logging.LogRecord] = []
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("rasa.core.processor")
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="rasa.core.processor"):
            async with store.lock("fb-99"):
                logger.info("predicted next action")
    finally:
        logger.removeHandler(handler)
    assert [r.conversation_id for r in records] == ["fb-99"]  # type: ignore[attr-defined]


async def test_endpoints_file_configures_the_metrics_broker_and_tracked_lock(rasa_env) -> None:
    """Rasa only warns and goes on without a broker when the class fails to import: not here."""
    from rasa.core.brokers.broker import EventBroker
    from rasa.core.lock_store import InMemoryLockStore, LockStore
    from rasa.utils.endpoints import read_endpoint_config

    endpoints = str(ROOT / "endpoints.yml")
    broker = await EventBroker.create(read_endpoint_config(endpoints, "event_broker"))
    assert isinstance(broker, MetricsEventBroker)
    lock_store = LockStore.create(read_endpoint_config(endpoints, "lock_store"))
    assert isinstance(lock_store, TrackedInMemoryLockStore)
    assert isinstance(lock_store, InMemoryLockStore)


def test_credentials_file_names_the_ops_channel() -> None:
    import yaml

    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert "bot.observability.rasa_ops.OpsChannel" in credentials


@pytest.mark.parametrize(
    ("header", "token", "client", "allowed"),
    [
        (None, "", "127.0.0.1", True),  # no token configured: this machine only
        (None, "", "::1", True),
        (None, "", "203.0.113.7", False),  # issue 18: /metrics was open to the network
        (None, "", None, False),
        ("Bearer s3cret", "s3cret", "203.0.113.7", True),  # a scraper elsewhere, with the token
        (None, "s3cret", "127.0.0.1", False),  # with a token set, loopback needs it too
    ],
)
def test_metrics_are_for_this_machine_or_the_token(header: str | None, token: str,
                                                   client: str | None, allowed: bool) -> None:
    from bot.observability.metrics import metrics_allowed

    assert metrics_allowed(header, token, client) is allowed


async def test_the_metrics_handler_refuses_a_remote_client_without_a_token() -> None:
    from unittest.mock import MagicMock

    handler = aiohttp_handler(new_registry(process_metrics=False))
    remote = MagicMock(headers={}, remote="203.0.113.7")
    assert (await handler(remote)).status == 401
    local = MagicMock(headers={}, remote="127.0.0.1")
    assert (await handler(local)).status == 200
