"""Faults injected during a load run, at fixed fractions of its duration, and what they cost.

Schedule (fractions of ``--duration``):

====  ===========================================================================
25 %  SIGKILL ``rasa-2`` (HAProxy must route around it); restarted at 45 %
35 %  SIGKILL ``actions-1`` (HAProxy must route around it); restarted at 55 %
65 %  restart PostgreSQL (``pg_ctlcluster … restart``): every connection is cut
80 %  Redis shut down without saving (the lock store), started again 3 s later
====  ===========================================================================

PostgreSQL and Redis are the machine's own servers, shared with anything else using them: only
run ``--faults`` when nothing else does (``--faults processes`` kills and restarts only the
profile's own processes). Each fault is a *window* from the moment it is injected
until it is cleared (the process back in rotation, the server answering again); the report counts,
per window, the messages that failed, how long until the first success after the injection, and
what happened to the petitions confirmed in it.

The blocking steps (restarting a Rasa replica takes ~30 s) run in threads, so the citizens keep
talking throughout.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.citizens import Attempt, RunLog
from bench.verify import CaseRow, case_for

#: Failures that start this long after a window closed still count for it (in-flight turns,
#: connection pools reconnecting).
GRACE_S = 10.0
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]


class Killable(Protocol):
    """The part of ``tools.profile.Profile`` faults use."""

    def kill(self, name: str) -> None: ...
    def restart(self, name: str, wait: bool = True) -> float: ...


@dataclass
class Window:
    name: str
    start: float  # seconds since the run started
    end: float | None = None
    detail: str = ""
    error: str = ""


@dataclass
class FaultPlan:
    """When (fraction of the duration) each step happens."""

    steps: list[tuple[float, str]] = field(
        default_factory=lambda: [
            (0.25, "kill rasa-2"),
            (0.35, "kill actions-1"),
            (0.45, "restart rasa-2"),
            (0.55, "restart actions-1"),
            (0.65, "restart postgresql"),
            (0.80, "restart redis"),
        ]
    )

    @classmethod
    def named(cls, name: str) -> FaultPlan:
        """``all``: the schedule above. ``processes``: only the profile's own processes (rasa-2,
        actions-1), which leaves the machine's PostgreSQL and Redis alone."""
        plan = cls()
        if name == "processes":
            plan.steps = [(f, s) for f, s in plan.steps if s.split()[1] in ("rasa-2", "actions-1")]
        elif name != "all":
            raise ValueError(f"unknown fault plan {name!r} (all, processes)")
        return plan


def _run(cmd: list[str], timeout: float = 90.0) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout.strip()


def postgres_version() -> str:
    """The one cluster version under /etc/postgresql (e.g. "15")."""
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir() if p.is_dir())
    if len(versions) != 1:
        raise RuntimeError(f"expected one PostgreSQL cluster version, found {versions}")
    return versions[0]


def restart_postgres() -> str:
    version = postgres_version()
    _run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"])
    return f"pg_ctlcluster {version} main restart"


def _redis_answers() -> bool:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def restart_redis(down_s: float = 3.0, timeout: float = 30.0) -> str:
    """Shut Redis down without saving, wait ``down_s``, start it again and wait for PING."""
    try:
        _run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], timeout=15)
    except RuntimeError:
        pass  # redis-cli reports the dropped connection of a successful shutdown as an error
    deadline = time.monotonic() + 15
    while _redis_answers() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(down_s)
    _run(REDIS_START, timeout=15)
    deadline = time.monotonic() + timeout
    while not _redis_answers():
        if time.monotonic() > deadline:
            raise RuntimeError("Redis did not answer PING after being started again")
        time.sleep(0.1)
    return f"down {down_s:.0f} s"


