"""Chat (REST) turns are bounded like the webhook channels' turns (issue 18 item 3): at most
``limit`` at once, and none starts while a webhook is being acknowledged. Judged by what was in
flight together, not by durations."""

from __future__ import annotations

import asyncio

from bot.channels import rest
from bot.channels.pipeline import ACK_GATE


def test_no_more_than_the_limit_run_at_once() -> None:
    async def scenario() -> tuple[int, int]:
        slots = rest.TurnSlots(limit=2)
        release = asyncio.Event()
        started = 0

        async def turn() -> None:
            nonlocal started
            started += 1
            await release.wait()

        tasks = [asyncio.create_task(slots.run(turn)) for _ in range(6)]
        for _ in range(50):
            await asyncio.sleep(0)
        running_while_held = started
        release.set()
        await asyncio.gather(*tasks)
        return running_while_held, slots.most_running

    held, most = asyncio.run(scenario())
    assert held == 2
    assert most == 2


def test_a_turn_waits_while_a_webhook_is_being_acknowledged(monkeypatch) -> None:
    monkeypatch.setattr(ACK_GATE, "max_wait", 60.0)  # only the ack's end may release the turn

    async def scenario() -> list[str]:
        slots = rest.TurnSlots(limit=2)
        order: list[str] = []

        async def turn() -> None:
            order.append("turn")

        ACK_GATE.enter()
        try:
            task = asyncio.create_task(slots.run(turn))
            for _ in range(20):
                await asyncio.sleep(0)
            order.append("ack done")
        finally:
            ACK_GATE.leave()
        await task
        return order

    assert asyncio.run(scenario()) == ["ack done", "turn"]


def test_the_channel_routes_its_turns_through_the_slots() -> None:
    channel = rest.RestChannel()
    assert isinstance(channel.turns, rest.TurnSlots)
    assert channel.turns.limit >= 1
