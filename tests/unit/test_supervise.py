"""Issue 18, attack 6: `./mttq run` and `./mttq prod` bring back a crashed or frozen process,
within a limit, with a log line; on a fake clock (no waiting) and once with a real process."""

from __future__ import annotations

import io
import sys

from tools.procs import Proc
from tools.supervise import Supervisor


class World:
    def __init__(self) -> None:
        self.now = 0.0
        self.up = {"actions": True, "rasa": True}
        self.answers = {"actions": True, "rasa": True}
        self.restarts: list[str] = []
        self.out = io.StringIO()

    def restart(self, name: str) -> None:
        self.restarts.append(name)
        self.up[name] = True

    def supervisor(self, **options: float) -> Supervisor:
        return Supervisor(["actions", "rasa"], alive=self.up.__getitem__,
                          healthy=self.answers.__getitem__, restart=self.restart,
                          clock=lambda: self.now, out=self.out, **options)  # type: ignore[arg-type]


def test_a_crashed_process_is_restarted_with_a_log_line_and_the_others_left_alone() -> None:
    world = World()
    supervisor = world.supervisor()
    assert supervisor.tick() == []
    world.up["actions"] = False
    assert supervisor.tick() == ["actions"]
    assert world.restarts == ["actions"]
    assert "actions stopped unexpectedly; restarting it (restart 1 of at most 5" in world.out.getvalue()


def test_a_process_that_keeps_crashing_is_given_up_after_the_limit() -> None:
    world = World()
    supervisor = world.supervisor(max_restarts=3, window=600)
    for _ in range(3):
        world.up["rasa"] = False
        assert supervisor.tick() == ["rasa"]
        world.now += 10
    world.up["rasa"] = False
    assert supervisor.tick() == [] and supervisor.given_up == {"rasa"}
    assert "not restarting it again" in world.out.getvalue()
    world.now += 600  # even later, a given-up process stays down: a person must look
    assert supervisor.tick() == []


def test_restarts_older_than_the_window_do_not_count() -> None:
    world = World()
    supervisor = world.supervisor(max_restarts=2, window=600)
    for _ in range(5):
        world.up["rasa"] = False
        assert supervisor.tick() == ["rasa"]
        world.now += 400
    assert supervisor.given_up == set()


def test_a_frozen_process_is_restarted_after_consecutive_failed_checks_not_during_startup() -> None:
    world = World()
    supervisor = world.supervisor(check_every=10, unresponsive_checks=3, startup_grace=60)
    world.answers["actions"] = False
    world.now = 30
    assert supervisor.tick() == []  # still in its start-up grace: not even checked
    for now, expected in ((60, []), (65, []), (70, []), (80, ["actions"])):
        world.now = now
        assert supervisor.tick() == expected, now
    assert "did not answer its health check 3 times in a row" in world.out.getvalue()
    world.now = 100  # restarted at 80: back in its grace period
    assert supervisor.tick() == []


def test_one_good_answer_resets_the_count() -> None:
    world = World()
    supervisor = world.supervisor(check_every=10, unresponsive_checks=3, startup_grace=0)
    for now, answers in ((10, False), (20, False), (30, True), (40, False), (50, False)):
        world.now, world.answers["rasa"] = now, answers
        assert supervisor.tick() == []


def test_a_real_process_that_dies_comes_back() -> None:
    proc = Proc("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], ready_url="")
    proc.start()
    out = io.StringIO()

    def restart(name: str) -> None:
        proc.stop()
        proc.start()

    supervisor = Supervisor(["sleeper"], alive=lambda name: proc.alive(),
                            healthy=lambda name: True, restart=restart, out=out)
    try:
        assert proc.popen is not None
        first = proc.popen.pid
        proc.popen.kill()
        proc.popen.wait(timeout=10)
        assert supervisor.tick() == ["sleeper"]
        assert proc.alive() and proc.popen.pid != first
    finally:
        proc.stop()
    assert "sleeper stopped unexpectedly" in out.getvalue()
