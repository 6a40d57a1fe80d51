"""Start, watch and stop the assistant's processes (used by `run`, tests and benchmarks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bot.settings import ROOT
from tools.env import child_env, python


@dataclass
class Proc:
    """A child process in its own process group, so stopping it stops its children too."""

    name: str
    cmd: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=child_env)
    log_path: Path | None = None
    #: Where it runs (this checkout unless a benchmark compares another one).
    cwd: Path = ROOT
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        out: int | IO[bytes] = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")
            out = self._log
        self.popen = subprocess.Popen(
            self.cmd, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            self._close_log()
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(timeout=5)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def free_port() -> int:
    """A loopback port nothing listens on right now (for servers started by tests/benchmarks).

    Two calls may return the same port (each socket is closed before the next is bound): a
    process that needs several ports at once asks ``free_ports``."""
    return free_ports(1)[0]


def free_ports(count: int, taken: Iterable[int] = ()) -> list[int]:
    """``count`` distinct loopback ports nothing listens on, none of them in ``taken``.

    The sockets are held open until all are bound, so the kernel cannot hand out one port twice
    (it did: HAProxy's stats front and a public front once shared a port, and with
    ``SO_REUSEPORT`` both bound it, each taking half of the connections)."""
    excluded = set(taken)
    sockets: list[socket.socket] = []
    try:
        ports: list[int] = []
        while len(ports) < count:
            sock = socket.socket()
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            if port not in excluded:
                ports.append(port)
        return ports
    finally:
        for sock in sockets:
            sock.close()


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_ready(procs: list[Proc], timeout: float = 300.0) -> float:
    """Wait until every process answers its readiness URL; return the seconds it took."""
    started = time.monotonic()
    pending = list(procs)
    while pending:
        for proc in list(pending):
            if not proc.alive():
                log = f" (log: {proc.log_path})" if proc.log_path else ""
                raise RuntimeError(f"{proc.name} exited during start-up{log}")
            if http_ok(proc.ready_url):
                pending.remove(proc)
        if not pending:
            break
        if time.monotonic() - started > timeout:
            names = ", ".join(p.name for p in pending)
            raise TimeoutError(f"not ready after {timeout:.0f} s: {names}")
        time.sleep(0.25)
    return time.monotonic() - started


def action_server(port: int, *, log: Path | None = None, env: dict[str, str] | None = None) -> Proc:
    return Proc(
        "action server",
        # rasa_sdk's server plus /ready, /metrics and the project's log format.
        [python(), "-m", "bot.observability.action_server", "--actions", "actions",
         "--port", str(port)],
        f"http://127.0.0.1:{port}/health",
        # 127.0.0.1 unless SANIC_HOST says otherwise (a container); either way only callers
        # with ACTION_SERVER_SECRET get past /health.
        env=env or child_env(),
        log_path=log,
    )


def rasa_server(
    model: Path,
    port: int,
    *,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    endpoints: str = "endpoints.yml",
    credentials: str = "credentials.yml",
) -> Proc:
    """``rasa run`` on 127.0.0.1 with its HTTP API behind ``--auth-token $RASA_TOKEN``.

    The API reads and rewrites every conversation (``/conversations/<id>/tracker``,
    ``trigger_intent``), so it never runs without the token; :func:`tools.env.child_env`
    always provides one. :mod:`tools.rasa_run` adds ``--auth-token`` inside the process, so the
    token is not on the command line for ``ps`` to show."""
    env = env or child_env()
    token = env.get("RASA_TOKEN", "")
    if not token:
        raise ValueError("Rasa's HTTP API needs RASA_TOKEN (tools.env.child_env provides one)")
    cmd = [
        python(), "-m", "tools.rasa_run",
        "run",
        "--model", str(model),
        "--enable-api",
        "--interface", "127.0.0.1",
        "--port", str(port),
        "--endpoints", endpoints,
        "--credentials", credentials,
    ]
    # /status answers 401 without the token: the readiness check sends it.
    return Proc("Rasa server", cmd, f"http://127.0.0.1:{port}/status?token={token}", env=env,
                log_path=log)


def web_service(
    port: int,
    *,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    role: str | None = None,
) -> Proc:
    """The web service; ``role`` (``all``/``staff``/``worker``) defaults to ``WEB_ROLE``."""
    base = env or child_env()
    return Proc(
        "web service" if role in (None, "all") else f"web service ({role})",
        [python(), "-m", "bot.web", *(["--role", role] if role else [])],
        f"http://127.0.0.1:{port}/health",
        env={**base, "STAFF_PORT": str(port)},
        log_path=log,
    )


def haproxy(config: Path, stats_port: int, *, log: Path | None = None,
            env: dict[str, str] | None = None) -> Proc:
    """HAProxy in the foreground with ``config`` (:mod:`tools.haproxy` writes and checks it);
    ready once its stats front answers ``/health``."""
    from tools import haproxy as haproxy_config

    env = env or child_env()
    return Proc("haproxy", haproxy_config.command(config, env),
                f"http://127.0.0.1:{stats_port}/health", env=env, log_path=log)
