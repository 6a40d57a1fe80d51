"""Helpers of the end-to-end tests: real processes, a fake Telegram Bot API running in a thread,
bounded waits, a cookie-keeping console client and direct database reads.

The fake Bot API is ``bot.fakes.telegram.FakeTelegram`` (reused, not copied) with two
additions for tests that kill the staff service mid-request: the server abandons a request whose
client went away (``handler_cancellation``: the request never reached "Telegram"), and it records
every request as it starts (``started``) so a test can tell a delivery is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from aiohttp import web

from bot.fakes.telegram import FakeTelegram, FakeTelegramThread
from tools import model as models
from tools.env import child_env
from tools.procs import Proc, free_port, web_service

T = TypeVar("T")

TOKEN = "123456:test-token"
SECRET = "e2e_Webhook-secret_0123456789"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PASSWORD = "mat-khau-thu-nghiem-e2e"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def wait_for(
    check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.2
) -> T:
    """Call ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def trained_model() -> Path:
    """``MTTQ_MODEL`` (what `./mttq test` hands over), else the model trained from the current
    inputs with config.yml, else the newest such model. Never a benchmark's ``-alt…`` model
    (config.stock.yml), which ``tools.model.latest_model`` may return when it is newer."""
    explicit = os.environ.get("MTTQ_MODEL")
    path = Path(explicit) if explicit else models.find_model(models.fingerprint())
    if path is None:
        ours = sorted(
            (p for p in models.MODELS_DIR.glob("*.tar.gz") if "-alt" not in p.name),
            key=lambda p: p.stat().st_mtime,
        )
        path = ours[-1] if ours else None
    if path is None or not path.exists():
        if os.environ.get("CI"):
            pytest.fail("no trained model: `./mttq test` trains one before pytest")
        pytest.skip("no trained model (run ./mttq train)")
    return path


# --------------------------------------------------------------------------- fake Telegram


@dataclass
class _AbandoningFakeTelegram(FakeTelegram):
    """``FakeTelegram`` that drops a request whose client disconnected before it was answered."""

    started: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self.runner = web.AppRunner(app, handler_cancellation=True)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.started.append(method)
        try:
            return await super()._handle(request)
        except asyncio.CancelledError:
            self.abandoned.append(method)
            raise


class TelegramThread(FakeTelegramThread):
    """The shared threaded fake (one that records abandoned requests) with test shortcuts."""

    fake: _AbandoningFakeTelegram

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(_AbandoningFakeTelegram(token=token))

    # -- shortcuts (snapshots taken on the fake's loop)

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return self.read(lambda f: [dict(c.params) for c in f.calls if c.method == method])

    def messages(self) -> dict[tuple[int, int], dict[str, Any]]:
        return self.read(lambda f: {k: dict(v) for k, v in f.messages.items()})

    def started(self, method: str) -> int:
        return self.read(lambda f: f.started.count(method))  # type: ignore[attr-defined]

    def abandoned(self, method: str) -> int:
        return self.read(lambda f: f.abandoned.count(method))  # type: ignore[attr-defined]


@contextlib.contextmanager
def fake_telegram() -> Iterator[TelegramThread]:
    tg = TelegramThread()
    tg.start()
    try:
        yield tg
    finally:
        tg.stop()


def buttons(markup: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [b for row in (markup or {}).get("inline_keyboard", []) for b in row]


# --------------------------------------------------------------------------- processes


def service_env(
    tmp: Path,
    *,
    staff_port: int,
    telegram_base: str,
    rasa_port: int | None = None,
    action_port: int | None = None,
) -> dict[str, str]:
    """The environment of every child: temp databases, loopback ports, the fake Telegram."""
    extra = {
        "DATABASE_URL": f"sqlite:///{tmp / 'feedback.db'}",
        "TRACKER_STORE_URL": f"sqlite:///{tmp / 'tracker.db'}",
        "VAR_DIR": str(tmp / "var"),
        "LOCK_STORE_URL": "",
        "STAFF_HOST": "127.0.0.1",
        "STAFF_PORT": str(staff_port),
        "STAFF_PUBLIC_URL": f"http://127.0.0.1:{staff_port}",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": telegram_base,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        # Not the test process's proxy settings: everything here is 127.0.0.1.
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    extra["RASA_URL"] = f"http://127.0.0.1:{rasa_port or free_port()}"
    extra["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{action_port or free_port()}/webhook"
    return child_env(extra)


def staff_service(port: int, env: dict[str, str], log: Path) -> Proc:
    return web_service(port, log=log, env=env)


def log_tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


# --------------------------------------------------------------------------- HTTP clients


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only, never through a proxy
    return session


def post_update(
    base: str, update: dict[str, Any], *, secret: str | None = SECRET
) -> requests.Response:
    """Deliver one Telegram update to the staff service's webhook, as Telegram would."""
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return http().post(f"{base}/telegram/webhook", json=update, headers=headers, timeout=30)


def csrf_from(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "no CSRF token in the page"
    return match.group(1)


class Console:
    """One officer's browser: a cookie jar and the console's forms."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = http()

    def login(self, login: str, password: str = PASSWORD) -> requests.Response:
        page = self.http.get(f"{self.base}/staff/login", timeout=15)
        assert page.status_code == 200
        return self.http.post(
            f"{self.base}/staff/login",
            data={"csrf_token": csrf_from(page.text), "login": login, "password": password},
            allow_redirects=False,
            timeout=15,
        )

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.base}{path}", allow_redirects=False, timeout=15)

    def post_form(self, page_path: str, action: str, data: dict[str, str]) -> requests.Response:
        """Open ``page_path``, take its CSRF token and submit ``data`` to ``action``."""
        page = self.get(page_path)
        assert page.status_code == 200, page.status_code
        return self.http.post(
            f"{self.base}{action}",
            data={"csrf_token": csrf_from(page.text), **data},
            allow_redirects=False,
            timeout=15,
        )


class Citizen:
    """The web chat page of one citizen: ``POST /chat/api/message``, ``GET /chat/api/updates``."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.sender = str(uuid.uuid4())
        self.http = http()

    @property
    def conversation_id(self) -> str:
        return f"web-{self.sender}"

    def say(self, message: str) -> list[dict[str, Any]]:
        response = self.http.post(
            f"{self.base}/chat/api/message",
            json={"sender": self.sender, "message": message},
            timeout=60,
        )
        assert response.status_code == 200, (response.status_code, response.text)
        replies: list[dict[str, Any]] = response.json()
        return replies

    def updates(self, after: float = 0.0) -> list[dict[str, Any]]:
        response = self.http.get(
            f"{self.base}/chat/api/updates",
            params={"sender": self.sender, "after": str(after)},
            timeout=30,
        )
        assert response.status_code == 200, (response.status_code, response.text)
        updates: list[dict[str, Any]] = response.json()
        return updates

    def wait_update(self, needle: str, *, timeout: float = 60.0) -> dict[str, Any]:
        """The first update on the page whose text contains ``needle`` (bounded wait)."""

        def find() -> dict[str, Any] | None:
            return next((u for u in self.updates() if needle in (u.get("text") or "")), None)

        return wait_for(find, timeout=timeout, what=f"the chat page to show {needle!r}")


def texts(replies: list[dict[str, Any]]) -> str:
    return " ".join(r.get("text") or "" for r in replies)
