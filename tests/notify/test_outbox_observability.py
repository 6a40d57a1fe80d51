"""What the outbox worker tells operations: each recorded result (for /metrics), and the
conversation id of the row's case on the log lines of its delivery."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy.engine import Engine

from bot.db.models import OutboxKind
from bot.delivery.senders import DeliveryResult, OutboxRow
from bot.notify.outbox import SessionFactory, deliver_pass
from bot.observability import logs
from tests.notify.conftest import OPTIONS, new_case

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


class RecordingSender:
    """Fails the first attempt, then delivers; notes the bound conversation each time."""

    def __init__(self) -> None:
        self.bound: list[str | None] = []

    async def send(self, row: OutboxRow) -> DeliveryResult:
        self.bound.append(logs.current_conversation())
        logging.getLogger("tests.sender").info("delivering row %s", row.id)
        if len(self.bound) == 1:
            return DeliveryResult.retry("Telegram 502")
        return DeliveryResult.sent()


async def test_results_are_reported_and_logs_carry_the_conversation(
    engine: Engine, factory: SessionFactory
) -> None:
    new_case(engine, now=NOW)  # its staff_notify row, for conversation "conv-<n>"
    sender = RecordingSender()
    results: list[tuple[str, str, str | None]] = []

    def on_result(row: OutboxRow, state: str) -> None:
        results.append((row.kind, state, row.conversation_id))

    senders = {OutboxKind.STAFF_NOTIFY: sender}
    await deliver_pass(factory, senders, now=NOW, options=OPTIONS, on_result=on_result)
    later = NOW.replace(hour=3)
    await deliver_pass(factory, senders, now=later, options=OPTIONS, on_result=on_result)

    (conversation,) = set(sender.bound)
    assert conversation is not None and conversation.startswith("conv-")
    assert results == [("staff_notify", "pending", conversation),
                       ("staff_notify", "sent", conversation)]
    assert logs.current_conversation() is None


async def test_a_failing_observer_never_stops_deliveries(
    engine: Engine, factory: SessionFactory
) -> None:
    new_case(engine, now=NOW)

    def broken(row: OutboxRow, state: str) -> None:
        raise RuntimeError("metrics down")

    class Deliver:
        async def send(self, row: OutboxRow) -> DeliveryResult:
            return DeliveryResult.sent()

    report = await deliver_pass(factory, {OutboxKind.STAFF_NOTIFY: Deliver()}, now=NOW,
                                options=OPTIONS, on_result=broken)
    assert (report.handled, report.sent) == (1, 1)


async def test_a_protected_senders_log_lines_name_the_case(
    engine: Engine, factory: SessionFactory
) -> None:
    from bot.cases.legal_type_record import set_legal_type
    from bot.cases.service import Actor
    from bot.db.engine import session_scope

    case_id = new_case(engine, now=NOW)
    with session_scope(engine) as session:  # a likely tố cáo the classifier typed otherwise
        set_legal_type(session, case_id, "phan_anh", Actor.system(), confidence=0.6,
                       protect_identity=True, now=NOW)

    class Deliver:
        def __init__(self) -> None:
            self.bound: list[str | None] = []

        async def send(self, row: OutboxRow) -> DeliveryResult:
            self.bound.append(logs.current_conversation())
            return DeliveryResult.sent()

    sender = Deliver()
    await deliver_pass(factory, {OutboxKind.STAFF_NOTIFY: sender}, now=NOW, options=OPTIONS)
    assert sender.bound == [f"case-{case_id}"]
