"""``/ready`` and ``/metrics`` of the web service (aiohttp: chat page, staff console, worker).

``/ready`` answers 200 when the feedback DB answers ``SELECT 1``, 503 otherwise; ``/health``
(in :mod:`bot.web.app`) stays a pure liveness check.

``/metrics`` serves this app's registry: HTTP traffic by route, the outbox worker's delivery
results, and figures read from the feedback DB at scrape time by :class:`FeedbackDbCollector`
(cases by unit, status and kind; outbox rows not yet sent; the age of the oldest pending outbox
row). Reading them at scrape time, instead of counting in the process, keeps them right across
restarts and across several web replicas writing the same DB; the queries are grouped counts on
indexed columns. Every replica reports the same DB figures: aggregate them with ``max``, not
``sum``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.db.engine import session_scope
from bot.db.models import Case, Outbox, OutboxStatus
from bot.db.types import ensure_aware, utcnow
from bot.delivery.senders import OutboxRow
from bot.observability.metrics import WebMetrics, aiohttp_handler, aiohttp_middleware, new_registry
from bot.observability.readiness import run_checks, sql_ping
from bot.web.client_address import DEFAULT_TRUSTED_PROXIES

__all__ = ["ENGINE_SOURCE", "WEB_METRICS", "FeedbackDbCollector", "delivery_observer", "setup"]

logger = logging.getLogger(__name__)

EngineSource = Callable[[], "Engine | None"]

WEB_METRICS = web.AppKey("web_metrics", WebMetrics)
ENGINE_SOURCE = web.AppKey("ops_engine_source", object)

#: Outbox states that are not final-and-fine (``sent`` rows grow forever and are not counted).
_OPEN_OUTBOX = (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.UNDELIVERABLE)
#: At most one "DB unreachable while scraping" warning per this many seconds.
_WARN_EVERY = 60.0


class FeedbackDbCollector:
    """Prometheus collector reading cases and the outbox backlog from the feedback DB."""

    def __init__(self, engine: EngineSource, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self._last_warning = 0.0

    def describe(self) -> list[Metric]:
        # Empty: the registry must not run the queries just to learn the names.
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("mttq_feedback_db_up",
                               "1 when the last scrape could read the feedback DB, else 0.")
        engine = self.engine()
        if engine is None:
            up.add_metric([], 0)
            yield up
            return
        try:
            cases, outbox = self._query(engine)
        except Exception as error:
            now = time.monotonic()
            if now - self._last_warning > _WARN_EVERY:
                self._last_warning = now
                logger.warning("metrics: feedback DB not readable: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        by_case = GaugeMetricFamily("mttq_cases", "Cases in the feedback DB by unit, status "
                                    "and kind.", labels=["unit", "status", "kind"])
        for unit, status, kind, count in cases:
            by_case.add_metric([str(unit), _value(status), _value(kind)], count)
        yield by_case
        rows = GaugeMetricFamily("mttq_outbox_rows", "Outbox rows not sent (pending, failed, "
                                 "undeliverable), by kind and status.", labels=["kind", "status"])
        lag = GaugeMetricFamily(
            "mttq_outbox_lag_seconds",
            "Age of the oldest pending (not yet delivered) outbox row, by kind; no series when "
            "nothing is pending.", labels=["kind"],
        )
        now_at = ensure_aware(self.clock(), "now")
        for kind, status, count, oldest in outbox:
            rows.add_metric([str(kind), _value(status)], count)
            if _value(status) == OutboxStatus.PENDING.value and oldest is not None:
                age = (now_at - ensure_aware(oldest, "created_at")).total_seconds()
                lag.add_metric([str(kind)], max(age, 0.0))
        yield rows
        yield lag

    @staticmethod
    def _query(engine: Engine) -> tuple[list[tuple], list[tuple]]:  # type: ignore[type-arg]
        with session_scope(engine, read_only=True) as session:
            cases = session.execute(
                select(Case.unit_code, Case.status, Case.kind, func.count())
                .group_by(Case.unit_code, Case.status, Case.kind)
            ).all()
            outbox = session.execute(
                select(Outbox.kind, Outbox.status, func.count(), func.min(Outbox.created_at))
                .where(Outbox.status.in_([s.value for s in _OPEN_OUTBOX]))
                .group_by(Outbox.kind, Outbox.status)
            ).all()
        return [tuple(r) for r in cases], [tuple(r) for r in outbox]


def _value(item: object) -> str:
    return str(getattr(item, "value", item))


def _engine_of(app: web.Application) -> Engine | None:
    """The app's feedback DB engine through its :data:`ENGINE_SOURCE` (None before start-up)."""
    source = app.get(ENGINE_SOURCE)
    engine = source() if callable(source) else None
    return engine if isinstance(engine, Engine) else None


async def ready(request: web.Request) -> web.Response:
    """200 when the feedback DB answers, 503 with the reason otherwise."""
    engine = _engine_of(request.app)
    if engine is None:
        body = {"status": "not ready", "checks": {"feedback_db": "not started"}}
        return web.json_response(body, status=503)
    ok, body = await run_checks({"feedback_db": lambda: sql_ping(engine)})
    return web.json_response(body, status=200 if ok else 503)


def delivery_observer(app: web.Application) -> Callable[[OutboxRow, str], None]:
    """The outbox worker's ``on_result`` hook: counts each recorded attempt in the app's metrics."""

    def observe(row: OutboxRow, state: str) -> None:
        metrics = app.get(WEB_METRICS)
        if metrics is not None:
            metrics.delivered(row.kind, state)

    return observe


def setup(app: web.Application, *, engine: EngineSource, token: str = "",
          trusted_proxies: str = DEFAULT_TRUSTED_PROXIES) -> WebMetrics:
    """Add ``/ready``, ``/metrics`` and the HTTP metrics middleware to ``app``.

    Call it before other middlewares are added, so the timing covers them too. ``engine``
    returns the app's feedback DB engine (None until start-up created it).
    """
    registry = new_registry()
    metrics = WebMetrics(registry)
    registry.register(FeedbackDbCollector(lambda: _engine_of(app)))  # type: ignore[arg-type]
    app[WEB_METRICS] = metrics
    app[ENGINE_SOURCE] = engine
    app.middlewares.append(aiohttp_middleware(metrics.http))
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", aiohttp_handler(registry, token=token,
                                                   trusted_proxies=trusted_proxies))
    return metrics
