"""The reverse proxy as an aiohttp app: forwarding, health checks, and its own endpoints.

Forwarding keeps what the upstream must see byte for byte: the method, the raw path and query
string, every end-to-end header (channel signatures such as ``X-Hub-Signature-256`` and
``X-ZEvent-Signature`` are computed over the raw body, which is passed on untouched), and the
body. Hop-by-hop headers are dropped and ``X-Forwarded-For`` / ``-Proto`` / ``-Host`` added.
Request bodies are read whole (they are small webhook payloads, and a request that could not be
delivered is replayed on the next upstream); responses are streamed as they arrive, never
decompressed or re-encoded.

Failures: a request that could not be written to an upstream (connection refused or reset
before the headers went out) is retried on the next healthy upstream — that upstream never saw
it. A timeout or error after that is not retried, since the upstream may have acted on it: the
client gets ``502`` with a JSON body. No healthy upstream at all: ``502`` too.

Own endpoints (GET only; every other method on these paths is forwarded): ``/health`` (the
proxy is alive), ``/ready`` (at least one upstream is healthy, with the state of each), and
``/metrics`` (Prometheus text format).

Public paths (``ProxyOptions.public_paths``, ``--public-path``): a proxy that faces the network
forwards only these exact paths (any query string), and answers ``404`` to everything else,
``/metrics`` included; only ``/health`` and ``/ready`` (no citizen data) stay. The profile's
public Rasa proxy lets through the channels' webhooks and nothing of Rasa's HTTP API. The path
is compared as the client sent it (undecoded, before the ``?``), which is also what the
upstream receives, so ``%2F``, ``..`` or a doubled slash cannot smuggle another route past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiMapping
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from yarl import URL

from bot.proxy.balancer import Balancer, Upstream, affinity_key

logger = logging.getLogger(__name__)

#: RFC 9110 §7.6.1 hop-by-hop headers (plus the non-standard Proxy-Connection), never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: Request headers the proxy sets itself (the client library computes Host and Content-Length).
_REQUEST_ONLY = frozenset({"host", "content-length", "expect"})
#: Headers aiohttp's client would add when absent; a faithful proxy adds none of them.
_NO_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


@dataclass(frozen=True)
class ProxyOptions:
    health_path: str = "/health"
    #: Seconds between active health checks, and how long one check may take (a replica busy
    #: with a burst answers late; that is not a failure).
    health_interval: float = 1.0
    health_timeout: float = 5.0
    #: Consecutive failed checks that take a healthy upstream out (a refused connection: one).
    fall: int = 3
    connect_timeout: float = 2.0
    #: Longest silence while waiting for an upstream's answer (a Rasa turn runs actions).
    read_timeout: float = 300.0
    max_body: int = 64 * 1024 * 1024
    #: Shorter than the upstreams' own keep-alive (Sanic: 5 s), so the proxy never writes a
    #: request into a pooled connection the upstream is closing.
    keepalive_timeout: float = 2.0
    name: str = "proxy"
    #: Empty: forward every path. Otherwise the only paths forwarded (see the module docstring).
    public_paths: frozenset[str] = frozenset()


@dataclass
class ProxyMetrics:
    """The proxy's own Prometheus registry (one per app, so tests can build several apps)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "mttq_proxy_requests",
            "Requests answered, by upstream (none: no upstream took it) and HTTP status",
            ["upstream", "status"],
            registry=self.registry,
        )
        self.retries = Counter(
            "mttq_proxy_retries",
            "Requests moved to another upstream because this one refused the connection",
            ["upstream"],
            registry=self.registry,
        )
        self.healthy = Gauge(
            "mttq_proxy_upstream_healthy",
            "1 while the upstream passes its health checks, else 0",
            ["upstream"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "mttq_proxy_request_duration_seconds",
            "Time from receiving a request to the end of its response, by upstream",
            ["upstream"],
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )


BALANCER = web.AppKey("proxy_balancer", Balancer)
OPTIONS = web.AppKey("proxy_options", ProxyOptions)
METRICS = web.AppKey("proxy_metrics", ProxyMetrics)
CLIENT = web.AppKey("proxy_client", aiohttp.ClientSession)


# --------------------------------------------------------------------------- headers


def _connection_tokens(headers: MultiMapping[str]) -> set[str]:
    tokens: set[str] = set()
    for value in headers.getall("Connection", []):
        tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def request_headers(request: web.Request) -> CIMultiDict[str]:
    """What the upstream receives: end-to-end headers plus the X-Forwarded-* trio."""
    drop = HOP_BY_HOP | _REQUEST_ONLY | _connection_tokens(request.headers)
    headers: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in request.headers.items() if k.lower() not in drop
    )
    client = request.remote or ""
    previous = ", ".join(headers.getall("X-Forwarded-For", []))
    headers.popall("X-Forwarded-For", None)
    headers["X-Forwarded-For"] = f"{previous}, {client}" if previous else client
    headers.setdefault("X-Forwarded-Proto", request.scheme)
    if request.host:
        headers.setdefault("X-Forwarded-Host", request.host)
    return headers