class FaultInjector:
    """Runs the plan against a profile; ``windows`` holds what happened, in the run's clock."""

    def __init__(
        self,
        profile: Killable,
        duration: float,
        clock: Callable[[], float],
        plan: FaultPlan | None = None,
        progress: Callable[[str], None] = print,
    ) -> None:
        self.profile = profile
        self.duration = duration
        self.clock = clock
        self.plan = plan or FaultPlan()
        self.progress = progress
        self.windows: list[Window] = []

    def _open(self, name: str) -> Window | None:
        return next((w for w in self.windows if w.name == name and w.end is None), None)

    async def _step(self, step: str) -> None:
        action, target = step.split(" ", 1)
        now = self.clock()
        self.progress(f"[faults] t={now:.0f} s: {step}")
        if action == "kill":
            window = Window(f"{target} down", now)
            self.windows.append(window)
            try:
                await asyncio.to_thread(self.profile.kill, target)
            except Exception as error:  # reported, the run goes on
                window.error = f"{type(error).__name__}: {error}"
                window.end = self.clock()
            return
        if target in ("postgresql", "redis"):
            window = Window(f"{target} restart", now)
            self.windows.append(window)
            work = restart_postgres if target == "postgresql" else restart_redis
            try:
                window.detail = await asyncio.to_thread(work)
            except Exception as error:
                window.error = f"{type(error).__name__}: {error}"
            window.end = self.clock()
            return
        opened = self._open(f"{target} down")
        if opened is None:
            opened = Window(f"{target} down", now)
            self.windows.append(opened)
        window = opened
        try:
            seconds = await asyncio.to_thread(self.profile.restart, target, True)
            window.detail = f"restarted in {seconds:.1f} s"
        except Exception as error:
            window.error = f"{type(error).__name__}: {error}"
        window.end = self.clock()

    async def run(self) -> None:
        """Each step at its time; steps that block (restarts) do not delay the next ones."""
        running: list[asyncio.Task[None]] = []
        for fraction, step in sorted(self.plan.steps):
            wait = fraction * self.duration - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            running.append(asyncio.create_task(self._step(step)))
        await asyncio.gather(*running)


def window_report(
    windows: list[Window],
    log: RunLog,
    cases: list[CaseRow],
    delivered: dict[str, int],
) -> list[dict[str, Any]]:
    """Per fault: failures, recovery time, petitions confirmed in it and their notifications.

    ``delivered``: "new case" posts the fake Telegram holds per reference code.
    """
    out = []
    for w in windows:
        end = (w.end if w.end is not None else log.wall_s) + GRACE_S
        inside = [s for s in log.sent if w.start <= s.started <= end]
        failed = [s for s in inside if not s.ok]
        after = [s.finished for s in log.sent if s.ok and s.started >= w.start]
        attempts: list[Attempt] = [
            a for a in log.attempts
            if a.confirm_started is not None and w.start <= a.confirm_started <= end
        ]
        saved = {id(a): case_for(a, cases) for a in attempts}
        out.append(
            {
                "fault": w.name,
                "at_s": round(w.start, 1),
                "cleared_after_s": None if w.end is None else round(w.end - w.start, 1),
                "detail": w.detail,
                "error": w.error,
                "messages": len(inside),
                "failed": len(failed),
                "failed_by_kind": _kinds(failed),
                # sent once more with the same message id (dropped connection, 502/503)
                "resent": sum(1 for s in inside if s.resent),
                "resent_after": dict(Counter(s.first_error for s in inside if s.resent)),
                "first_success_after_s": round(min(after) - w.start, 1) if after else None,
                "last_failure_after_s": (
                    round(max(s.finished for s in failed) - w.start, 1) if failed else None
                ),
                "confirmations": len(attempts),
                "confirmed": sum(1 for a in attempts if a.code),
                "not_confirmed": sum(1 for a in attempts if not a.code and saved[id(a)] is None),
                "saved_without_confirmation": sum(
                    1 for a in attempts if not a.code and saved[id(a)] is not None
                ),
                "retried": sum(1 for a in attempts if a.retried),
                "outbox_lost": sum(
                    1 for case in saved.values()
                    if case is not None and delivered.get(case.ref_code, 0) == 0
                ),
            }
        )
    return out


def _kinds(failed: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sent in failed:
        key = sent.error or f"HTTP {sent.status}"
        counts[key] = counts.get(key, 0) + 1
    return counts
