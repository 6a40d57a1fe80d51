"""The Rasa server's operations endpoints (``GET /health``, ``/ready``, ``/metrics``) and logging.

Rasa 3.6 has no plug-in point for extra routes, middleware or logging set-up; what it does load
from our configuration is input channels (``credentials.yml``). :class:`OpsChannel` is such a
channel that receives no messages:

* its blueprint is mounted at the server root (Rasa joins ``/webhooks/`` with the channel's
  ``url_prefix()``, and an absolute prefix replaces it), serving ``/health``, ``/ready`` and
  ``/metrics``;
* its ``before_server_start`` listener adds app-wide request/response middleware (Sanic 21.12
  runs app middleware for every route, the other channels' webhooks and Rasa's HTTP API included;
  blueprint middleware would only see this blueprint's routes), which counts and times requests;
* it is built after Rasa configured its own logging (coloredlogs, structlog) and before the
  server starts, so it is where :func:`bot.observability.logs.configure` takes over; the
  listener runs it again because Rasa sets up Sanic's loggers in between.

``/ready`` answers 200 when the model is loaded (``agent.is_ready()``), the tracker store's
database answers ``SELECT 1`` and the lock store answers (Redis ``PING`` when Redis); otherwise
503 with the failing check. Neither endpoint is behind Rasa's ``--auth-token``; the reverse proxy
never exposes them (set ``METRICS_TOKEN`` to require a bearer token on ``/metrics``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.observability import logs
from bot.observability.metrics import RasaMetrics, exposition, request_allowed, sanic_endpoint
from bot.observability.rasa_events import rasa_metrics
from bot.observability.readiness import Check, redis_ping, run_checks, sql_ping
from bot.settings import get_settings
from bot.web.client_address import parse_trusted

__all__ = ["OpsChannel", "readiness_checks"]

logger = logging.getLogger(__name__)

#: The role name in this process's log lines.
ROLE = "rasa"


def _tracker_store_check(store: Any) -> Check | None:
    """A check of the database behind Rasa's tracker store (unwrapping its fail-safe wrapper)."""
    inner = getattr(store, "_tracker_store", store)
    engine = getattr(inner, "engine", None)
    if engine is not None:
        return lambda: sql_ping(engine)
    return None  # in-memory: nothing to reach


def _lock_store_check(store: Any) -> Check | None:
    client = getattr(store, "red", None)  # RedisMutexLockStore and Rasa's RedisLockStore
    if client is not None:
        return lambda: redis_ping(client)
    return None  # in-process lock store


def readiness_checks(agent: Any) -> dict[str, Check]:
    """The checks ``/ready`` runs for a loaded agent."""
    checks: dict[str, Check] = {}
    tracker = _tracker_store_check(agent.tracker_store)
    if tracker is not None:
        checks["tracker_store"] = tracker
    lock = _lock_store_check(agent.lock_store)
    if lock is not None:
        checks["lock_store"] = lock
    return checks


class OpsChannel(InputChannel):
    """``/metrics``, ``/ready``, request metrics and logging for the Rasa server (see above)."""

    def __init__(self, metrics: RasaMetrics | None = None, *, configure_logs: bool = True) -> None:
        self.metrics = metrics or rasa_metrics()
        self.configure_logs = configure_logs
        self.token = get_settings().metrics_token
        self.trusted = parse_trusted(get_settings().trusted_proxies)

    @classmethod
    def name(cls) -> str:
        return "ops"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> OpsChannel:
        logs.configure(ROLE)
        return cls()

    def url_prefix(self) -> str:
        return "/"  # absolute: the routes live at the root, not under /webhooks/

    # -- middleware (app-wide, added when the server starts)
    async def _request_started(self, request: Request) -> None:
        request.ctx.ops_started = time.perf_counter()

    async def _response_ready(self, request: Request, response: HTTPResponse) -> None:
        started = getattr(request.ctx, "ops_started", None)
        if started is None:
            return
        self.metrics.http.observe(sanic_endpoint(request), request.method,
                                  int(getattr(response, "status", 0) or 0),
                                  time.perf_counter() - started)

    def install(self, app: Any) -> None:
        """Add the request metrics to every route of ``app`` (idempotent)."""
        app.register_middleware(self._request_started, "request")
        app.register_middleware(self._response_ready, "response")

    # -- endpoints
    async def ready(self, request: Request) -> HTTPResponse:
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or not agent.is_ready():
            return response.json(
                {"status": "not ready", "checks": {"model": "not loaded"}}, status=503
            )
        ok, body = await run_checks(readiness_checks(agent))
        body["checks"] = {"model": "ok", **body["checks"]}
        body["model_id"] = getattr(agent, "model_id", None)
        return response.json(body, status=200 if ok else 503)

    async def metrics_endpoint(self, request: Request) -> HTTPResponse:
        if not request_allowed(request.headers, request.ip, self.token, self.trusted):
            return response.json({"error": "unauthorized"}, status=401)
        body, content_type = exposition(self.metrics.registry)
        return response.raw(body, content_type=content_type)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        ops = Blueprint("mttq_ops", __name__)

        @ops.listener("before_server_start")
        async def start(app: Any, loop: Any) -> None:
            if self.configure_logs:
                logs.configure(ROLE)  # again: Rasa set up Sanic's loggers since from_credentials
            self.install(app)

        # Plain functions: Sanic marks each handler with its blueprint's name, which a bound
        # method cannot take.
        @ops.route("/metrics", methods=["GET"], name="ops_metrics")
        async def metrics(request: Request) -> HTTPResponse:
            return await self.metrics_endpoint(request)

        @ops.route("/ready", methods=["GET"], name="ops_ready")
        async def ready(request: Request) -> HTTPResponse:
            return await self.ready(request)

        @ops.route("/health", methods=["GET"], name="ops_health")
        async def health(request: Request) -> HTTPResponse:
            """Liveness, as every other process answers it (``/status`` needs the token)."""
            return response.json({"status": "ok"})

        return ops