def response_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    drop = HOP_BY_HOP | _connection_tokens(upstream)
    return CIMultiDict((k, v) for k, v in upstream.items() if k.lower() not in drop)


def _client_address(request: web.Request) -> str:
    forwarded = request.headers.get("X-Forwarded-For", "")
    first = forwarded.split(",")[0].strip()
    return first or request.remote or ""


def _bad_gateway(message: str) -> web.Response:
    return web.json_response({"error": "bad_gateway", "message": message}, status=502)


# --------------------------------------------------------------------------- forwarding


@dataclass
class _Attempt:
    """Set by the client's trace hook the moment the request's headers are written."""

    sent: bool = False


async def _on_headers_sent(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
) -> None:
    attempt = getattr(context, "trace_request_ctx", None)
    if isinstance(attempt, _Attempt):
        attempt.sent = True


def _mark_down(app: web.Application, upstream: Upstream, reason: str) -> None:
    if app[BALANCER].connection_failed(upstream):
        app[METRICS].healthy.labels(upstream.url).set(0)
        logger.warning("%s: upstream %s is down (%s)", app[OPTIONS].name, upstream.url, reason)


def _not_public() -> web.Response:
    return web.json_response({"error": "not_found"}, status=404)


def forwards(options: ProxyOptions, raw_path: str) -> bool:
    """Whether ``raw_path`` (path and query as received) may be forwarded."""
    if not options.public_paths:
        return True
    return raw_path.split("?", 1)[0] in options.public_paths


def _bad_target() -> web.Response:
    return web.json_response({"error": "bad_request_target"}, status=400)


async def forward(request: web.Request) -> web.StreamResponse:
    app = request.app
    if not request.raw_path.startswith("/"):
        # An absolute-form target ("GET http://elsewhere/ HTTP/1.1") asks a forward proxy to
        # fetch another site; this is a reverse proxy: refuse it, never build a URL from it.
        return _bad_target()
    if not forwards(app[OPTIONS], request.raw_path):
        return _not_public()
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _forward_websocket(request)
    started = time.monotonic()
    metrics = app[METRICS]
    body = await request.read()
    key = affinity_key(request.raw_path.split("?", 1)[0], body, _client_address(request))
    candidates = app[BALANCER].candidates(key)
    if not candidates:
        metrics.requests.labels("none", "502").inc()
        return _bad_gateway("no healthy upstream")
    headers = request_headers(request)
    for upstream in candidates:
        attempt = _Attempt()
        try:
            response = await app[CLIENT].request(
                request.method,
                URL(upstream.url + request.raw_path, encoded=True),
                headers=headers,
                data=body if body else None,
                allow_redirects=False,
                skip_auto_headers=_NO_AUTO_HEADERS,
                trace_request_ctx=attempt,
            )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            reason = f"{type(error).__name__}: {error}"
            if attempt.sent:
                # The upstream may have acted on it: never send it twice.
                metrics.requests.labels(upstream.url, "502").inc()
                logger.warning("%s: %s %s failed on %s after it was sent (%s)",
                               app[OPTIONS].name, request.method, request.path, upstream.url,
                               reason)
                return _bad_gateway(f"upstream {upstream.url} failed: {reason}")
            _mark_down(app, upstream, reason)
            metrics.retries.labels(upstream.url).inc()
            continue
        if app[BALANCER].answered(upstream):
            metrics.healthy.labels(upstream.url).set(1)
            logger.info("%s: upstream %s answers again", app[OPTIONS].name, upstream.url)
        try:
            return await _relay(request, response, upstream, started)
        finally:
            response.release()
    metrics.requests.labels("none", "502").inc()
    return _bad_gateway("no upstream accepted the connection")


