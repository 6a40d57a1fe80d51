"""``./mttq prod``: the production profile against this machine's PostgreSQL and Redis.

Checks that both answer (creating the database if missing), trains if needed, starts
:class:`tools.profile.Profile` and supervises it until Ctrl-C. Kept apart from tools/profile.py,
which only starts and stops processes, so that the load and fault tests (and bench/) drive the
profile without this command, and reuse its PostgreSQL and Redis checks without the profile.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from tools.profile import Profile, ProfileError

#: The profile's defaults on this machine (`./mttq prod`); each is overridden by its variable.
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/mttq"
DEFAULT_LOCK_STORE_URL = "redis://127.0.0.1:6379/0"


def postgres_problem(url: str, *, create: bool = False) -> str | None:
    """None when the server answers (and, with ``create``, the database exists, created if
    missing); else one line saying what is wrong."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return None
    where = f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}"
    admin = create_engine(parsed.set(database="postgres", query={}), future=True,
                          isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})

    def first_line(error: Exception) -> str:
        text_ = str(getattr(error, "orig", None) or error).strip()
        return (text_.splitlines() or [""])[0].rstrip(".")

    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": parsed.database},
            ).first()
            if exists is None:
                if not create:
                    return f"{where} has no database {parsed.database!r}"
                name = str(parsed.database).replace('"', '""')
                try:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
                except Exception as error:
                    return f"{where}: could not create database {name!r}: {first_line(error)}"
    except Exception as error:
        return f"{where} is not reachable: {first_line(error)}"
    finally:
        admin.dispose()
    return None


def redis_problem(url: str) -> str | None:
    """None when Redis at ``url`` answers PING, else one line saying why not."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as error:
        return f"Redis at {url} is not reachable: {str(error).rstrip('.')}"
    return None


# ---------------------------------------------------------------------- ./mttq prod


def main_prod(replicas: int | None = None, action_servers: int | None = None,
              host: str | None = None) -> int:
    """``./mttq prod``: the profile against this machine's PostgreSQL and Redis, until Ctrl-C."""
    from bot.settings import get_settings
    from tools import model
    from tools.env import rel

    env = os.environ
    database_url = env.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    tracker_url = env.get("TRACKER_STORE_URL") or database_url
    lock_url = env.get("LOCK_STORE_URL") or DEFAULT_LOCK_STORE_URL
    replicas = replicas or int(env.get("PROD_REPLICAS") or 2)
    action_servers = action_servers or int(env.get("PROD_ACTION_SERVERS") or 2)
    host = host or env.get("PROD_HOST") or "127.0.0.1"
    public_port = int(env.get("PROD_RASA_PORT") or 5005)
    staff_port = int(env.get("STAFF_PORT") or 8080)

    for url in dict.fromkeys((database_url, tracker_url)):
        problem = postgres_problem(url, create=True)
        if problem:
            print(f"error: {problem}. Check that PostgreSQL runs there, or set DATABASE_URL / "
                  "TRACKER_STORE_URL.",
                  file=sys.stderr)
            return 1
    problem = redis_problem(lock_url)
    if problem:
        print(f"error: {problem}. Start Redis or set LOCK_STORE_URL.", file=sys.stderr)
        return 1
    from tools.haproxy import HAProxyMissing, binary

    try:
        binary()
    except HAProxyMissing as error:
        print(f"error: {error}.", file=sys.stderr)
        return 1

    trained = model.train(quiet=True)
    settings = get_settings()
    try:
        profile = Profile(
            replicas=replicas, action_servers=action_servers, database_url=database_url,
            tracker_store_url=tracker_url, lock_store_url=lock_url, var_dir=settings.var_dir,
            model=trained.path, host=host, public_port=public_port, staff_port=staff_port,
        )
    except (ProfileError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Model: {rel(trained.path)}")
    print(f"Starting {replicas} Rasa replica(s), {action_servers} action server(s), HAProxy, "
          f"the staff service and the worker (logs in {rel(profile.log_dir)}/) ...", flush=True)
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # like Ctrl-C: stop what was started, then exit
    try:
        seconds = profile.start()  # Ctrl-C here stops what was started (Profile.start)
    except (ProfileError, RuntimeError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped.")
        return 130
    stopping = False

    def stop_all(signum: int | None = None, frame: object = None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    print(f"\nReady in {seconds:.0f} s.")
    for name, url, log in profile.describe():
        print(f"  {name:<14} {url:<32} {rel(Path(log))}")
    print(f"\n  Chat with the assistant:  {profile.web_url}/chat")
    print(f"  Staff console:            {profile.web_url}/staff")
    print(f"  Rasa (channels' webhooks): {profile.public_url}")
    print(f"  HAProxy metrics, stats:   {profile.stats_url}/metrics, {profile.stats_url}/stats")
    print("Press Ctrl-C to stop.", flush=True)
    from tools.procs import http_ok
    from tools.supervise import Supervisor

    supervisor = Supervisor(
        profile.names, alive=profile.alive,
        healthy=lambda name: http_ok(profile.proc(name).ready_url, timeout=5.0),
        restart=lambda name: profile.restart(name, wait=False),
        log_path=lambda name: rel(profile.log_path(name) or Path()),
    )
    while not stopping:
        supervisor.tick()  # a process it gave up on stays down; the others keep serving
        time.sleep(0.5)
    print("\nStopping...", flush=True)
    profile.stop()
    print("Stopped.")
    return 0
