"""Bring back a process that crashed or stopped answering, within a limit, and say so.

``./mttq run`` used to stop everything when one process died, and nothing noticed a process that
was alive but frozen (issue 18: a frozen action server left citizens without answers). The
:class:`Supervisor` is what both ``./mttq run`` and ``./mttq prod`` call every half second:

* a process that exited is started again at once;
* a process that is alive but fails its health check ``unresponsive_checks`` times in a row
  (checked every ``check_every`` seconds, never during ``startup_grace`` after a start, since Rasa
  needs up to a minute to load its model) is stopped and started again;
* at most ``max_restarts`` restarts per process in ``window`` seconds: a process that keeps
  crashing is left stopped with an error line naming its log, rather than restarted forever.

Every decision is one log line on stderr. Time and the probes are injected, so the policy is
tested without real processes or waiting.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

__all__ = ["Supervisor"]


@dataclass
class _State:
    started: float
    restarts: deque[float] = field(default_factory=deque)
    failed_checks: int = 0
    last_check: float = float("-inf")


class Supervisor:
    """Watches named processes through ``alive``/``healthy`` probes and ``restart``s them."""

    def __init__(
        self,
        names: Iterable[str],
        *,
        alive: Callable[[str], bool],
        healthy: Callable[[str], bool],
        restart: Callable[[str], object],
        log_path: Callable[[str], str] = lambda name: "its log",
        clock: Callable[[], float] = time.monotonic,
        max_restarts: int = 5,
        window: float = 600.0,
        check_every: float = 10.0,
        unresponsive_checks: int = 3,
        startup_grace: float = 300.0,
        out: IO[str] | None = None,
    ) -> None:
        self.alive, self.healthy, self._restart = alive, healthy, restart
        self.log_path, self.clock = log_path, clock
        self.max_restarts, self.window = max_restarts, window
        self.check_every, self.unresponsive_checks = check_every, unresponsive_checks
        self.startup_grace = startup_grace
        self.out = out
        now = clock()
        self.states = {name: _State(started=now) for name in names}
        self.given_up: set[str] = set()

    def _say(self, line: str) -> None:
        print(line, file=self.out or sys.stderr, flush=True)

    def tick(self) -> list[str]:
        """One pass over every process; returns the names restarted in it."""
        restarted = []
        now = self.clock()
        for name, state in self.states.items():
            if name in self.given_up:
                continue
            if not self.alive(name):
                reason = "stopped unexpectedly"
            elif self._unresponsive(name, state, now):
                reason = (f"did not answer its health check {self.unresponsive_checks} times "
                          f"in a row")
            else:
                continue
            if self._try_restart(name, state, now, reason):
                restarted.append(name)
        return restarted

    def _unresponsive(self, name: str, state: _State, now: float) -> bool:
        if now - state.started < self.startup_grace or now - state.last_check < self.check_every:
            return False
        state.last_check = now
        if self.healthy(name):
            state.failed_checks = 0
            return False
        state.failed_checks += 1
        return state.failed_checks >= self.unresponsive_checks

    def _try_restart(self, name: str, state: _State, now: float, reason: str) -> bool:
        while state.restarts and now - state.restarts[0] >= self.window:
            state.restarts.popleft()
        if len(state.restarts) >= self.max_restarts:
            self.given_up.add(name)
            self._say(f"error: {name} {reason} and was already restarted {self.max_restarts} "
                      f"times in {self.window / 60:.0f} minutes: not restarting it again "
                      f"(see {self.log_path(name)})")
            return False
        state.restarts.append(now)
        self._say(f"warning: {name} {reason}; restarting it (restart {len(state.restarts)} of "
                  f"at most {self.max_restarts} in {self.window / 60:.0f} minutes; see "
                  f"{self.log_path(name)})")
        self._restart(name)
        state.started, state.failed_checks, state.last_check = self.clock(), 0, float("-inf")
        return True
