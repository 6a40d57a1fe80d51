"""Prometheus metrics: one registry per process, the metric sets of each process, ``/metrics``.

Why a registry per process object instead of prometheus_client's global default: tests build
several apps in one interpreter, and each web app or Sanic app must count only its own traffic.
Each process creates one :func:`new_registry` and the metric set it needs
(:class:`RasaMetrics`, :class:`ActionMetrics`, :class:`WebMetrics`, or just
:class:`HttpMetrics`), and serves it with :func:`exposition`.

Every name starts with ``mttq_``. Label values that come from outside (intent names a citizen can
type as ``/something``, action names, routes) go through :class:`BoundedLabel`, so a stream of
odd input cannot create an unbounded number of time series.

``/metrics`` answers only this machine by default (a request a local reverse proxy forwarded
from elsewhere is not this machine's, see :func:`request_allowed`); set ``METRICS_TOKEN`` to
require ``Authorization: Bearer <token>`` from every client instead.

Public API used by the other processes (the proxy reuses it for its own ``/metrics``)::

    registry = new_registry()                  # with process_* CPU/memory metrics
    http = HttpMetrics(registry)               # mttq_http_requests_total / _duration_seconds
    app.middlewares.append(aiohttp_middleware(http))
    app.router.add_get("/metrics", aiohttp_handler(registry, token=settings.metrics_token))
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from bot.web.client_address import (
    DEFAULT_TRUSTED_PROXIES,
    Network,
    client_address,
    forwarded_for,
    is_loopback,
    parse_trusted,
)

__all__ = [
    "CONFIDENCE_BUCKETS",
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "ActionMetrics",
    "BoundedLabel",
    "HttpMetrics",
    "RasaMetrics",
    "WebMetrics",
    "aiohttp_handler",
    "aiohttp_middleware",
    "exposition",
    "new_registry",
    "sanic_endpoint",
    "is_loopback",
    "metrics_allowed",
    "request_allowed",
    "token_allows",
]

#: Content type of the text exposition format (version 0.0.4).
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Seconds; from a fast webhook acknowledgement (Zalo wants one within 2 s) to a slow turn.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0)
#: Intent confidence; the fallback threshold (config.yml) sits among these.
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


def new_registry(*, process_metrics: bool = True) -> CollectorRegistry:
    """A registry of its own; with ``process_*`` (CPU seconds, resident memory, open files)."""
    registry = CollectorRegistry(auto_describe=True)
    if process_metrics:
        ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(registry), CONTENT_TYPE


def token_allows(authorization: str | None, token: str) -> bool:
    """True when no token is configured or ``authorization`` is ``Bearer <token>``."""
    if not token:
        return True
    given = (authorization or "").strip()
    if not given.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(given[7:].strip().encode(), token.encode())


def metrics_allowed(authorization: str | None, token: str, client: str | None) -> bool:
    """Who may read ``/metrics``: with ``METRICS_TOKEN`` set, a request carrying it; without
    one, only this machine (issue 18: the endpoints were open to anyone who could reach a port).
    Metrics name conversations' channels, intents and queue sizes: not for the public."""
    if token:
        return token_allows(authorization, token)
    return is_loopback(client)


def request_allowed(
    headers: Any, peer: str | None, token: str, trusted: Sequence[Network]
) -> bool:
    """:func:`metrics_allowed` for one aiohttp or Sanic request from ``peer``.

    The client is found as for login lockouts (:mod:`bot.web.client_address`): a request that a
    reverse proxy on this machine forwarded from the Internet comes *from* 127.0.0.1 but is not
    this machine's, so the proxy's ``X-Forwarded-For`` decides; from any other peer the header
    is ignored, so nobody gets in by claiming to be 127.0.0.1.
    """
    client = client_address(peer, forwarded_for(headers), trusted)
    return metrics_allowed(headers.get("Authorization"), token, client)


class BoundedLabel:
    """Keeps a label's values few and tidy: well-formed values up to ``limit`` distinct ones,
    everything else ``other``."""

    NAME = re.compile(r"^[A-Za-z0-9_.:/\-]{1,80}$")
    #: Route templates: ``/cases/{ref}`` (aiohttp), ``/conversations/<conversation_id:path>``.
    ROUTE = re.compile(r"^[A-Za-z0-9_.:/\-{}<>]{1,160}$")

    def __init__(self, limit: int = 100, other: str = "other",
                 known: Iterable[str] = (), pattern: re.Pattern[str] = NAME) -> None:
        self.limit = limit
        self.other = other
        self.pattern = pattern
        self._seen: set[str] = set(known)
        self._lock = threading.Lock()

    def __call__(self, value: Any) -> str:
        text = str(value) if value is not None else ""
        if text in self._seen:
            return text
        if not self.pattern.match(text):
            return self.other
        with self._lock:
            if len(self._seen) >= self.limit:
                return self.other
            self._seen.add(text)
        return text