async def _relay(
    request: web.Request, upstream_response: aiohttp.ClientResponse, upstream: Upstream,
    started: float,
) -> web.StreamResponse:
    metrics = request.app[METRICS]
    response = web.StreamResponse(status=upstream_response.status, reason=upstream_response.reason)
    response.headers.extend(response_headers(upstream_response.headers))
    await response.prepare(request)
    try:
        async for chunk in upstream_response.content.iter_any():
            await response.write(chunk)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
        # Headers are gone already: cut the client's connection so a truncated body is never
        # mistaken for a whole one.
        metrics.requests.labels(upstream.url, "aborted").inc()
        logger.warning("%s: response from %s broke off (%s: %s)", request.app[OPTIONS].name,
                       upstream.url, type(error).__name__, error)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    metrics.requests.labels(upstream.url, str(upstream_response.status)).inc()
    metrics.duration.labels(upstream.url).observe(time.monotonic() - started)
    return response


async def _forward_websocket(request: web.Request) -> web.StreamResponse:
    """Relay a WebSocket (socket.io's transport) to the upstream the client is pinned to."""
    app = request.app
    key = affinity_key(request.raw_path.split("?", 1)[0], b"", _client_address(request))
    headers = request_headers(request)
    for name in list(headers):
        if name.lower().startswith("sec-websocket-"):
            headers.popall(name, None)
    protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
                 if p.strip()]
    for upstream in app[BALANCER].candidates(key):
        try:
            upstream_ws = await app[CLIENT].ws_connect(
                URL(upstream.url + request.raw_path, encoded=True),
                headers=headers, protocols=protocols, autoclose=False, autoping=False,
            )
        except aiohttp.WSServerHandshakeError as error:
            app[METRICS].requests.labels(upstream.url, str(error.status)).inc()
            return _bad_gateway(f"upstream {upstream.url} refused the WebSocket ({error.status})")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            _mark_down(app, upstream, f"{type(error).__name__}: {error}")
            app[METRICS].retries.labels(upstream.url).inc()
            continue
        client_ws = web.WebSocketResponse(
            protocols=[upstream_ws.protocol] if upstream_ws.protocol else (),
            autoclose=False, autoping=False,
        )
        await client_ws.prepare(request)
        await _pump_websockets(client_ws, upstream_ws)
        app[METRICS].requests.labels(upstream.url, "101").inc()
        return client_ws
    app[METRICS].requests.labels("none", "502").inc()
    return _bad_gateway("no healthy upstream")


