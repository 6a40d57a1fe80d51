"""`./mttq run`: train if needed, start the action server, Rasa and the web service, and say
where to chat. Ctrl-C stops everything it started."""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

from bot.settings import get_settings
from tools import model
from tools.env import child_env, rel
from tools.procs import Proc, action_server, http_ok, rasa_server, wait_ready, web_service
from tools.supervise import Supervisor


def _port(url: str, default: int) -> int:
    from urllib.parse import urlparse

    return urlparse(url).port or default


def run() -> int:
    settings = get_settings()
    trained = model.train(quiet=True)
    logs = settings.var_dir / "logs"
    env = child_env()
    procs: list[Proc] = [
        action_server(_port(settings.action_endpoint_url, 5055), log=logs / "actions.log", env=env),
        rasa_server(trained.path, _port(settings.rasa_url, 5005), log=logs / "rasa.log", env=env),
        web_service(settings.staff_port, log=logs / "web.log", env=env),
    ]
    stopping = False

    def stop_all(signum: int | None = None, frame: FrameType | None = None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nStopping...", flush=True)
        for proc in reversed(procs):
            proc.stop()
        print("Stopped.")

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    print(f"Model: {rel(trained.path)}")
    print(f"Starting the action server, Rasa and the web service (logs in {rel(logs)}/) ...")
    print("Rasa needs 15-60 s to load the model.", flush=True)
    for proc in procs:
        proc.start()
    try:
        seconds = wait_ready(procs)
    except (RuntimeError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        stop_all()
        return 1
    chat = f"http://{settings.staff_host}:{settings.staff_port}/chat"
    print(f"\nReady in {seconds:.0f} s.")
    print(f"  Chat with the assistant:  {chat}")
    print(f"  Rasa HTTP API:            {settings.rasa_url}")
    print("  Terminal chat instead:    ./mttq shell")
    print("Press Ctrl-C to stop.", flush=True)
    by_name = {proc.name: proc for proc in procs}

    def restart(name: str) -> None:
        by_name[name].stop()
        by_name[name].start()

    supervisor = Supervisor(
        by_name, alive=lambda name: by_name[name].alive(),
        healthy=lambda name: http_ok(by_name[name].ready_url, timeout=5.0),
        restart=restart, log_path=lambda name: rel(by_name[name].log_path or logs),
    )
    while not stopping:
        supervisor.tick()
        if supervisor.given_up and not stopping:
            print("error: a process keeps failing; stopping everything.", file=sys.stderr)
            stop_all()
            return 1
        time.sleep(0.5)
    return 0
