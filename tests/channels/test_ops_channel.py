"""The Rasa server's ops channel in a real Sanic server, mounted the way Rasa mounts channels
(``rasa.core.channels.channel.register``), beside Rasa's REST channel and our Facebook channel,
with a fake agent that does what Rasa's does around a turn: hold the conversation's lock, save
the tracker (publishing its new events), send the replies.

It proves what Sanic 21.12 does with app-level middleware added by a blueprint listener: it sees
the other channels' webhooks, not only the ops blueprint's own routes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from rasa.core.channels.channel import UserMessage, register
from rasa.core.channels.rest import RestInput
from sanic import Sanic
from sqlalchemy.engine import Engine

from bot.channels import facebook
from bot.channels.facebook import FacebookChannel
from bot.observability.metrics import RasaMetrics, new_registry
from bot.observability.rasa_events import (
    MetricsEventBroker,
    TrackedInMemoryLockStore,
    TrackedRedisMutexLockStore,
)
from bot.observability.rasa_ops import OpsChannel
from tests.channels.conftest import FB_SECRET
from tools.procs import free_port

REDIS_URL = "redis://127.0.0.1:6379/15"


@dataclass
class FakeTrackerStore:
    engine: Engine


@dataclass
class FakeAgent:
    """Rasa's agent as far as the channels and the ops endpoints see it."""

    metrics: RasaMetrics
    tracker_store: Any
    lock_store: Any = field(default_factory=TrackedInMemoryLockStore)
    ready: bool = True
    model_id: str = "test-model"

    def __post_init__(self) -> None:
        self.lock_store.metrics = self.metrics
        self.broker = MetricsEventBroker(self.metrics)

    def is_ready(self) -> bool:
        return self.ready

    async def handle_message(self, message: UserMessage) -> None:
        async with self.lock_store.lock(message.sender_id):
            intent = "greet" if "chao" in (message.text or "") else "nlu_fallback"
            self.broker.publish({
                "event": "user", "sender_id": message.sender_id, "text": message.text,
                "input_channel": message.input_channel,
                "parse_data": {"intent": {"name": intent, "confidence": 0.9}},
            })
            await message.output_channel.send_text_message(message.sender_id, "Xin chào!")


@dataclass
class RasaLikeServer:
    app: Sanic
    url: str
    server: Any
    metrics: RasaMetrics

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def rasa_like(platform_env: dict, channel_db: Engine) -> AsyncIterator[RasaLikeServer]:
    Sanic.test_mode = True
    metrics = RasaMetrics(new_registry(process_metrics=False))
    app = Sanic(f"ops_{time.time_ns()}")
    app.ctx.agent = FakeAgent(metrics, FakeTrackerStore(channel_db))
    channels = [OpsChannel(metrics, configure_logs=False), RestInput(),
                FacebookChannel.from_credentials(None)]
    register(channels, app, route="/webhooks/")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.before_start()  # Rasa's app.run does this: the ops listener adds middleware
    await server.after_start()
    try:
        yield RasaLikeServer(app, f"http://127.0.0.1:{port}", server, metrics)
    finally:
        await server.before_stop()
        for connection in list(server.connections):  # the test client's keep-alive ones
            connection.close_if_idle()
        server.close()
        await server.wait_closed()
        await server.after_stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def fb_body(sender: str, text: str) -> bytes:
    event = {"sender": {"id": sender}, "recipient": {"id": "109876543210987"},
             "timestamp": int(time.time() * 1000),
             "message": {"mid": f"m-{time.time_ns()}", "text": text}}
    return json.dumps({"object": "page", "entry": [
        {"id": "109876543210987", "time": int(time.time() * 1000), "messaging": [event]}
    ]}).encode()


