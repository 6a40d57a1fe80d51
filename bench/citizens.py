"""Scripted citizens for the load test: questions, petitions to a reference code, status checks.

A *slot* is one simulated person at a time: it runs one citizen (a fresh sender id, so every
conversation starts clean), then the next, until the run's deadline. Citizens pause to think
between messages (``think`` seconds, uniform), and scripts are chosen at random (seeded):

* **asker**: sometimes a greeting, 2–4 programme questions (from ``bench/messages.py`` and the
  held-out set ``tests/data/nlu_eval/``: with and without diacritics, teencode), sometimes thanks;
* **petition** / **feedback**: the whole intake form, as the server tests drive it (four
  variants: diacritics or not, fields in one message with name and phone, feedback), then "Gửi";
  the reply must carry a reference code. Half of them then ask for the status of that code.

Every message carries a unique tag in its metadata (``bench.tracker_events``), and its
description (``Đèn … ngõ 10042 …``) holds a number unique to the attempt, so the checks can find
each message in the tracker store and each attempt's case in the feedback DB.

Every message carries a client message id (``message_id``, as the chat page sends); when the
connection drops or the answer is 502/503, the request is sent once more with the same id after
:data:`RESEND_PAUSE` (what the chat page does), which the server answers with the first
attempt's reply if that turn ran (``bot.conversation.replayed_turns``); ``Sent.resent`` and
``Sent.first_error`` record it. When a message still fails (no HTTP answer, a non-200, an empty
reply) the citizen behaves as a person would: waits ``retry_pause`` and sends the same message once more; a confirmation that failed is
repeated ("/affirm") once, and one answered "CHƯA được lưu" (database down) is followed by
"thử lại", which resends the same draft under the same idempotency key. A second failure ends
that citizen.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import aiohttp
import yaml

from bench.messages import MESSAGES
from bench.tracker_events import tagged
from bot.settings import ROOT

REF_CODE = re.compile(r"\b((?:KN|GY)-\d{4}-\d{4,})\b")
NOT_SAVED = "CHƯA được lưu"
RETRY_TEXT = "thử lại"
CONFIRM = "/affirm"
#: Pause before a request is sent once more with the same message id (the chat page's second).
RESEND_PAUSE = 1.0
#: Answers after which the same request is sent once more: the message may not have been handled.
RESEND_STATUSES = (502, 503)
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\{[^}]*\}|\([^)]*\))")


@lru_cache(maxsize=1)
def questions() -> list[str]:
    """Programme questions: the benchmark's own and the held-out set's (annotations removed)."""
    found = [text for text, intent in MESSAGES if intent == "ask_programme"]
    for name in ("with_diacritics.yml", "without_diacritics.yml"):
        data = yaml.safe_load((ROOT / "tests" / "data" / "nlu_eval" / name).read_text("utf-8"))
        for block in data.get("nlu", []):
            if block.get("intent") != "ask_programme":
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    found.append(_ANNOTATION.sub(r"\1", line[2:]).strip())
    return list(dict.fromkeys(q for q in found if q))


GREETINGS = ["xin chào", "chao ad", "Chào Mặt trận phường ạ", "alo ad oi"]
THANKS = ["cảm ơn ạ", "thanks ad nhe", "cam on nhieu"]


def petition_steps(variant: int, n: int) -> tuple[str, list[tuple[str, str]]]:
    """(kind, [(step, text)]) of one intake conversation ending with the confirmation; ``n``
    makes the description unique to this attempt."""
    if variant == 0:
        return "petition", [
            ("open", "toi muon gui kien nghi"),
            ("content", f"Đèn chiếu sáng ngõ {n} hỏng cả tuần nay, buổi tối rất tối và nguy hiểm"),
            ("place", "phường Láng"),
            ("category", '/inform{"category":"trat_tu_do_thi"}'),
            ("consent", "/deny"),
            ("confirm", CONFIRM),
        ]
    if variant == 1:
        return "petition", [
            ("open", "toi muon gui kien nghi"),
            ("content", f"cong thoat nuoc truoc nha so {n} bi vo, nuoc ban tran ra duong"),
            ("place", "phuong cau giay"),
            ("category", '/inform{"category":"moi_truong"}'),
            ("consent", "/deny"),
            ("confirm", CONFIRM),
        ]
    if variant == 2:
        return "petition", [
            (
                "content",
                f"Tôi muốn phản ánh: đống rác ở ngõ {n} phường Láng 3 ngày chưa được dọn, "
                "bốc mùi hôi khắp ngõ",
            ),
            ("consent", "/affirm"),
            ("name", "Nguyễn Văn An"),
            ("phone", "0912 345 678"),
            ("confirm", CONFIRM),
        ]
    return "feedback", [
        ("open", "gửi góp ý"),
        ("content", f"Buổi họp tổ dân phố số {n} nên thông báo sớm hơn trên nhóm Zalo"),
        ("place", "phường Ba Đình"),
        ("category", '/inform{"category":"hoat_dong_mat_tran"}'),
        ("consent", "/deny"),
        ("confirm", CONFIRM),
    ]


@dataclass
class Sent:
    """One message and what came back (times in seconds since the run started)."""

    slot: int
    sender: str
    script: str
    step: str
    text: str
    tag: str
    started: float
    latency: float = 0.0
    status: int = 0  # 0: no HTTP answer (timeout, refused, reset)
    error: str = ""
    replies: list[str] = field(default_factory=list)
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    resent: int = 0  # sent once more with the same id (dropped connection, 502/503)
    first_error: str = ""  # what made it resend

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.replies) and not self.error

    @property
    def finished(self) -> float:
        return self.started + self.latency

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Attempt:
    """One petition or feedback a citizen set out to file."""

    sender: str
    kind: str
    content: str
    confirm_started: float | None = None  # first confirmation sent
    code: str | None = None  # the reference code the citizen was told
    told_at: float | None = None
    not_saved_replies: int = 0  # "CHƯA được lưu" answers
    confirm_errors: int = 0  # confirmations without an HTTP 200 answer
    retried: bool = False
    abandoned: str = ""  # why the citizen stopped before a code ("deadline", "error", "flow")
    status_checked: bool | None = None  # asked for the status: did the answer name the code?

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Options:
    rasa_url: str
    citizens: int = 200
    duration: float = 120.0
    think: tuple[float, float] = (3.0, 10.0)
    timeout: float = 60.0
    retry_pause: float = 5.0
    #: Seconds after ``duration`` in which a petition already begun may still reach its code:
    #: a person half-way through the form finishes it when the clock of the test runs out. Why:
    #: on a slow or busy machine (CI's first pytest beside it) a whole petition can take longer
    #: than the short run's 30 s, and cutting every one off at the deadline left nothing to check.
    finish_grace: float = 120.0
    seed: int = 1
    #: Share of citizens who file a petition or feedback (the rest ask questions).
    filing_share: float = 0.4
    status_share: float = 0.5
    run_id: str = "run"


@dataclass
class RunLog:
    sent: list[Sent] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    citizens: int = 0
    started_at: float = 0.0  # time.monotonic() of t = 0
    wall_s: float = 0.0

    def senders(self) -> list[str]:
        return list(dict.fromkeys(s.sender for s in self.sent))


class Stop(Exception):
    """The deadline passed: the citizen stops before the next message."""


class Citizen:
    def __init__(
        self,
        population: Population,
        slot: int,
        sender: str,
        rng: random.Random,
    ) -> None:
        self.p = population
        self.slot = slot
        self.sender = sender
        self.rng = rng
        self.count = 0
        #: When this citizen stops: the run's deadline, later while a petition is under way.
        self.deadline = population.options.duration

    async def pause(self, seconds: float | None = None) -> None:
        low, high = self.p.options.think
        wait = self.rng.uniform(low, high) if seconds is None else seconds
        if self.p.now() + wait >= self.deadline:
            raise Stop
        await asyncio.sleep(wait)

    async def say(self, script: str, step: str, text: str) -> Sent:
        if self.p.now() >= self.deadline:
            raise Stop
        self.count += 1
        sent = Sent(
            self.slot, self.sender, script, step, text, f"{self.sender}:{self.count}", self.p.now()
        )
        self.p.log.sent.append(sent)
        await self.p.post(sent)
        return sent

    async def say_twice(self, script: str, step: str, text: str) -> Sent:
        """Send; on a failure wait and send the same text once more (what a person does)."""
        sent = await self.say(script, step, text)
        if sent.ok:
            return sent
        await self.pause(self.p.options.retry_pause)
        return await self.say(script, f"{step}:again", text)

    # -- scripts

    async def ask(self) -> None:
        pool = questions()
        if self.rng.random() < 0.5:
            await self.say_twice("asker", "greet", self.rng.choice(GREETINGS))
            await self.pause()
        for i in range(self.rng.randint(2, 4)):
            if i:
                await self.pause()
            await self.say_twice("asker", "question", self.rng.choice(pool))
        if self.rng.random() < 0.3:
            await self.pause()
            await self.say_twice("asker", "thanks", self.rng.choice(THANKS))

    async def file(self) -> None:
        variant = self.rng.randrange(4)
        kind, steps = petition_steps(variant, self.p.next_number())
        # The description as the case will hold it (variant 2 describes it in its first message).
        content = next(text for step, text in steps if step == "content")
        attempt = Attempt(self.sender, kind, content)
        self.p.log.attempts.append(attempt)
        self.deadline = self.p.options.duration + self.p.options.finish_grace
        try:
            for i, (step, text) in enumerate(steps):
                if i:
                    await self.pause()
                if step == "confirm":
                    await self.confirm(kind, attempt)
                    break
                sent = await self.say_twice(kind, step, text)
                if not sent.ok:
                    attempt.abandoned = "error"
                    return
        except Stop:
            if attempt.code is None and not attempt.abandoned:
                attempt.abandoned = "deadline"
            raise
        self.deadline = self.p.options.duration  # the status question only within the run
        if attempt.code and self.rng.random() < self.p.options.status_share:
            await self.pause()
            query = self.rng.choice(["tra cứu {}", "tra cuu {}", "hồ sơ {} xử lý đến đâu rồi"])
            sent = await self.say_twice(kind, "status", query.format(attempt.code))
            attempt.status_checked = sent.ok and attempt.code in " ".join(sent.replies)

    async def confirm(self, kind: str, attempt: Attempt) -> None:
        attempt.confirm_started = self.p.now()
        sent = await self.say(kind, "confirm", CONFIRM)
        if self._told(sent, attempt):
            return
        if sent.ok and not any(NOT_SAVED in r for r in sent.replies):
            attempt.abandoned = "flow"  # answered, but neither a code nor "not saved"
            return
        # Failed: wait, then "thử lại" after "not saved", else the same confirmation again.
        retry = RETRY_TEXT if any(NOT_SAVED in r for r in sent.replies) else CONFIRM
        attempt.retried = True
        await self.pause(self.p.options.retry_pause)
        again = await self.say(kind, "retry" if retry == RETRY_TEXT else "confirm:again", retry)
        if not self._told(again, attempt):
            attempt.abandoned = "error"

    def _told(self, sent: Sent, attempt: Attempt) -> bool:
        if sent.status != 200:
            attempt.confirm_errors += 1
        text = " ".join(sent.replies)
        attempt.not_saved_replies += int(NOT_SAVED in text)
        match = REF_CODE.search(text) if sent.status == 200 else None
        if match:
            attempt.code = match.group(1)
            attempt.told_at = sent.finished
            return True
        return False


class Population:
    """``citizens`` slots running citizens back to back until ``duration`` seconds have passed."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.log = RunLog()
        self._numbers = iter(range(10_001, 10_000_000))
        self._session: aiohttp.ClientSession | None = None
        self._t0 = 0.0

    def now(self) -> float:
        return time.monotonic() - self._t0

    def next_number(self) -> int:
        return next(self._numbers)

    async def post(self, sent: Sent) -> None:
        """Send ``sent``; once more with the same id if the connection dropped or the answer
        was 502/503 (see the module docstring)."""
        start = time.monotonic()
        await self._post_once(sent)
        if sent.error and (sent.status in RESEND_STATUSES or sent.status == 0
                           and sent.error != "timeout"):
            sent.first_error, sent.resent = sent.error, 1
            await asyncio.sleep(RESEND_PAUSE)
            await self._post_once(sent)
        sent.latency = time.monotonic() - start

    async def _post_once(self, sent: Sent) -> None:
        assert self._session is not None
        payload = {"sender": sent.sender, "message": sent.text, "message_id": sent.message_id,
                   "metadata": tagged(sent.tag)}
        sent.status, sent.error, sent.replies = 0, "", []
        try:
            async with self._session.post(
                f"{self.options.rasa_url}/webhooks/rest/webhook", json=payload
            ) as response:
                sent.status = response.status
                body = await response.json(content_type=None)
            messages = body if isinstance(body, list) else (body or {}).get("messages") or []
            sent.replies = [str(m.get("text") or "") for m in messages if isinstance(m, dict)]
            if response.status == 200 and not sent.replies:
                sent.error = "empty reply"
            elif response.status != 200:
                sent.error = f"HTTP {response.status}"
        except asyncio.TimeoutError:
            sent.error = "timeout"
        except (aiohttp.ClientError, OSError, ValueError) as error:
            sent.error = f"{type(error).__name__}"

    async def _slot(self, slot: int) -> None:
        rng = random.Random(f"{self.options.seed}-{slot}")
        # Arrive spread over the first think interval, not all in the same second.
        await asyncio.sleep(rng.uniform(0, self.options.think[1]))
        k = 0
        while self.now() < self.options.duration:
            k += 1
            sender = f"load-{self.options.run_id}-{slot}-{k}"
            citizen = Citizen(self, slot, sender, rng)
            self.log.citizens += 1
            try:
                if rng.random() < self.options.filing_share:
                    await citizen.file()
                else:
                    await citizen.ask()
                await citizen.pause()
            except Stop:
                return

    async def run(
        self, during: Callable[[], Coroutine[Any, Any, None]] | None = None
    ) -> RunLog:
        """Run every slot until the deadline (in-flight messages finish, each bounded by the
        request timeout); ``during`` runs alongside (fault injection)."""
        timeout = aiohttp.ClientTimeout(total=self.options.timeout)
        connector = aiohttp.TCPConnector(limit=self.options.citizens + 8)
        self._t0 = time.monotonic()
        self.log.started_at = self._t0
        # Hard bound: the deadline and the grace for petitions under way, one last request and
        # one retry pause, plus a margin.
        bound = (self.options.duration + self.options.finish_grace + 2 * self.options.timeout
                 + self.options.retry_pause + 30)
        async with aiohttp.ClientSession(
            timeout=timeout, connector=connector, trust_env=False
        ) as session:
            self._session = session
            tasks = [asyncio.create_task(self._slot(n)) for n in range(self.options.citizens)]
            extra: asyncio.Task[None] | None = (
                asyncio.create_task(during()) if during is not None else None
            )
            try:
                done, pending = await asyncio.wait(tasks, timeout=bound)
                for task in pending:
                    task.cancel()
                for task in done:
                    if task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                if extra is not None:
                    await asyncio.wait_for(extra, timeout=max(bound - self.now(), 30))
            finally:
                for task in [*tasks, *([extra] if extra else [])]:
                    task.cancel()
                await asyncio.gather(*tasks, *([extra] if extra else []), return_exceptions=True)
        self.log.wall_s = self.now()
        return self.log