class HttpMetrics:
    """Requests served, by endpoint (a route template, never a raw path), method and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "mttq_http_requests_total", "HTTP requests answered, by endpoint, method and status.",
            ["endpoint", "method", "status"], registry=registry,
        )
        self.duration = Histogram(
            "mttq_http_request_duration_seconds",
            "Time from receiving a request to having its response ready, by endpoint.",
            ["endpoint"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.endpoint = BoundedLabel(limit=80, pattern=BoundedLabel.ROUTE)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        label = self.endpoint(endpoint)
        self.requests.labels(label, method.upper(), str(status)).inc()
        self.duration.labels(label).observe(max(seconds, 0.0))


class RasaMetrics:
    """The Rasa server: citizen messages, turns, intents, fallbacks (one set per process)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.http = HttpMetrics(registry)
        self.messages = Counter(
            "mttq_messages_total",
            "Citizen messages that reached the dialogue, by input channel.",
            ["channel"], registry=registry,
        )
        self.turn_duration = Histogram(
            "mttq_turn_duration_seconds",
            "Time a conversation was held for one message: waiting for its lock, NLU, policies, "
            "actions, sending the replies and saving the tracker; by input channel.",
            ["channel"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.intents = Counter(
            "mttq_intents_total", "Citizen messages by predicted intent.",
            ["intent"], registry=registry,
        )
        self.confidence = Histogram(
            "mttq_intent_confidence", "Confidence of the predicted intent, by intent.",
            ["intent"], buckets=CONFIDENCE_BUCKETS, registry=registry,
        )
        self.fallbacks = Counter(
            "mttq_fallbacks_total",
            "Fallbacks: kind=nlu is a message below the NLU threshold (intent nlu_fallback, "
            "answered by action_clarify); kind=dialogue is action_default_fallback (no confident "
            "next action).",
            ["kind"], registry=registry,
        )
        self.broker_errors = Counter(
            "mttq_event_broker_errors_total",
            "Tracker events the metrics event broker could not read (the turn went on).",
            registry=registry,
        )
        self.channel = BoundedLabel(limit=20)
        self.intent = BoundedLabel(limit=150)
        for kind in ("nlu", "dialogue"):  # present (at 0) from the start, for rate() and alerts
            self.fallbacks.labels(kind)


class ActionMetrics:
    """The action server: action runs by name and outcome, and their duration."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.http = HttpMetrics(registry)
        self.runs = Counter(
            "mttq_action_runs_total",
            "Custom action runs, by action and outcome (ok, rejected: a form validation "
            "rejected the slot, not_found, error).",
            ["action", "outcome"], registry=registry,
        )
        self.duration = Histogram(
            "mttq_action_duration_seconds", "Time to run a custom action, by action.",
            ["action"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.action = BoundedLabel(limit=150)

    def observe(self, action: str, outcome: str, seconds: float) -> None:
        label = self.action(action)
        self.runs.labels(label, outcome).inc()
        self.duration.labels(label).observe(max(seconds, 0.0))


class WebMetrics:
    """The web service: HTTP traffic and the outbox worker's deliveries.

    Cases and outbox backlog are read from the database when scraped
    (:class:`bot.observability.web_ops.FeedbackDbCollector`), not counted here.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.http = HttpMetrics(registry)
        self.deliveries = Counter(
            "mttq_outbox_deliveries_total",
            "Outbox delivery attempts by kind and result (sent, retry, failed, undeliverable, "
            "lost: the row's lease ran out before the result was recorded).",
            ["kind", "result"], registry=registry,
        )
        self.kind = BoundedLabel(limit=30)

    def delivered(self, kind: str, state: str) -> None:
        """Count one recorded attempt; ``state`` is what ``record_result`` returned."""
        result = "retry" if state == "pending" else state
        self.deliveries.labels(self.kind(kind), result).inc()


def sanic_endpoint(request: Any) -> str:
    """A Sanic request's route template (``/webhooks/rest/webhook``), or ``unmatched``."""
    route = getattr(request, "route", None)
    if route is None:
        return "unmatched"
    return "/" + str(route.path or "")


# --------------------------------------------------------------------------- aiohttp helpers

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _endpoint(request: web.Request) -> str:
    """The route template (``/staff/cases/{ref}``), or ``unmatched`` for a 404."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is None:
        return "unmatched"
    return resource.canonical


def aiohttp_middleware(http: HttpMetrics) -> Any:
    """An aiohttp middleware counting every request into ``http`` (``/metrics`` included)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            http.observe(_endpoint(request), request.method, status,
                         time.perf_counter() - started)

    return middleware


def aiohttp_handler(
    registry: CollectorRegistry | Callable[[web.Request], CollectorRegistry],
    *,
    token: str = "",
    trusted_proxies: str = DEFAULT_TRUSTED_PROXIES,
) -> Handler:
    """A ``GET /metrics`` handler; collecting runs in a thread (a collector may query a DB).
    ``trusted_proxies`` as ``TRUSTED_PROXIES`` (see :func:`request_allowed`)."""
    import asyncio

    trusted = parse_trusted(trusted_proxies)

    async def metrics(request: web.Request) -> web.StreamResponse:
        if not request_allowed(request.headers, request.remote, token, trusted):
            return web.json_response({"error": "unauthorized"}, status=401)
        target = registry if isinstance(registry, CollectorRegistry) else registry(request)
        body, content_type = await asyncio.to_thread(exposition, target)
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    return metrics
