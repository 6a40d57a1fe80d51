"""The action server with operations endpoints: ``python -m bot.observability.action_server``.

It is rasa_sdk's own server (``rasa_sdk.endpoint.create_app``, the same ``/webhook``, ``/health``
and ``/actions``, the same command-line arguments: ``--actions``, ``--port``, ``--cors``, SSL,
``--auto-reload``, ``-v``), plus what ``python -m rasa_sdk`` cannot give:

* ``GET /ready``: 200 when every custom action ``domain.yml`` names is registered (rasa_sdk
  logs a module that fails to import and starts anyway, without its actions) and the feedback
  DB answers ``SELECT 1``; 503 with the failing check otherwise;
* ``GET /metrics``: action runs by action and outcome, their duration, HTTP requests;
* logs through :func:`bot.observability.logs.configure` (role ``actions``), each line of an
  action run carrying the conversation id (the request's ``sender_id``);
* a caller check: every request but ``GET /health``, ``/ready`` (which say nothing about any
  citizen) and ``/metrics`` (``METRICS_TOKEN``) must carry ``X-Action-Server-Secret: $ACTION_SERVER_SECRET``, which Rasa sends
  (``endpoints.yml``), else ``401``. A forged ``/webhook`` call runs any action on any
  conversation it makes up, so the server also listens on 127.0.0.1 unless ``SANIC_HOST``
  says otherwise, and refuses to start without a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import time
import types
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.observability import logs
from bot.observability.metrics import (
    ActionMetrics,
    exposition,
    new_registry,
    request_allowed,
    sanic_endpoint,
)
from bot.observability.readiness import run_checks, sql_ping
from bot.service_secrets import ACTION_SECRET_HEADER
from bot.settings import ROOT, action_server_host, get_settings
from bot.web.client_address import parse_trusted

__all__ = ["create_app", "domain_actions", "main"]

logger = logging.getLogger(__name__)

ROLE = "actions"

#: Paths answered without the secret (GET only): liveness and readiness, for probes and
#: proxies, and ``/metrics``, which has its own guard (``METRICS_TOKEN``).
OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})

#: HTTP status of rasa_sdk's ``/webhook`` → outcome label.
_OUTCOMES = {200: "ok", 400: "rejected", 404: "not_found"}


def domain_actions(domain_file: Path = ROOT / "domain.yml") -> set[str]:
    """The custom actions the domain names (``actions:``), or an empty set without a domain."""
    import yaml

    if not domain_file.exists():
        return set()
    data = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    names: set[str] = set()
    for item in data.get("actions") or []:
        names.add(next(iter(item)) if isinstance(item, dict) else str(item))
    return names


async def _served_actions(app: Sanic) -> set[str]:
    """The actions the app's executor serves, asked through rasa_sdk's own ``/actions`` handler
    (the executor is local to ``rasa_sdk.endpoint.create_app``)."""
    for route in app.router.routes:
        if route.path == "actions":
            answer = await route.handler(None)
            return {str(item["name"]) for item in json.loads(answer.body)}
    raise RuntimeError("rasa_sdk's /actions route not found")


def _action_call(request: Request) -> dict[str, Any]:
    """The body of a ``/webhook`` call (Rasa may deflate it), or {} when unreadable."""
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            data = json.loads(zlib.decompress(request.body))
        else:
            data = request.json
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}


def create_app(
    action_package: str | types.ModuleType,
    *,
    cors_origins: str | list[str] | None = "*",
    auto_reload: bool = False,
    metrics: ActionMetrics | None = None,
    domain_file: Path = ROOT / "domain.yml",
    secret: str | None = None,
) -> Sanic:
    """rasa_sdk's app for ``action_package`` with ``/ready``, ``/metrics``, request metrics and
    the caller check (``secret``: ``ACTION_SERVER_SECRET`` from the settings by default)."""
    from rasa_sdk.endpoint import create_app as sdk_app

    secret = get_settings().action_server_secret if secret is None else secret
    if not secret:
        raise ValueError(
            "ACTION_SERVER_SECRET is not set (./mttq run and ./mttq prod generate it in "
            "var/secrets/; Rasa must send the same value)"
        )
    expected_secret = secret.encode()
    app = sdk_app(action_package, cors_origins=cors_origins, auto_reload=auto_reload)
    ops = metrics or ActionMetrics(new_registry())
    expected = domain_actions(domain_file)
    token = get_settings().metrics_token
    trusted = parse_trusted(get_settings().trusted_proxies)

    @app.middleware("request")
    async def caller_check(request: Request) -> HTTPResponse | None:
        if request.method in ("GET", "HEAD") and request.path in OPEN_PATHS:
            return None
        given = request.headers.get(ACTION_SECRET_HEADER, "").encode()
        if hmac.compare_digest(given, expected_secret):
            return None
        logger.warning("refused %s %s from %s: missing or wrong %s", request.method,
                       request.path, request.ip, ACTION_SECRET_HEADER)
        return response.json({"error": "unauthorized"}, status=401)

    @app.middleware("request")
    async def started(request: Request) -> None:
        request.ctx.ops_started = time.perf_counter()
        call = _action_call(request) if request.path == "/webhook" else {}
        request.ctx.ops_action = str(call.get("next_action") or "") or None
        # Set on every request (None included): a keep-alive connection reuses the task.
        request.ctx.ops_token = logs.CONVERSATION_ID.set(call.get("sender_id") or None)

    @app.middleware("response")
    async def finished(request: Request, result: HTTPResponse) -> None:
        action = getattr(request.ctx, "ops_action", None)
        begun = getattr(request.ctx, "ops_started", None)
        if begun is not None:
            seconds = time.perf_counter() - begun
            status = int(getattr(result, "status", 0) or 0)
            ops.http.observe(sanic_endpoint(request), request.method, status, seconds)
            if action is not None:
                ops.observe(action, _OUTCOMES.get(status, "error"), seconds)
        token = getattr(request.ctx, "ops_token", None)
        if token is not None:
            try:
                logs.CONVERSATION_ID.reset(token)
            except ValueError:  # set in another context; the next request overwrites it
                pass

    @app.get("/ready")
    async def ready(request: Request) -> HTTPResponse:
        from bot.db.runtime import get_engine

        served: set[str] = set()

        async def actions_loaded() -> None:
            served.update(await _served_actions(request.app))
            if not served:
                raise RuntimeError("no actions registered")
            missing = sorted(expected - served)
            if missing:
                raise RuntimeError("not registered: " + ", ".join(missing))

        ok, body = await run_checks({
            "actions": actions_loaded,
            "feedback_db": lambda: sql_ping(get_engine()),
        })
        body["actions"] = len(served)
        return response.json(body, status=200 if ok else 503)

    @app.get("/metrics")
    async def metrics_endpoint(request: Request) -> HTTPResponse:
        if not request_allowed(request.headers, request.ip, token, trusted):
            return response.json({"error": "unauthorized"}, status=401)
        body, content_type = exposition(ops.registry)
        return response.raw(body, content_type=content_type)

    @app.listener("after_server_start")
    async def warm_up(app: Sanic, loop: Any) -> None:
        # Open (and if needed migrate) the feedback DB now rather than in the first citizen's
        # turn; a DB that is down shows in /ready and is retried on first use.
        from bot.db.runtime import get_engine

        async def _open() -> None:
            try:
                await asyncio.to_thread(get_engine)
            except Exception as error:
                logger.warning("feedback DB not reachable at start-up: %s", error)

        app.ctx.ops_warm_up = asyncio.get_running_loop().create_task(_open())

    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Start the server as ``python -m rasa_sdk`` would, with our logs and endpoints."""
    logs.configure(ROLE)  # first: importing rasa_sdk's server already warns
    from rasa_sdk import utils
    from rasa_sdk.constants import DEFAULT_SERVER_PORT
    from rasa_sdk.endpoint import create_argument_parser, create_ssl_context
    from rasa_sdk.plugin import plugin_manager

    parser: argparse.ArgumentParser = create_argument_parser()
    args = parser.parse_args(argv)
    if args.loglevel != logging.INFO:  # -vv / --quiet; otherwise LOG_LEVEL decides
        logging.getLogger().setLevel(args.loglevel)
    utils.update_sanic_log_level()  # Sanic's loggers at LOG_LEVEL_LIBRARIES, as rasa_sdk does
    logs.adopt_library_loggers()
    logging.getLogger("matplotlib").setLevel(logging.WARN)

    logger.info("Starting action endpoint server...")
    # Content, moderation rules and migrations before /health answers, so the first citizens
    # do not pay for them. Forked Sanic workers must not share this process's connections, so
    # with several workers the engine is dropped and each opens its own; with one (the default)
    # it is kept and the start-up listener finds it ready instead of migrating a second time.
    from bot.conversation.warmup import warm_action_server
    from bot.db.runtime import dispose_all

    workers = utils.number_of_sanic_workers()
    warm_action_server()
    if workers > 1:
        dispose_all()
    try:
        app = create_app(args.actions, cors_origins=args.cors, auto_reload=args.auto_reload)
    except ValueError as error:
        logger.error("%s", error)
        raise SystemExit(2) from None
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    protocol = "https" if ssl_context else "http"
    host = action_server_host()
    port = args.port or DEFAULT_SERVER_PORT
    logger.info("Action endpoint is up and running on %s://%s:%s", protocol, host, port)
    app.run(host, port, ssl=ssl_context, workers=workers)


if __name__ == "__main__":
    main()
