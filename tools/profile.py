"""The production profile on one machine: every piece of a real deployment, as local processes.

::

    actions-1..K   action servers (rasa_sdk)             ┐
    rasa-1..N      Rasa replicas (PostgreSQL tracker     │ behind HAProxy: the action pool
                   store, Redis lock store)              │ (ACTION_ENDPOINT_URL), the Rasa pool
    web            python -m bot.web --role staff        │ (channels' webhooks on PROD_HOST, the
                   (chat page, console, API, Telegram    │ HTTP API on 127.0.0.1 for RASA_URL) and
                   webhook; 127.0.0.1 only)              ┘ the staff service (STAFF_PORT)
    worker         python -m bot.web --role worker (outbox worker, idle-handoff monitor)
    haproxy        Debian's haproxy, configuration from tools/haproxy.py in <VAR_DIR>/run/

Configuration alone selects it: the same code runs with ``DATABASE_URL`` / ``TRACKER_STORE_URL``
pointing at PostgreSQL and ``LOCK_STORE_URL`` at Redis. ``./mttq prod`` starts it
(``tools.prod``, which first checks this machine's PostgreSQL and Redis); the load and fault
tests drive :class:`Profile` directly.

Start-up races: before any process starts, :func:`prepare_databases` (in a child process with
the profile's environment) migrates the feedback DB, syncs the unit tree and creates Rasa's
tracker table, so replicas starting together find the schema in place. Each process would do
this itself anyway, and safely: migrations and the unit sync take PostgreSQL advisory locks, and
Rasa tolerates a lost ``CREATE TABLE`` race (with an error line in its log, which preparing
avoids).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tools import haproxy
from tools.env import child_env, python
from tools.haproxy import CHANNEL_WEBHOOK_PATHS, Layout, Listen, Server
from tools.procs import Proc, action_server, free_ports, rasa_server, wait_ready, web_service
from tools.procs import haproxy as haproxy_proc

__all__ = ["CHANNEL_WEBHOOK_PATHS", "Profile", "ProfileError", "prepare_databases"]

#: The file ``./mttq promote`` reads to find every replica of a running profile.
POOL_FILE = "pool.json"


class ProfileError(RuntimeError):
    """Something the profile needs is missing (a database, a free port, a model)."""


@dataclass
class _Piece:
    proc: Proc
    port: int
    #: The HAProxy backend this process is a server of ("" when none).
    backend: str = ""


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host or "0.0.0.0", port))
        except OSError:
            return True
    return False


class Profile:
    """N Rasa replicas, K action servers, the staff service and the worker behind HAProxy.

    Internal processes listen on 127.0.0.1 on free ports; HAProxy's public front
    (``public_port``, channel webhooks only) and staff front (``staff_port``) listen on ``host``
    (free ports too when not given). ``rasa_url`` is HAProxy's internal front for Rasa's API.
    """

    def __init__(
        self,
        *,
        replicas: int = 2,
        action_servers: int = 2,
        database_url: str,
        tracker_store_url: str,
        lock_store_url: str,
        var_dir: Path,
        model: Path | None = None,
        host: str = "127.0.0.1",
        public_port: int | None = None,
        staff_port: int | None = None,
        extra_env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        endpoints: str = "endpoints.yml",
        credentials: str = "credentials.yml",
    ) -> None:
        if replicas < 1 or action_servers < 1:
            raise ValueError("the profile needs at least one Rasa replica and one action server")
        if replicas > 1 and not lock_store_url.startswith(("redis://", "rediss://", "unix://")):
            raise ProfileError(
                f"{replicas} Rasa replicas need a Redis lock store (LOCK_STORE_URL=redis://…)"
            )
        if model is None:
            from tools import model as models

            model = models.latest_model()
            if model is None:
                raise ProfileError("no trained model in models/ (run ./mttq train)")
        self.model = model
        self.host = host
        self.var_dir = var_dir
        self.log_dir = log_dir or var_dir / "logs"
        #: HAProxy's configuration and the pool file for ``./mttq promote``.
        self.run_dir = var_dir / "run"
        fixed = {p for p in (public_port, staff_port) if p}
        ports = iter(free_ports(replicas + action_servers + 5 + (2 - len(fixed)), fixed))
        self.public_port = public_port or next(ports)
        self.staff_port = staff_port or next(ports)
        action_ports = [next(ports) for _ in range(action_servers)]
        replica_ports = [next(ports) for _ in range(replicas)]
        action_front_port, worker_port, api_port = next(ports), next(ports), next(ports)
        web_port, stats_port = next(ports), next(ports)

        public = _loopback(host)
        #: Where Facebook and Zalo deliver (through the operator's HTTPS front end).
        self.public_url = f"http://{public}:{self.public_port}"
        #: Rasa's HTTP API for our own processes and tests (still behind RASA_TOKEN).
        self.rasa_url = f"http://127.0.0.1:{api_port}"
        self.replica_urls = [f"http://127.0.0.1:{p}" for p in replica_ports]
        self.action_server_urls = [f"http://127.0.0.1:{p}" for p in action_ports]
        self.action_url = f"http://127.0.0.1:{action_front_port}/webhook"
        self.web_url = f"http://{public}:{self.staff_port}"
        self.worker_url = f"http://127.0.0.1:{worker_port}"
        #: HAProxy's own front: /health, /metrics (Prometheus), /stats.
        self.stats_url = f"http://127.0.0.1:{stats_port}"

        env = child_env()
        env.setdefault("LOG_FORMAT", "json")
        env.setdefault("STAFF_PUBLIC_URL", self.web_url)  # the "Xem" links in Telegram
        env.update(
            {
                "VAR_DIR": str(var_dir),
                "DATABASE_URL": database_url,
                "TRACKER_STORE_URL": tracker_store_url,
                "LOCK_STORE_URL": lock_store_url,
                "ACTION_ENDPOINT_URL": self.action_url,
                "RASA_URL": self.rasa_url,
            }
        )
        env.update(extra_env or {})
        self.env = env

        def log(name: str) -> Path:
            return self.log_dir / f"{name}.log"

        pieces: dict[str, _Piece] = {}
        for i, port in enumerate(action_ports, 1):
            name = f"actions-{i}"
            pieces[name] = _Piece(action_server(port, log=log(name), env=env), port, "actions")
        for i, port in enumerate(replica_ports, 1):
            name = f"rasa-{i}"
            proc = rasa_server(model, port, log=log(name), env=env, endpoints=endpoints,
                               credentials=credentials)
            pieces[name] = _Piece(proc, port, "rasa")
        # The staff service answers only HAProxy (and this machine); HAProxy faces the network.
        web = web_service(web_port, log=log("web"), env={**env, "STAFF_HOST": "127.0.0.1"},
                          role="staff")
        pieces["web"] = _Piece(web, web_port, "web")
        worker = web_service(worker_port, log=log("worker"),
                             env={**env, "STAFF_HOST": "127.0.0.1"}, role="worker")
        pieces["worker"] = _Piece(worker, worker_port)
        self.layout = Layout(
            rasa=tuple(Server(n, p.port) for n, p in pieces.items() if p.backend == "rasa"),
            actions=tuple(Server(n, p.port) for n, p in pieces.items() if p.backend == "actions"),
            web=Server("web", web_port),
            public=Listen(host, self.public_port),
            staff=Listen(host, self.staff_port),
            rasa_api=Listen("127.0.0.1", api_port),
            actions_front=Listen("127.0.0.1", action_front_port),
            stats=Listen("127.0.0.1", stats_port),
        )
        self.haproxy_config = self.run_dir / "haproxy.cfg"
        pieces["haproxy"] = _Piece(
            haproxy_proc(self.haproxy_config, stats_port, log=log("haproxy"), env=env),
            self.public_port,
        )
        for name, piece in pieces.items():
            piece.proc.name = name
        self._pieces = pieces
        self.names: list[str] = list(pieces)

    # ------------------------------------------------------------------ introspection

    def proc(self, name: str) -> Proc:
        try:
            return self._pieces[name].proc
        except KeyError:
            raise KeyError(f"no process {name!r} in the profile ({', '.join(self.names)})") from None

    def port(self, name: str) -> int:
        return self._pieces[name].port

    def log_path(self, name: str) -> Path | None:
        return self.proc(name).log_path

    def alive(self, name: str) -> bool:
        return self.proc(name).alive()

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, where it listens, log file) of every process, in start order."""
        rows = []
        for name, piece in self._pieces.items():
            url = piece.proc.ready_url.rsplit("/", 1)[0]
            rows.append((name, url, str(piece.proc.log_path or "")))
        return rows

    # ------------------------------------------------------------------ life cycle

    def write_haproxy_config(self) -> Path:
        """Write HAProxy's configuration into ``run_dir`` and check it (``haproxy -c``)."""
        try:
            return haproxy.write_config(self.layout, self.run_dir, self.env)
        except (haproxy.HAProxyMissing, ValueError) as error:
            raise ProfileError(str(error)) from None

    def start(self, timeout: float = 300) -> float:
        """Prepare the databases, start everything, wait until all of it answers; seconds."""
        started = time.monotonic()
        for port in (self.public_port, self.staff_port):
            if port_in_use(self.host, port):
                raise ProfileError(f"port {port} on {self.host} is already in use")
        self.write_haproxy_config()  # before anything starts: a refused config stops here
        prepare_databases(self.env, timeout=min(timeout, 120))
        try:
            for name in self.names:  # haproxy last: its first checks find the servers up
                self.proc(name).start()
            left = timeout - (time.monotonic() - started)
            wait_ready([self.proc(n) for n in self.names], timeout=max(left, 1))
            for name, piece in self._pieces.items():
                if piece.backend:
                    self._wait_in_rotation(name, started + timeout)
            self._write_pool_file()
        except BaseException:
            self.stop()
            raise
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop every process: the entry points first, then what they forward to."""
        self.pool_file.unlink(missing_ok=True)
        front = ["haproxy", "web", "worker"]
        back = [n for n in self.names if n not in front]
        for group in (front, back):
            with ThreadPoolExecutor(max_workers=max(1, len(group))) as pool:
                list(pool.map(lambda n: self.proc(n).stop(), group))

    @property
    def pool_file(self) -> Path:
        return self.run_dir / POOL_FILE

    def _write_pool_file(self) -> None:
        """Every Rasa replica's URL, for ``./mttq promote`` (removed again by :meth:`stop`)."""
        import json

        self.run_dir.mkdir(parents=True, exist_ok=True)
        data = {"rasa": self.replica_urls, "rasa_url": self.rasa_url, "stats": self.stats_url,
                "pid": os.getpid()}
        tmp = self.pool_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.pool_file)

    def kill(self, name: str) -> None:
        """SIGKILL the process group of ``name`` (fault injection): no shutdown of any kind."""
        proc = self.proc(name)
        if proc.popen is None or proc.popen.poll() is not None:
            return
        try:
            os.killpg(proc.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.popen.wait(timeout=10)
        proc.stop()  # closes its log file

    def restart(self, name: str, wait: bool = True) -> float:
        """Start ``name`` again on the same port; with ``wait``, until it answers and HAProxy
        has it back in rotation. Returns the seconds that took."""
        started = time.monotonic()
        proc = self.proc(name)
        proc.stop()
        proc.start()
        if wait:
            wait_ready([proc], timeout=300)
            if self._pieces[name].backend:
                self._wait_in_rotation(name, started + 300)
        return time.monotonic() - started

    def _wait_in_rotation(self, name: str, deadline: float) -> None:
        """Until HAProxy's checks have passed for ``name`` (it is UP in its backend)."""
        haproxy.wait_up(self.stats_url, self._pieces[name].backend, [name],
                        timeout=max(deadline - time.monotonic(), 1),
                        alive=lambda: self.alive(name))

    def __enter__(self) -> Profile:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------- databases


def prepare_databases(env: dict[str, str], *, timeout: float = 120) -> None:
    """Migrate the feedback DB, sync units and create Rasa's tracker tables, in a child process
    with exactly the environment the profile's processes get."""
    try:
        result = subprocess.run(
            [python(), "-m", "tools.profile", "prepare"],
            env=env, capture_output=True, text=True, timeout=timeout,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except subprocess.TimeoutExpired:
        raise ProfileError(f"preparing the databases took more than {timeout:.0f} s") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise ProfileError(f"preparing the databases failed: {lines[-1] if lines else '?'}")


def _prepare_here() -> int:
    """``python -m tools.profile prepare`` (the child process of :func:`prepare_databases`)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from bot.db.runtime import dispose_all, get_engine
    from bot.settings import get_settings

    settings = get_settings()
    try:
        get_engine(settings.database_url)  # migrations + unit sync, under advisory locks
        dispose_all()
        from rasa.core.tracker_store import SQLTrackerStore

        # The database Rasa's SQLTrackerStore will open (it ignores URL query options).
        url = make_url(settings.tracker_store_url)
        engine = create_engine(url.set(query={}) if url.get_backend_name() != "sqlite" else url)
        try:
            SQLTrackerStore.Base.metadata.create_all(engine)
            from bot.conversation.rasa_stores import create_snapshot_table

            create_snapshot_table(engine)  # tracker_snapshots and the (sender_id, id) index
        finally:
            engine.dispose()
    except Exception as error:  # one line for the launcher, not a traceback
        first = (str(error).strip().splitlines() or [""])[0]
        print(f"{type(error).__name__}: {first}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["prepare"]:
        sys.exit(_prepare_here())
    print("usage: python -m tools.profile prepare   (./mttq prod starts the profile)",
          file=sys.stderr)
    sys.exit(2)