async def _pump_websockets(
    client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
) -> None:
    async def copy(
        source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
        target: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    ) -> None:
        async for message in source:
            if message.type == aiohttp.WSMsgType.TEXT:
                await target.send_str(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await target.send_bytes(message.data)
            elif message.type == aiohttp.WSMsgType.PING:
                await target.ping(message.data)
            elif message.type == aiohttp.WSMsgType.PONG:
                await target.pong(message.data)
            elif message.type == aiohttp.WSMsgType.CLOSE:
                break
        await target.close()

    tasks = [asyncio.create_task(copy(client, upstream)), asyncio.create_task(copy(upstream, client))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await upstream.close()
        await client.close()


# --------------------------------------------------------------------------- health


async def check_once(app: web.Application, session: aiohttp.ClientSession) -> None:
    """One round of active checks, all upstreams at once."""
    options = app[OPTIONS]
    balancer = app[BALANCER]
    metrics = app[METRICS]
    timeout = aiohttp.ClientTimeout(total=options.health_timeout)

    async def check(upstream: Upstream) -> None:
        refused = False
        try:
            async with session.get(upstream.url + options.health_path, timeout=timeout) as reply:
                await reply.read()
                ok = 200 <= reply.status < 300
                reason = f"HTTP {reply.status}"
        except aiohttp.ClientConnectorError as error:
            ok, refused, reason = False, True, f"{type(error).__name__}: {error}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            ok, reason = False, f"{type(error).__name__}: {error}".rstrip(": ")
        if ok:
            if balancer.check_passed(upstream):
                logger.info("%s: upstream %s is healthy", options.name, upstream.url)
        elif balancer.check_failed(upstream, refused=refused):
            logger.warning("%s: upstream %s is down (%s)", options.name, upstream.url, reason)
        metrics.healthy.labels(upstream.url).set(1 if upstream.healthy else 0)

    await asyncio.gather(*(check(u) for u in balancer.upstreams))


async def _health_checks(app: web.Application) -> AsyncIterator[None]:
    """A ``cleanup_ctx``: one round before serving, then one every ``health_interval``."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    await check_once(app, session)

    async def loop() -> None:
        while True:
            await asyncio.sleep(app[OPTIONS].health_interval)
            try:
                await check_once(app, session)
            except Exception:  # a bug here must not stop the checks for good
                logger.exception("%s: health check round failed", app[OPTIONS].name)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await session.close()


async def _forwarding_client(app: web.Application) -> AsyncIterator[None]:
    options = app[OPTIONS]
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_on_headers_sent)  # type: ignore[arg-type]
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=options.keepalive_timeout),
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=options.connect_timeout, sock_read=options.read_timeout
        ),
        cookie_jar=aiohttp.DummyCookieJar(),  # never carry one client's cookies to another
        auto_decompress=False,
        trace_configs=[trace],
    )
    app[CLIENT] = session
    try:
        yield
    finally:
        await session.close()


# --------------------------------------------------------------------------- own endpoints


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    balancer = request.app[BALANCER]
    upstreams = [{"url": u.url, "healthy": u.healthy} for u in balancer.upstreams]
    is_ready = any(u.healthy for u in balancer.upstreams)
    return web.json_response(
        {"ready": is_ready, "upstreams": upstreams}, status=200 if is_ready else 503
    )


async def metrics(request: web.Request) -> web.Response:
    if request.app[OPTIONS].public_paths:
        return _not_public()
    import os

    from bot.observability.metrics import request_allowed
    from bot.web.client_address import DEFAULT_TRUSTED_PROXIES, parse_trusted

    trusted = parse_trusted(os.environ.get("TRUSTED_PROXIES", "").strip() or DEFAULT_TRUSTED_PROXIES)
    if not request_allowed(request.headers, request.remote,
                           os.environ.get("METRICS_TOKEN", "").strip(), trusted):
        return web.json_response({"error": "unauthorized"}, status=401)
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(upstreams: Iterable[str], options: ProxyOptions | None = None) -> web.Application:
    options = options or ProxyOptions()
    app = web.Application(client_max_size=options.max_body)
    app[OPTIONS] = options
    app[BALANCER] = Balancer(upstreams, fall=options.fall)
    app[METRICS] = ProxyMetrics()
    for upstream in app[BALANCER].upstreams:
        app[METRICS].healthy.labels(upstream.url).set(0)
    app.cleanup_ctx.append(_forwarding_client)
    app.cleanup_ctx.append(_health_checks)
    app.router.add_get("/health", health, allow_head=False)
    app.router.add_get("/ready", ready, allow_head=False)
    app.router.add_get("/metrics", metrics, allow_head=False)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app
