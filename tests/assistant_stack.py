"""The assistant's two servers as ``./mttq run`` starts them, for the tests that drive them over
HTTP: the action server and Rasa with the newest trained model (``tests/trained_model.py``),
over SQLite files in a temporary folder, with the environment ``tools.env.scratch_stack_env`` gives.

Each test module subclasses :class:`AssistantStack` for what it adds (channel credentials, fake
platform APIs, a proxy in front); starting, the readiness wait and stopping are the same for all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from trained_model import trained_model

from tools.env import scratch_stack_env
from tools.procs import Proc, action_server, free_ports, rasa_server, wait_ready

S = TypeVar("S", bound="AssistantStack")


class AssistantStack:
    """The action server and Rasa on free loopback ports; ``extra_env`` adds to (or overrides)
    the environment both get, ``credentials`` is Rasa's channel file."""

    def __init__(self, tmp: Path, *, extra_env: dict[str, str] | None = None,
                 credentials: str = "credentials.yml") -> None:
        self.tmp = tmp
        self.rasa_port, self.action_port = free_ports(2)
        self.db_url = f"sqlite:///{tmp / 'feedback.db'}"
        self.tracker_db = tmp / "tracker.db"
        self.env = scratch_stack_env(tmp, self.action_port, extra_env)
        self.logs = tmp / "logs"
        self.model = trained_model()
        self.credentials = credentials
        self.actions = action_server(self.action_port, log=self.logs / "actions.log", env=self.env)
        self.rasa = self.new_rasa()
        self.procs: list[Proc] = [self.actions, self.rasa]

    def new_rasa(self) -> Proc:
        """A Rasa server process on this stack's port (not started)."""
        return rasa_server(self.model, self.rasa_port, log=self.logs / "rasa.log", env=self.env,
                           credentials=self.credentials)

    @property
    def url(self) -> str:
        """Rasa's base URL."""
        return f"http://127.0.0.1:{self.rasa_port}"

    def start(self) -> None:
        for proc in self.procs:
            proc.start()
        try:
            wait_ready(self.procs, timeout=240)
        except BaseException:
            self.stop()  # a failed start must not leave the other server running
            raise

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def running(stack: S) -> Iterator[S]:
    """Start ``stack``, hand it over, stop it: a module fixture's body (``yield from``)."""
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
