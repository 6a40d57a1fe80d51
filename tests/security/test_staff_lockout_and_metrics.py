"""Issue 18 item 7: nobody can lock a known staff account from elsewhere, and every ``/metrics``
(web service, Rasa, action server, proxy) is for this machine (or the metrics token) only.

The web service runs for real (``create_app`` on 127.0.0.1 over a real database). 127.0.0.1 is a
trusted proxy by default (an nginx on the same host), so a request carrying ``X-Forwarded-For``
is one that such a proxy forwarded from that address: that is how these tests put the attacker
and the officer on different machines. With ``TRUSTED_PROXIES=none`` the same header is a lie
anyone can tell and must change nothing.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine, session_scope
from bot.db.models import StaffRole
from bot.settings import Settings, get_settings
from bot.staff import accounts
from bot.web.app import create_app
from bot.web.client_address import (
    client_address,
    lockout_address,
    parse_trusted,
)

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "mat-khau-thu-nghiem-1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ATTACKER = "203.0.113.66"
OFFICER = "198.51.100.7"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
LOOPBACK = parse_trusted("127.0.0.0/8,::1")



def _settings(db_url: str, tmp_path: Path, **changes: str) -> Settings:
    return dataclasses.replace(
        Settings(), database_url=db_url, units_file=ROOT / "content" / "units.sample.yml",
        var_dir=tmp_path, rasa_url="http://127.0.0.1:9", **changes,
    )


class Service:
    """The running web service and a way to open browsers "at" a given client address."""

    def __init__(self, server: TestServer, engine: Engine) -> None:
        self.server = server
        self.engine = engine
        self.clients: list[TestClient] = []

    async def browser(self, forwarded_for: str | None = None) -> TestClient:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
        client = TestClient(self.server, headers=headers)
        await client.start_server()
        self.clients.append(client)
        return client

    def add_staff(self, login: str, role: StaffRole = StaffRole.OFFICER) -> None:
        with session_scope(self.engine) as session:
            accounts.create_staff(session, login=login, unit_code="p_lang", role=role,
                                  password=PASSWORD)


async def _start(settings: Settings) -> tuple[TestServer, Engine]:
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()  # migrates and syncs the units
    return server, make_engine(settings.database_url)


@pytest.fixture
async def service(db_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    server, engine = await _start(_settings(db_url, tmp_path))
    running = Service(server, engine)
    try:
        yield running
    finally:
        for client in running.clients:
            await client.close()
        await server.close()
        engine.dispose()


async def login_as(client: TestClient, login: str, password: str) -> ClientResponse:
    page = await client.get("/staff/login")
    match = CSRF_RE.search(await page.text())
    assert match is not None
    return await client.post(
        "/staff/login", data={"csrf_token": match.group(1), "login": login, "password": password},
        allow_redirects=False,
    )


# --------------------------------------------------------------------------- who the client is


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "expected"),
    [
        ("203.0.113.9", None, LOOPBACK, "203.0.113.9"),
        # A client cannot choose its address by sending the header itself.
        ("203.0.113.9", "198.51.100.7", LOOPBACK, "203.0.113.9"),
        # Through the local proxy: the address the proxy appended.
        ("127.0.0.1", "198.51.100.7", LOOPBACK, "198.51.100.7"),
        # Through the local proxy, with a forged entry in front: the rightmost untrusted one wins.
        ("127.0.0.1", "127.0.0.1, 203.0.113.9", LOOPBACK, "203.0.113.9"),
        ("127.0.0.1", "10.9.9.9, 203.0.113.9, 10.0.0.2", parse_trusted("127.0.0.1, 10.0.0.0/8"),
         "203.0.113.9"),
        # Only trusted hops: the farthest one is the client (our own proxies, this machine).
        ("127.0.0.1", "127.0.0.1", LOOPBACK, "127.0.0.1"),
        ("127.0.0.1", None, LOOPBACK, "127.0.0.1"),
        # Garbage where a proxy's entry should be: the last proxy we trust is all we know.
        ("127.0.0.1", "198.51.100.7, not-an-address", LOOPBACK, "127.0.0.1"),
        # No proxy trusted at all: the header is ignored.
        ("127.0.0.1", "198.51.100.7", parse_trusted("none"), "127.0.0.1"),
        ("::ffff:203.0.113.9", None, LOOPBACK, "203.0.113.9"),
        ("::1", "[2001:db8::5]", LOOPBACK, "2001:db8::5"),
    ],
)
def test_the_client_address_believes_forwarded_for_only_from_a_trusted_proxy(
    peer: str, header: str | None, trusted: tuple, expected: str
) -> None:
    assert client_address(peer, [header] if header else [], trusted) == expected


def test_a_typo_in_trusted_proxies_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(ValueError):
        parse_trusted("127.0.0.1, 10.0.0.300")
    assert parse_trusted("none") == ()


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert lockout_address("2001:db8:1:2:aaaa::1") == lockout_address("2001:db8:1:2:bbbb::9")
    assert lockout_address("2001:db8:1:3::1") != lockout_address("2001:db8:1:2::1")
    assert lockout_address("203.0.113.9") == "203.0.113.9"
    assert lockout_address("::1") == "::1"


def test_new_ipv6_addresses_from_one_64_do_not_escape_the_lockout(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        accounts.create_staff(session, login="lan", unit_code="p_lang", role="officer",
                              password=PASSWORD)
    result = None
    for n in range(accounts.MAX_FAILURES):
        with session_scope(db_with_units) as session:
            result = accounts.attempt_login(session, "lan", "sai-mat-khau",
                                            f"2001:db8:1:2::{n + 1:x}", now=T0 + timedelta(seconds=n))
    assert result is not None and result.locked_until is not None
    with session_scope(db_with_units) as session:
        officer = accounts.attempt_login(session, "lan", PASSWORD, "2001:db8:9:9::1",
                                         now=T0 + timedelta(minutes=1))
    assert officer.staff is not None


# --------------------------------------------------------------------------- the lockout, served


async def test_an_attacker_locks_only_his_own_address_not_the_officer(service: Service) -> None:
    service.add_staff("lan")
    service.add_staff("minh")
    attacker = await service.browser(forwarded_for=ATTACKER)
    statuses = [(await login_as(attacker, "lan", "doan-sai-mat-khau")).status
                for _ in range(accounts.MAX_FAILURES)]
    assert statuses == [401] * (accounts.MAX_FAILURES - 1) + [429]
    # The attacker is now refused even with the right password, for any account.
    assert (await login_as(attacker, "lan", PASSWORD)).status == 429
    assert (await login_as(attacker, "minh", PASSWORD)).status == 429
    # The officer, at her own desk, signs in (on the old code: 429, locked out for 15 minutes).
    officer = await service.browser(forwarded_for=OFFICER)
    response = await login_as(officer, "lan", PASSWORD)
    assert response.status == 303, await response.text()
    assert (await officer.get("/staff/cases", allow_redirects=False)).status == 200


async def test_guessing_across_accounts_from_one_address_is_blocked(service: Service) -> None:
    service.add_staff("minh")
    attacker = await service.browser(forwarded_for=ATTACKER)
    for n in range(accounts.MAX_FAILURES):
        await login_as(attacker, f"doan-ten-{n}", "sai-mat-khau")
    assert (await login_as(attacker, "minh", PASSWORD)).status == 429
    colleague = await service.browser(forwarded_for=OFFICER)
    assert (await login_as(colleague, "minh", PASSWORD)).status == 303


async def test_a_forged_forwarded_for_does_not_escape_the_lockout(
    db_url: str, tmp_path: Path
) -> None:
    """The web service faces the network itself (no trusted proxy): the header is the
    attacker's own text, so a new address per guess changes nothing."""
    server, engine = await _start(_settings(db_url, tmp_path, trusted_proxies="none"))
    clients: list[TestClient] = []
    try:
        with session_scope(engine) as session:
            accounts.create_staff(session, login="lan", unit_code="p_lang", role="officer",
                                  password=PASSWORD)
        statuses = []
        for n in range(accounts.MAX_FAILURES):
            client = TestClient(server, headers={"X-Forwarded-For": f"198.51.100.{n + 1}"})
            await client.start_server()
            clients.append(client)
            statuses.append((await login_as(client, "lan", "sai-mat-khau")).status)
        assert statuses[-1] == 429
    finally:
        for client in clients:
            await client.close()
        await server.close()
        engine.dispose()


