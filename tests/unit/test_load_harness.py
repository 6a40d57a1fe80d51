"""The load and lock-store benchmarks' own logic, without servers: the checks must catch what
they claim to catch, and the fault schedule must do what it says."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone

import pytest

from bench.citizens import Attempt, RunLog, Sent, petition_steps, questions
from bench.faults import FaultInjector, FaultPlan, Window, window_report
from bench.tracker_events import StoredEvent, check_conversation, summarise
from bench.verify import CaseRow, case_report, percentile


def _turn(tag: str | None) -> list[StoredEvent]:
    return [
        StoredEvent("user", None, tag),
        StoredEvent("action", "action_programme", None),
        StoredEvent("bot", None, None),
        StoredEvent("action", "action_listen", None),
    ]


def test_conversation_check_counts_lost_duplicated_and_reordered_messages() -> None:
    rounds = [["a", "b"], ["c", "d"]]
    clean = check_conversation("s", rounds, _turn("b") + _turn("a") + _turn("d") + _turn("c"))
    assert clean.ok and clean.stored == 4

    lossy = check_conversation("s", rounds, _turn("a") + _turn("a") + _turn("c") + _turn("x"))
    assert lossy.lost == ["b", "d"] and lossy.duplicated == ["a"] and lossy.unexpected == ["x"]
    assert not lossy.ok

    reordered = check_conversation("s", rounds, _turn("c") + _turn("a") + _turn("b") + _turn("d"))
    assert reordered.out_of_order and not reordered.lost


def test_conversation_check_sees_two_turns_running_at_once() -> None:
    overlapping = [StoredEvent("user", None, "a"), *_turn("b")]
    check = check_conversation("s", [["a", "b"]], overlapping)
    assert check.interleaved == 1 and not check.ok
    summary = summarise([check])
    assert (summary.interleaved, summary.lost, len(summary.examples)) == (1, 0, 1)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (
        50.0, 95.0, 99.0)
    assert percentile([], 50) is None


def test_citizen_material() -> None:
    pool = questions()
    assert len(pool) > 50
    assert not [q for q in pool if re.search(r"[\[\]{}]", q)]  # annotations removed
    assert any(q.isascii() for q in pool) and any(not q.isascii() for q in pool)
    for variant in range(4):
        kind, steps = petition_steps(variant, 10042)
        assert steps[-1] == ("confirm", "/affirm")
        assert sum("10042" in text for _, text in steps) == 1, kind


def _case(code: str, sender: str, content: str, key: str) -> CaseRow:
    return CaseRow(1, code, "petition", content, sender, key, datetime.now(timezone.utc))


def test_case_report_finds_missing_untold_and_duplicated_cases() -> None:
    log = RunLog(
        attempts=[
            Attempt("s1", "petition", "ngõ 1", confirm_started=1.0, code="KN-2611-0001"),
            Attempt("s2", "petition", "ngõ 2", confirm_started=2.0, code="KN-2611-0002"),
            Attempt("s3", "petition", "ngõ 3", confirm_started=3.0, abandoned="error"),
            Attempt("s4", "petition", "ngõ 4", confirm_started=4.0, code="KN-2611-0004"),
        ]
    )
    cases = [
        _case("KN-2611-0001", "s1", "ngõ 1", "k1"),
        _case("KN-2611-0003", "s3", "ngõ 3", "k3"),  # saved, never told
        _case("KN-2611-0004", "s4", "ngõ 4", "k4"),
        _case("KN-2611-0005", "s4", "ngõ 4", "k5"),  # the same attempt saved twice
    ]
    report = case_report(log, cases)
    assert report["confirmed"] == 3 and report["not_confirmed"] == 1
    assert report["not_confirmed_by_reason"] == {"error": 1}
    assert report["told_but_missing"] == 1  # KN-2611-0002
    assert report["saved_without_confirmation"] == 2  # 0003 and 0005
    assert report["duplicated_cases"] == 1
    assert report["told_exactly_once_in_db"] == 2


class _FakeProfile:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def kill(self, name: str) -> None:
        self.calls.append(f"kill {name}")

    def restart(self, name: str, wait: bool = True) -> float:
        self.calls.append(f"restart {name}")
        return 0.5


def test_process_faults_leave_postgres_and_redis_alone_and_open_windows() -> None:
    plan = FaultPlan.named("processes")
    assert [s for _, s in plan.steps] == [
        "kill rasa-2", "kill actions-1", "restart rasa-2", "restart actions-1"]
    assert len(FaultPlan.named("all").steps) == 6
    with pytest.raises(ValueError):
        FaultPlan.named("everything")

    profile = _FakeProfile()
    loop_start: list[float] = []

    def clock() -> float:
        return asyncio.get_running_loop().time() - loop_start[0]

    async def run() -> FaultInjector:
        loop_start.append(asyncio.get_running_loop().time())
        injector = FaultInjector(profile, 0.4, clock, plan, progress=lambda _: None)
        await injector.run()
        return injector

    injector = asyncio.run(run())
    assert profile.calls == [s for _, s in plan.steps]
    windows = {w.name: w for w in injector.windows}
    assert set(windows) == {"rasa-2 down", "actions-1 down"}
    assert all(w.end is not None and w.end > w.start and not w.error for w in windows.values())
    assert 0.09 <= windows["rasa-2 down"].start < windows["actions-1 down"].start < 0.4

    log = RunLog(
        sent=[
            Sent(0, "s", "asker", "question", "q", "s:1", 0.09, 0.01, 200, "", ["ok"]),
            Sent(0, "s", "asker", "question", "q", "s:2", 0.11, 0.02, 502, "HTTP 502"),
            Sent(0, "s", "asker", "question", "q", "s:3", 0.15, 0.05, 200, "", ["ok"]),
        ],
        wall_s=0.5,
    )
    first = window_report([Window("rasa-2 down", 0.1, 0.3)], log, [], {})[0]
    assert (first["messages"], first["failed"], first["failed_by_kind"]) == (
        2, 1, {"HTTP 502": 1})
    assert first["first_success_after_s"] is not None


async def _petition_against_a_slow_server(finish_grace: float) -> RunLog:
    """One citizen who always files, against a fake Rasa webhook on 127.0.0.1 that takes
    0.25 s a message and tells a code on the confirmation; the run's clock is 1 s."""
    from aiohttp import web

    from bench.citizens import CONFIRM, Options, Population

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(0.25)
        text = "Đã lưu. Mã hồ sơ: KN-2612-0001" if body["message"] == CONFIRM else "Dạ."
        return web.json_response([{"recipient_id": body["sender"], "text": text}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        population = Population(Options(
            rasa_url=f"http://127.0.0.1:{port}", citizens=1, duration=1.0, think=(0.05, 0.1),
            timeout=5.0, retry_pause=0.1, finish_grace=finish_grace, filing_share=1.0,
            status_share=0.0,
        ))
        return await population.run()
    finally:
        await runner.cleanup()


def test_a_petition_under_way_at_the_deadline_finishes_within_the_grace() -> None:
    # Five or more messages of 0.25 s each cannot end within the 1 s run: without a grace the
    # petition is cut off at the deadline (what left CI's busy machine with nothing to check),
    # with one it reaches its code, and the citizen starts nothing new afterwards.
    cut = asyncio.run(_petition_against_a_slow_server(finish_grace=0.0))
    assert [a.abandoned for a in cut.attempts] == ["deadline"]
    finished = asyncio.run(_petition_against_a_slow_server(finish_grace=10.0))
    assert [(a.code, a.abandoned) for a in finished.attempts] == [("KN-2612-0001", "")]
    assert finished.citizens == 1 and finished.wall_s < 10.0
