"""Killing the staff service while notifications are pending loses none: after a restart each is
sent once.

The real web service (``python -m bot.web``: outbox worker + Telegram webhook, the real
python-telegram-bot) runs against a fake Bot API in this process that answers slowly and fails
the first post. Several cases are filed straight into the shared SQLite database (each with its
``staff_notify`` row, as ``bot.cases.service.create_case`` writes them); the service is SIGKILLed while
one notification is in flight, then started again. Afterwards every notification was posted to
the unit's group exactly once and every outbox row is ``sent`` once:

* the two posted before the kill are not posted again;
* the one that failed (Telegram 500) is retried after its backoff, by the new process;
* the one in flight when the process died stays claimed until its lease runs out (not posted
  early by the new process), then is claimed again and posted once;
* the one never claimed is posted right after the restart.

"In flight" here means the request had not been accepted by Telegram when the process died (the
fake drops a request whose client is gone). Telegram accepting a message and the process dying
before it records that is the documented at-least-once boundary (``bot/notify/outbox.py``) and
is not what this checks. The lease is one minute here (``OUTBOX_LEASE_SECONDS``; two in
production), so this module takes about a minute and a half.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cases.service import CaseDraft, create_case
from bot.db.engine import make_engine, session_scope
from bot.db.models import CaseKind, Outbox, OutboxStatus, TelegramMessage, Unit
from bot.db.types import utcnow
from bot.fakes.telegram import message_update, user
from bot.notify import links
from tests.e2e.e2e_support import (
    TelegramThread,
    fake_telegram,
    free_port,
    log_tail,
    post_update,
    service_env,
    staff_service,
    wait_for,
)
from tools.procs import Proc, wait_ready

pytestmark = pytest.mark.slow

LANG_CHAT = -1001000000101
ADMIN_TG = 770001
N_CASES = 5
LATENCY = 1.0  # seconds the fake Bot API takes per call before the kill
LEASE_SECONDS = 60


class StaffService:
    """``python -m bot.web`` on one port, restartable (same env, same log file)."""

    def __init__(self, tmp: Path, tg: TelegramThread) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = service_env(tmp, staff_port=self.port, telegram_base=tg.base_url)
        # Half the production lease (two minutes): the test waits it out once.
        self.env["OUTBOX_LEASE_SECONDS"] = str(LEASE_SECONDS)
        self.log = tmp / "logs" / "web.log"
        self.proc: Proc | None = None

    def start(self) -> None:
        self.proc = staff_service(self.port, self.env, self.log)
        self.proc.start()
        try:
            wait_ready([self.proc], timeout=60)
        except (RuntimeError, TimeoutError) as error:
            pytest.fail(f"{error}\n{log_tail(self.log)}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no chance to record anything."""
        assert self.proc is not None and self.proc.popen is not None
        self.proc.popen.kill()
        self.proc.popen.wait(timeout=10)
        self.proc.stop()  # closes the log

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


@dataclass
class World:
    tg: TelegramThread
    web: StaffService
    engine: Engine


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("outbox-restart")
    with fake_telegram() as tg:
        web = StaffService(tmp, tg)
        engine: Engine | None = None
        try:
            web.start()  # migrates the database and syncs the unit tree
            engine = make_engine(web.env["DATABASE_URL"])
            yield World(tg, web, engine)
        finally:
            web.stop()
            if engine is not None:
                engine.dispose()


def _file_case(engine: Engine, n: int) -> tuple[int, str]:
    with session_scope(engine) as session:
        created = create_case(
            session,
            CaseDraft(
                kind=CaseKind.PETITION,
                content=f"Hồ sơ thử số {n}: đèn đường ngõ {n} phố Láng Hạ bị hỏng.",
                channel="facebook",
                channel_user_id=f"psid-restart-{n}",
                unit_code="p_lang",
                category="trat_tu_do_thi",
                location_text=f"ngõ {n} phố Láng Hạ",
                conversation_id=f"conv-restart-{n}",
            ),
            idempotency_key=f"e2e-restart-{n}",
        )
        return created.id, created.ref_code


def _rows(engine: Engine) -> dict[int, Outbox]:
    """The staff_notify rows by case id."""
    with session_scope(engine, read_only=True) as session:
        rows = session.execute(
            select(Outbox).where(Outbox.kind == "staff_notify").order_by(Outbox.id)
        ).scalars()
        return {int(r.case_id): r for r in rows}


def _posted(tg: TelegramThread, ref_codes: dict[int, str]) -> dict[int, int]:
    """How many case messages the fake group holds per case (what officers would see)."""
    messages = [m for (chat, _), m in tg.messages().items() if chat == LANG_CHAT]
    return {
        cid: sum(ref in (m.get("text") or "") for m in messages) for cid, ref in ref_codes.items()
    }


def _send_calls(tg: TelegramThread, ref_codes: dict[int, str]) -> dict[int, int]:
    """sendMessage requests the fake answered (accepted or failed) per case."""
    calls = [c for c in tg.calls_of("sendMessage") if c.get("chat_id") == LANG_CHAT]
    return {
        cid: sum(ref in str(c.get("text") or "") for c in calls) for cid, ref in ref_codes.items()
    }