# --------------------------------------------------------------------------- /metrics

REMOTE = {"X-Forwarded-For": "203.0.113.7"}  # what a local nginx adds for a visitor from outside


def _non_loopback_address() -> str | None:
    """One of this machine's IPv4 addresses other than 127.x (``hostname -I``), if any."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = [a for a in out.split() if "." in a and not a.startswith("127.")]
    return found[0] if found else None


async def test_staff_service_metrics_answer_this_machine_only(service: Service) -> None:
    local = await service.browser()
    response = await local.get("/metrics")
    assert response.status == 200
    assert "mttq_http_requests_total" in await response.text()
    # The same request forwarded by the local reverse proxy from the Internet (on the old code
    # 200: its peer is 127.0.0.1).
    outside = await service.browser(forwarded_for=REMOTE["X-Forwarded-For"])
    refused = await outside.get("/metrics")
    assert refused.status == 401
    assert "mttq_" not in await refused.text()


async def test_staff_service_metrics_from_a_non_loopback_peer_are_refused(
    db_url: str, tmp_path: Path
) -> None:
    """Listening on a real network address (``STAFF_HOST`` set for a container): a peer that is
    not loopback is refused, and claiming 127.0.0.1 in the header does not help."""
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address (hostname -I)")
    settings = _settings(db_url, tmp_path)
    server = TestServer(create_app(settings), host=address)
    await server.start_server()
    client = TestClient(server)
    await client.start_server()
    try:
        assert (await client.get("/metrics")).status == 401
        forged = await client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
        assert forged.status == 401
        assert (await client.get("/health")).status == 200  # the server does answer there
    finally:
        await client.close()
        await server.close()


async def test_with_a_metrics_token_every_client_must_carry_it(
    db_url: str, tmp_path: Path
) -> None:
    server, engine = await _start(_settings(db_url, tmp_path, metrics_token="m3trics-t0ken"))
    engine.dispose()
    client = TestClient(server, headers=REMOTE)
    await client.start_server()
    try:
        assert (await client.get("/metrics")).status == 401
        wrong = {"Authorization": "Bearer something-else"}
        assert (await client.get("/metrics", headers=wrong)).status == 401
        right = {"Authorization": "Bearer m3trics-t0ken"}
        assert (await client.get("/metrics", headers=right)).status == 200
    finally:
        await client.close()
        await server.close()


def _sanic_request(peer: str, headers: dict[str, str]) -> Any:
    from sanic.compat import Header

    return SimpleNamespace(headers=Header(list(headers.items())), ip=peer)


async def test_rasa_metrics_refuse_a_forwarded_outsider(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.observability.metrics import RasaMetrics, new_registry
    from bot.observability.rasa_ops import OpsChannel

    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    get_settings.cache_clear()
    try:
        ops = OpsChannel(RasaMetrics(new_registry(process_metrics=False)), configure_logs=False)
    finally:
        get_settings.cache_clear()
    assert (await ops.metrics_endpoint(_sanic_request("127.0.0.1", {}))).status == 200
    assert (await ops.metrics_endpoint(_sanic_request("127.0.0.1", REMOTE))).status == 401
    assert (await ops.metrics_endpoint(_sanic_request("203.0.113.7", {}))).status == 401
    forged = {"X-Forwarded-For": "127.0.0.1"}
    assert (await ops.metrics_endpoint(_sanic_request("203.0.113.7", forged))).status == 401


async def test_action_server_metrics_refuse_a_forwarded_outsider(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sanic import Sanic

    from bot.db.runtime import dispose_all
    from bot.observability.action_server import create_app as action_app
    from bot.observability.metrics import ActionMetrics, new_registry
    from tools.procs import free_port

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'feedback.db'}")
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    get_settings.cache_clear()
    Sanic.test_mode = True
    app = action_app("actions", metrics=ActionMetrics(new_registry(process_metrics=False)),
                     secret="action-secret-for-this-test")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    await server.after_start()
    http = aiohttp.ClientSession()
    try:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as answer:
            assert answer.status == 200
        async with http.get(f"http://127.0.0.1:{port}/metrics", headers=REMOTE) as answer:
            assert answer.status == 401
    finally:
        await server.before_stop()
        for connection in list(server.connections):  # the client's keep-alive one
            connection.close_if_idle()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        await http.close()
        dispose_all()
        get_settings.cache_clear()


async def test_behind_haproxy_the_lockout_counts_the_address_haproxy_forwards(
    db_url: str, tmp_path: Path
) -> None:
    """The profile's layout: HAProxy's staff front in front of the staff service, which trusts
    ``X-Forwarded-For`` only from HAProxy's address. An attacker (at 127.0.0.2) who forges a new
    address per guess still locks only himself; the officer (at 127.0.0.3) signs in."""
    import asyncio

    from tools import haproxy
    from tools.procs import free_ports, wait_ready
    from tools.procs import haproxy as haproxy_proc

    try:
        haproxy.binary()
    except haproxy.HAProxyMissing as error:
        if os.environ.get("CI"):
            pytest.fail(f"{error}; CI is set, so the test must run")
        pytest.skip(str(error))
    server, engine = await _start(_settings(db_url, tmp_path, trusted_proxies="127.0.0.1"))
    front, stats, nothing = free_ports(3)
    layout = haproxy.Layout(
        rasa=(haproxy.Server("rasa-1", nothing),),  # nothing there: not used here
        web=haproxy.Server("web", int(server.port or 0)),
        staff=haproxy.Listen("127.0.0.1", front), stats=haproxy.Listen("127.0.0.1", stats),
    )
    proc = haproxy_proc(haproxy.write_config(layout, tmp_path / "haproxy"), stats,
                        log=tmp_path / "haproxy.log")
    proc.start()
    sessions: list[aiohttp.ClientSession] = []

    def browser(address: str) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{front}", trust_env=False,
            connector=aiohttp.TCPConnector(local_addr=(address, 0), force_close=True),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies for an IP-address host
        )
        sessions.append(session)
        return session

    async def login(session: aiohttp.ClientSession, password: str,
                    forged: str | None = None) -> int:
        headers = {"X-Forwarded-For": forged} if forged else {}
        async with session.get("/staff/login", headers=headers) as page:
            match = CSRF_RE.search(await page.text())
        assert match is not None
        async with session.post("/staff/login", headers=headers, allow_redirects=False, data={
            "csrf_token": match.group(1), "login": "lan", "password": password,
        }) as answer:
            return answer.status

    try:
        await asyncio.to_thread(wait_ready, [proc], 20)
        await asyncio.to_thread(haproxy.wait_up, f"http://127.0.0.1:{stats}", "web", ["web"], 20)
        with session_scope(engine) as session:
            accounts.create_staff(session, login="lan", unit_code="p_lang", role="officer",
                                  password=PASSWORD)
        attacker = browser("127.0.0.2")
        statuses = [await login(attacker, "sai-mat-khau", forged=f"198.51.100.{n + 1}")
                    for n in range(accounts.MAX_FAILURES)]
        assert statuses == [401] * (accounts.MAX_FAILURES - 1) + [429]
        assert await login(attacker, PASSWORD, forged="198.51.100.99") == 429
        assert await login(browser("127.0.0.3"), PASSWORD) == 303
    finally:
        for http in sessions:
            await http.close()
        proc.stop()
        await server.close()
        engine.dispose()