async def test_middleware_sees_every_channel_and_counts_turns(
    rasa_like: RasaLikeServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{rasa_like.url}/webhooks/rest/webhook",
                         json={"sender": "web-1", "message": "xin chao"}) as answer:
        assert answer.status == 200
        assert (await answer.json())[0]["text"] == "Xin chào!"
    body = fb_body("7012345678901234", "xin chao")
    headers = {"Content-Type": "application/json",
               "X-Hub-Signature-256": facebook.sign(FB_SECRET, body)}
    async with http.post(f"{rasa_like.url}/webhooks/facebook/webhook", data=body,
                         headers=headers) as answer:
        assert answer.status == 200
    async with http.post(f"{rasa_like.url}/webhooks/facebook/webhook", data=body,
                         headers={"X-Hub-Signature-256": "sha256=forged"}) as answer:
        assert answer.status == 403
    deadline = time.monotonic() + 5
    # The webhook answers first; the turn runs after (and is timed when its lock is released).
    while rasa_like.sample("mttq_turn_duration_seconds_count", channel="facebook") < 1:
        assert time.monotonic() < deadline, "the Facebook turn never ran"
        await asyncio.sleep(0.02)

    assert rasa_like.sample("mttq_http_requests_total", endpoint="/webhooks/rest/webhook",
                            method="POST", status="200") == 1
    assert rasa_like.sample("mttq_http_requests_total", endpoint="/webhooks/facebook/webhook",
                            method="POST", status="200") == 1
    assert rasa_like.sample("mttq_http_requests_total", endpoint="/webhooks/facebook/webhook",
                            method="POST", status="403") == 1
    assert rasa_like.sample("mttq_messages_total", channel="rest") == 1
    assert rasa_like.sample("mttq_intents_total", intent="greet") == 2
    assert rasa_like.sample("mttq_turn_duration_seconds_count", channel="rest") == 1
    assert rasa_like.sample("mttq_turn_duration_seconds_count", channel="facebook") == 1

    async with http.get(f"{rasa_like.url}/metrics") as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await answer.text()
    assert 'mttq_messages_total{channel="facebook"} 1.0' in text
    assert "/webhooks/metrics" not in text  # served at the root, not under /webhooks/


async def test_ready_checks_model_tracker_store_and_lock_store(
    rasa_like: RasaLikeServer, http: aiohttp.ClientSession
) -> None:
    agent: FakeAgent = rasa_like.app.ctx.agent
    async with http.get(f"{rasa_like.url}/health") as answer:
        assert answer.status == 200 and await answer.json() == {"status": "ok"}
    async with http.get(f"{rasa_like.url}/ready") as answer:
        assert answer.status == 200
        assert await answer.json() == {
            "status": "ready", "checks": {"model": "ok", "tracker_store": "ok"},
            "model_id": "test-model"}

    agent.lock_store = TrackedRedisMutexLockStore(REDIS_URL)
    async with http.get(f"{rasa_like.url}/ready") as answer:
        body = await answer.json()
    if body["checks"]["lock_store"] != "ok":
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {body}")
    assert answer.status == 200

    agent.lock_store = TrackedRedisMutexLockStore("redis://127.0.0.1:1/0")
    async with http.get(f"{rasa_like.url}/ready") as answer:
        assert answer.status == 503
        body = await answer.json()
    assert body["status"] == "not ready"
    assert body["checks"]["tracker_store"] == "ok"
    assert body["checks"]["lock_store"].startswith("ConnectionError")

    agent.ready = False
    async with http.get(f"{rasa_like.url}/ready") as answer:
        assert answer.status == 503
        assert (await answer.json())["checks"] == {"model": "not loaded"}


async def test_broken_tracker_database_is_not_ready(
    rasa_like: RasaLikeServer, http: aiohttp.ClientSession
) -> None:
    from sqlalchemy import create_engine

    broken = create_engine("postgresql://nobody@127.0.0.1:1/none",
                           connect_args={"connect_timeout": 2})
    rasa_like.app.ctx.agent.tracker_store = FakeTrackerStore(broken)
    async with http.get(f"{rasa_like.url}/ready") as answer:
        assert answer.status == 503
        body = await answer.json()
    assert body["checks"]["tracker_store"].startswith("OperationalError")
    assert "nobody" not in json.dumps(body)  # no connection string in the answer


async def test_metrics_token_is_required_when_set(
    rasa_like: RasaLikeServer, http: aiohttp.ClientSession
) -> None:
    ops = next(c for c in rasa_like.app.ctx.input_channels if isinstance(c, OpsChannel))
    ops.token = "s3cret"
    async with http.get(f"{rasa_like.url}/metrics") as answer:
        assert answer.status == 401
    async with http.get(f"{rasa_like.url}/metrics",
                        headers={"Authorization": "Bearer s3cret"}) as answer:
        assert answer.status == 200