def _set(tg: TelegramThread, **attrs: Any) -> None:
    def apply(fake: Any) -> None:
        for name, value in attrs.items():
            setattr(fake, name, value)

    tg.read(apply)


def test_killed_mid_delivery_then_restarted_sends_each_notification_once(world: World) -> None:
    tg, web, engine = world.tg, world.web, world.engine

    # The unit's group is linked the way an admin does it: a one-time code posted in the group.
    with session_scope(engine) as session:
        code = links.create_group_link_code(session, "p_lang")
    response = post_update(
        web.base, message_update(LANG_CHAT, user(ADMIN_TG, "Quản trị"), f"/lienket {code}")
    )
    assert response.status_code == 200
    with session_scope(engine, read_only=True) as session:
        unit = session.get(Unit, "p_lang")
        assert unit is not None and unit.telegram_chat_id == LANG_CHAT

    # Telegram becomes slow, and its next sendMessage answers 500.
    _set(tg, latency=LATENCY)
    tg.read(
        lambda fake: fake.fail_next("sendMessage", status=500, description="Internal Server Error")
    )
    started_before = tg.started("sendMessage")

    ref_codes = dict(_file_case(engine, n) for n in range(1, N_CASES + 1))
    assert len(_rows(engine)) == N_CASES

    # One post failed, two went out, the fourth is on the wire: kill the service now.
    wait_for(
        lambda: tg.started("sendMessage") >= started_before + 4,
        timeout=40,
        what="the fourth case post to be in flight",
        interval=0.02,
    )
    web.kill()
    wait_for(
        lambda: tg.abandoned("sendMessage") >= 1,
        timeout=10,
        what="the fake Bot API to see the in-flight post dropped",
    )

    rows = _rows(engine)
    now = utcnow()
    sent = [cid for cid, r in rows.items() if r.status == OutboxStatus.SENT]
    backing_off = [
        cid
        for cid, r in rows.items()
        if r.status == OutboxStatus.PENDING and r.attempts == 1 and r.last_error
    ]
    leased = [
        cid
        for cid, r in rows.items()
        if r.status == OutboxStatus.PENDING and r.attempts == 1 and not r.last_error
    ]
    untouched = [
        cid for cid, r in rows.items() if r.status == OutboxStatus.PENDING and r.attempts == 0
    ]
    assert (len(sent), len(backing_off), len(leased), len(untouched)) == (2, 1, 1, 1), {
        cid: (r.status, r.attempts, r.last_error) for cid, r in rows.items()
    }
    [failed_once], [in_flight], [never_claimed] = backing_off, leased, untouched
    lease_end = rows[in_flight].next_attempt_at
    assert lease_end - now > timedelta(seconds=LEASE_SECONDS - 30), \
        "the in-flight row should hold a lease"
    assert _posted(tg, ref_codes) == {cid: int(cid in sent) for cid in ref_codes}

    # Restart (Telegram answers quickly again).
    _set(tg, latency=0.1)
    web.start()

    wait_for(
        lambda: _rows(engine)[never_claimed].status == OutboxStatus.SENT,
        timeout=30,
        what="the never-claimed notification to go out after the restart",
    )
    # The dead process's claim still holds: the new process does not post that case early.
    assert _rows(engine)[in_flight].status == OutboxStatus.PENDING
    assert _posted(tg, ref_codes)[in_flight] == 0

    budget = (lease_end - utcnow()).total_seconds() + 30
    wait_for(
        lambda: all(r.status == OutboxStatus.SENT for r in _rows(engine).values()),
        timeout=max(budget, 30),
        interval=1.0,
        what="every notification to be sent (the in-flight one after its lease)",
    )

    final = _rows(engine)
    assert all(r.sent_at is not None and r.last_error is None for r in final.values())
    assert {cid: r.attempts for cid, r in final.items()} == {
        cid: 2 if cid in (failed_once, in_flight) else 1 for cid in ref_codes
    }
    assert _posted(tg, ref_codes) == dict.fromkeys(ref_codes, 1)
    assert _send_calls(tg, ref_codes) == {
        cid: 2 if cid == failed_once else 1 for cid in ref_codes
    }  # the 500, then the post
    with session_scope(engine, read_only=True) as session:
        mapped = session.execute(select(TelegramMessage)).scalars().all()
    assert sorted(m.case_id for m in mapped) == sorted(ref_codes)
    assert {m.case_id: m.outbox_id for m in mapped} == {cid: r.id for cid, r in final.items()}

    # Another (graceful) restart sends nothing again.
    calls_before = len(tg.calls_of("sendMessage"))
    web.stop()
    web.start()
    time.sleep(5)  # more than two worker passes (every 2 s)
    assert len(tg.calls_of("sendMessage")) == calls_before
    assert _posted(tg, ref_codes) == dict.fromkeys(ref_codes, 1)
