"""How fast the Facebook and Zalo webhooks acknowledge: alone, and 20 deliveries at once.

Starts the action server and the real Rasa server (newest trained model, our channels from a
credentials file) against local fake Graph and Zalo APIs (in a child process of their own), then
per channel:

* ``idle``: ``--idle`` single deliveries, each once the previous turn is over: the cost of the
  acknowledgement itself (signature, recording the id, queueing);
* ``waves``: ``--rounds`` waves of ``--concurrency`` signed deliveries sent at once, each from a
  new person writing "xin chao"; a wave goes once the previous wave's turns are over;
* ``flooded``: ``--rounds`` times, ``--concurrency`` chat (REST) messages of ``--flood-chars``
  characters sent at once from as many senders, and while Rasa works on them, a wave of
  ``--concurrency`` signed deliveries: the acknowledgements must not wait for the long messages'
  NLU (issue 18: 20 such messages once held them for 16 s);
* ``backlog``: the same waves back to back, without waiting for the assistant: the
  acknowledgements then share Rasa's event loop with the turns of every earlier wave (Rasa runs
  NLU, policies and its tracker store on that loop).

Every webhook answer is timed at the client. At the end it waits until every person got their
reply and reports how many did.

    PYTHONPATH=. .venv/bin/python -m bench.webhook_ack [--rounds 10] [--concurrency 20] [--idle 20]
        [--flood-chars 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from bench.stats import pct
from bot.channels import facebook, zalo
from bot.fakes.platforms import FakesProcess
from tools import model
from tools.env import scratch_stack_env
from tools.procs import action_server, free_ports, rasa_server, wait_ready

FB_SECRET, FB_TOKEN = "bench-fb-secret", "BENCH-PAGE-TOKEN"
ZALO_APP_ID, ZALO_OA_KEY, ZALO_APP_SECRET = "1234567890", "bench-oa-key", "BENCH-APP-SECRET"
CREDENTIALS = "rest:\nbot.channels.facebook.FacebookChannel:\nbot.channels.zalo.ZaloChannel:\n"


def _facebook(user: str) -> tuple[bytes, dict[str, str]]:
    now = int(time.time() * 1000)
    body = json.dumps({"object": "page", "entry": [{"id": "1", "time": now, "messaging": [
        {"sender": {"id": user}, "recipient": {"id": "1"}, "timestamp": now,
         "message": {"mid": f"m_{uuid.uuid4().hex}", "text": "xin chao"}}]}]}).encode()
    return body, {"X-Hub-Signature-256": facebook.sign(FB_SECRET, body)}


def _zalo(user: str) -> tuple[bytes, dict[str, str]]:
    now = str(int(time.time() * 1000))
    body = json.dumps({"app_id": ZALO_APP_ID, "sender": {"id": user}, "recipient": {"id": "9"},
                       "event_name": "user_send_text", "timestamp": now,
                       "message": {"text": "xin chao", "msg_id": uuid.uuid4().hex}}).encode()
    return body, {"X-ZEvent-Signature": zalo.sign(ZALO_APP_ID, body, now, ZALO_OA_KEY)}


class Bench:
    def __init__(self, url: str, fakes: FakesProcess) -> None:
        self.url = url
        self.fakes = fakes
        self.users: dict[str, list[str]] = {"facebook": [], "zalo": []}

    async def deliver(self, http: aiohttp.ClientSession, channel: str) -> float:
        user = f"{channel[:2]}{uuid.uuid4().int % 10**15:015d}"
        self.users[channel].append(user)
        body, headers = (_facebook if channel == "facebook" else _zalo)(user)
        started = time.perf_counter()
        async with http.post(f"{self.url}/webhooks/{channel}/webhook", data=body,
                             headers={"Content-Type": "application/json", **headers}) as answer:
            await answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{channel} answered {answer.status}")
        return (time.perf_counter() - started) * 1000

    def wait_replies(self, timeout: float = 300.0) -> tuple[dict[str, int], float]:
        started = time.monotonic()
        while True:
            delivered = self.fakes.delivered()
            answered = {c: sum(1 for u in users if delivered[c].get(u))
                        for c, users in self.users.items()}
            if all(answered[c] == len(u) for c, u in self.users.items()) or \
                    time.monotonic() - started > timeout:
                return answered, time.monotonic() - started
            time.sleep(0.2)

    async def idle(self, channel: str, count: int) -> list[float]:
        times = []
        async with aiohttp.ClientSession() as http:
            for _ in range(count):
                times.append(await self.deliver(http, channel))
                user = self.users[channel][-1]
                deadline = time.monotonic() + 60
                while not self.fakes.delivered()[channel].get(user):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no reply to {user}")
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)  # let the turn finish (tracker saved) before the next
        return times

    async def burst(self, channel: str, rounds: int, concurrency: int, *,
                    settle: bool = False) -> list[float]:
        times: list[float] = []
        connector = aiohttp.TCPConnector(limit=concurrency * 2)
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(rounds):
                times += await asyncio.gather(*(self.deliver(http, channel)
                                                for _ in range(concurrency)))
                if settle:  # wait until this wave's turns are over before the next
                    wave = self.users[channel][-concurrency:]
                    deadline = time.monotonic() + 120
                    while not all(self.fakes.delivered()[channel].get(u) for u in wave):
                        if time.monotonic() > deadline:
                            raise RuntimeError("a wave was not answered in 120 s")
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(0.3)
        return times


#: A long, ordinary complaint: what a citizen pasting a whole letter sends.
LONG_COMPLAINT = ("Kính gửi Ủy ban Mặt trận Tổ quốc phường, tôi xin phản ánh việc con đường trong "
                  "ngõ 12 bị ngập nước kéo dài, cống thoát nước bị tắc, rác thải không được thu "
                  "gom đúng giờ, ảnh hưởng tới sinh hoạt của bà con trong tổ dân phố. ")


async def flooded(bench: Bench, channel: str, rounds: int, concurrency: int,
                  chars: int) -> tuple[list[float], int]:
    """Acknowledgement times of ``channel`` deliveries sent while ``concurrency`` long chat
    messages are being handled; and how many chat messages got an answer."""
    text = (LONG_COMPLAINT * (chars // len(LONG_COMPLAINT) + 1))[:chars]
    times: list[float] = []
    answered = 0
    connector = aiohttp.TCPConnector(limit=concurrency * 4)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        async def chat(n: int) -> bool:
            async with http.post(f"{bench.url}/webhooks/rest/webhook",
                                 json={"sender": f"flood-{uuid.uuid4().hex[:8]}-{n}",
                                       "message": text}) as answer:
                return answer.status == 200 and bool(await answer.json())
        for _ in range(rounds):
            flood = [asyncio.create_task(chat(n)) for n in range(concurrency)]
            await asyncio.sleep(0.2)  # the long messages are in Rasa now
            times += await asyncio.gather(*(bench.deliver(http, channel)
                                            for _ in range(concurrency)))
            answered += sum(await asyncio.gather(*flood))
    return times, answered


def _row(label: str, times: list[float]) -> str:
    return (f"{label:<18}{len(times):>6}{statistics.median(times):>9.1f}"
            f"{pct(times, 0.99):>9.1f}{max(times):>9.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--idle", type=int, default=20)
    parser.add_argument("--flood-chars", type=int, default=20_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 100 or not 1 <= args.concurrency <= 200 or \
            not 1 <= args.idle <= 200:
        parser.error("--rounds must be 1..100, --concurrency and --idle 1..200")

    trained = model.latest_model() or model.train(quiet=True).path
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    (tmp / "credentials.yml").write_text(CREDENTIALS)
    fakes = FakesProcess(graph={"page_token": FB_TOKEN},
                         zalo={"app_id": ZALO_APP_ID, "app_secret": ZALO_APP_SECRET}).start()
    rasa_port, action_port = free_ports(2)
    env = scratch_stack_env(tmp, action_port, {
        **({"DATABASE_URL": args.database_url} if args.database_url else {}),
        "FACEBOOK_VERIFY_TOKEN": "bench", "FACEBOOK_APP_SECRET": FB_SECRET,
        "FACEBOOK_PAGE_ACCESS_TOKEN": FB_TOKEN, "FACEBOOK_GRAPH_BASE": fakes.urls["graph"],
        "ZALO_APP_ID": ZALO_APP_ID, "ZALO_OA_SECRET_KEY": ZALO_OA_KEY,
        "ZALO_ACCESS_TOKEN": fakes.urls["zalo_access_token"],
        "ZALO_REFRESH_TOKEN": fakes.urls["zalo_refresh_token"],
        "ZALO_APP_SECRET": ZALO_APP_SECRET, "ZALO_API_BASE": fakes.urls["zalo"],
        "ZALO_OAUTH_BASE": fakes.urls["zalo"],
    })
    actions = action_server(action_port, log=tmp / "actions.log", env=env)
    rasa = rasa_server(trained, rasa_port, log=tmp / "rasa.log", env=env,
                       credentials=str(tmp / "credentials.yml"))
    bench = Bench(f"http://127.0.0.1:{rasa_port}", fakes)
    results: dict[str, list[float]] = {}
    try:
        actions.start()
        rasa.start()
        wait_ready([actions, rasa], timeout=300)
        for channel in ("facebook", "zalo"):
            asyncio.run(bench.idle(channel, 3))  # warm-up: first connections, caches
            results[f"{channel} idle"] = asyncio.run(bench.idle(channel, args.idle))
        for channel in ("facebook", "zalo"):
            results[f"{channel} waves"] = asyncio.run(
                bench.burst(channel, args.rounds, args.concurrency, settle=True))
        flood_answered = 0
        for channel in ("facebook", "zalo"):
            results[f"{channel} flooded"], got = asyncio.run(
                flooded(bench, channel, args.rounds, args.concurrency, args.flood_chars))
            flood_answered += got
        for channel in ("facebook", "zalo"):
            results[f"{channel} backlog"] = asyncio.run(
                bench.burst(channel, args.rounds, args.concurrency))
        answered, drained = bench.wait_replies()
    finally:
        rasa.stop()
        actions.stop()
        fakes.stop()

    command = "PYTHONPATH=. .venv/bin/python -m bench.webhook_ack " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    print(f"$ {command}")
    print(f"model: {trained.name}; database: "
          f"{'postgresql' if args.database_url.startswith('postgres') else 'sqlite'}; "
          f"{os.cpu_count()} CPUs; idle: {args.idle} deliveries one at a time; waves, backlog: "
          f"{args.rounds} waves of {args.concurrency} concurrent deliveries; flooded: each wave "
          f"sent while {args.concurrency} chat messages of {args.flood_chars} characters run")
    print(f"{'webhook answer':<18}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for label, times in results.items():
        print(_row(label, times))
    total = {c: len(u) for c, u in bench.users.items()}
    print("replies: " + ", ".join(f"{c} {answered[c]}/{total[c]}" for c in total)
          + f"; the last one {drained:.1f} s after the last acknowledgement; long chat messages "
          f"answered {flood_answered}/{2 * args.rounds * args.concurrency}")
    return 0 if answered == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
