"""HAProxy as the production profile configures it (:mod:`tools.haproxy`), a real ``haproxy``
process in front of aiohttp fake upstreams on 127.0.0.1: what the Python proxy it replaced was
tested for, case by case — affinity, failover on health checks and refused connections, never
sending a request twice, bodies and signatures byte for byte, the public front's path list —
plus the Prometheus exporter and the client address the staff service is told.

Debian's ``haproxy`` package must be installed (``./mttq setup`` installs it as root); without
it these tests skip, and under CI they fail.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from tools import haproxy
from tools.procs import Proc, free_port, free_ports, wait_ready


@pytest.fixture(scope="module", autouse=True)
def _haproxy_installed() -> None:
    try:
        haproxy.binary()
    except haproxy.HAProxyMissing as error:
        if os.environ.get("CI"):
            pytest.fail(f"{error}; CI is set, so the HAProxy tests must run")
        pytest.skip(str(error))


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: dict[str, list[str]]
    body: bytes
    #: The port HAProxy's connection came from (one per connection).
    peer_port: int = 0


@dataclass
class Fake:
    """A fake upstream that records what reaches it; ``/ready`` answers ``ready_status``."""

    name: str
    seen: list[Seen] = field(default_factory=list)
    ready_status: int = 200
    server: TestServer | None = None
    port: int = 0

    def app(self) -> web.Application:
        async def record(request: web.Request) -> Seen:
            headers: dict[str, list[str]] = {}
            for key, value in request.headers.items():
                headers.setdefault(key.lower(), []).append(value)
            peer = request.transport.get_extra_info("peername") if request.transport else None
            seen = Seen(
                request.method,
                request.raw_path,
                headers,
                await request.read(),
                int(peer[1]) if peer else 0,
            )
            self.seen.append(seen)
            return seen

        async def ready(request: web.Request) -> web.Response:
            return web.json_response({"up": self.name}, status=self.ready_status)

        async def echo(request: web.Request) -> web.Response:
            seen = await record(request)
            return web.json_response({"upstream": self.name, "path": seen.raw_path})

        async def slow(request: web.Request) -> web.Response:
            await record(request)
            await asyncio.sleep(3)
            return web.json_response({"upstream": self.name})

        async def reset(request: web.Request) -> web.Response:
            await record(request)
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(0.5)
            return web.json_response({"upstream": self.name})

        async def encoded(request: web.Request) -> web.StreamResponse:
            await record(request)
            response = web.StreamResponse(
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
            )
            response.headers.add("Set-Cookie", "a=1; Path=/")
            response.headers.add("Set-Cookie", "b=2; Path=/")
            await response.prepare(request)
            data = gzip.compress(json.dumps({"upstream": self.name}).encode(), mtime=0)
            for i in range(0, len(data), 7):  # several chunks
                await response.write(data[i : i + 7])
            await response.write_eof()
            return response

        async def broken(request: web.Request) -> web.StreamResponse:
            await record(request)
            response = web.StreamResponse()  # chunked: only the last chunk says "complete"
            await response.prepare(request)
            await response.write(b"partial answer")
            await asyncio.sleep(0.05)
            assert request.transport is not None
            request.transport.abort()
            return response

        app = web.Application()
        app.router.add_get("/ready", ready)
        app.router.add_post("/slow", slow)
        app.router.add_post("/reset", reset)
        app.router.add_get("/encoded", encoded)
        app.router.add_get("/broken", broken)
        app.router.add_route("*", "/{tail:.*}", echo)
        return app

    async def start(self) -> None:
        self.server = TestServer(self.app(), host="127.0.0.1", port=self.port or None)
        await self.server.start_server()
        self.port = int(self.server.port or 0)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    @property
    def as_server(self) -> haproxy.Server:
        return haproxy.Server(f"rasa-{self.name}", self.port)


@dataclass
class Running:
    """A started HAProxy: its fronts' URLs and stats."""

    proc: Proc
    layout: haproxy.Layout

    @property
    def stats(self) -> str:
        return f"http://127.0.0.1:{self.layout.stats.port}"

    @property
    def api(self) -> str:
        assert self.layout.rasa_api is not None
        return f"http://127.0.0.1:{self.layout.rasa_api.port}"

    @property
    def public(self) -> str:
        assert self.layout.public is not None
        return f"http://127.0.0.1:{self.layout.public.port}"

    def states(self) -> dict[str, str]:
        return {
            name: state
            for (backend, name), state in haproxy.server_states(self.stats).items()
            if backend == "rasa"
        }

    async def wait_for(
        self, predicate: Callable[[dict[str, str]], bool], timeout: float = 10
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(await asyncio.to_thread(self.states)):
            assert loop.time() < deadline, self.states()
            await asyncio.sleep(0.05)


@pytest.fixture
async def fakes() -> AsyncIterator[list[Fake]]:
    trio = [Fake("a"), Fake("b"), Fake("c")]
    for fake in trio:
        await fake.start()
    yield trio
    for fake in trio:
        await fake.stop()


@pytest.fixture
def start(tmp_path: Path) -> Any:
    """``await start(servers, **layout)``: HAProxy with the profile's configuration, quick
    checks (every 100 ms, out after 2 failures), waiting until every server is UP."""
    started: list[Proc] = []

    async def run(servers: list[haproxy.Server], wait_up: bool = True, **overrides: Any) -> Running:
        # Distinct from each other and from the fronts the test chose (a shared port would
        # split its connections between two fronts).
        chosen = [v.port for v in overrides.values() if isinstance(v, haproxy.Listen)]
        api_port, stats_port = free_ports(2, taken=chosen)
        layout = haproxy.Layout(
            rasa=tuple(servers),
            rasa_api=haproxy.Listen("127.0.0.1", api_port),
            stats=haproxy.Listen("127.0.0.1", stats_port),
            check_inter_ms=100,
            fall=2,
            server_timeout_s=1,
            connect_timeout_ms=500,
            check_timeout_ms=500,
        )
        layout = replace(layout, **overrides)
        config = haproxy.write_config(layout, tmp_path / f"run-{len(started)}")
        from tools.procs import haproxy as haproxy_proc

        proc = haproxy_proc(config, layout.stats.port, log=tmp_path / "haproxy.log")
        proc.start()
        started.append(proc)
        await asyncio.to_thread(wait_ready, [proc], 20)
        running = Running(proc, layout)
        if wait_up:
            names = [s.name for s in servers]
            await asyncio.to_thread(haproxy.wait_up, running.stats, "rasa", names, 20)
        return running

    yield run
    for proc in started:
        proc.stop()


def _session() -> aiohttp.ClientSession:
    # Never a proxy from the environment; no automatic decompression (we check bytes).
    return aiohttp.ClientSession(trust_env=False, auto_decompress=False)


async def _rest(base: str, sender: str) -> dict[str, Any]:
    async with _session() as session:
        async with session.post(
            f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": "hi"}
        ) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())


async def _homes(base: str, senders: list[str]) -> dict[str, str]:
    return {s: (await _rest(base, s))["upstream"] for s in senders}


def _raw(base: str, path_and_query: str) -> URL:
    """The URL exactly as written (aiohttp would normalise its percent-encoding)."""
    return URL(base + path_and_query, encoded=True)


SENDERS = [f"citizen-{i}" for i in range(30)]


# --------------------------------------------------------------------------- routing


async def test_a_conversation_always_reaches_the_same_replica(
    fakes: list[Fake], start: Any
) -> None:
    running = await start([f.as_server for f in fakes])
    first = await _homes(running.api, SENDERS)
    assert await _homes(running.api, SENDERS) == first
    assert set(first.values()) == {"a", "b", "c"}  # all three get conversations
    async with _session() as session:
        # Zalo and Facebook name the sender in their own shapes; the API by path.
        zalo = json.dumps({"event_name": "user_send_text", "sender": {"id": "citizen-3"}})
        facebook = json.dumps({"entry": [{"messaging": [{"sender": {"id": "citizen-3"}}]}]})
        for body in (zalo, facebook):
            async with session.post(f"{running.api}/webhooks/x/webhook", data=body) as reply:
                assert (await reply.json())["upstream"] == first["citizen-3"]
        async with session.get(f"{running.api}/conversations/citizen-3/tracker") as reply:
            assert (await reply.json())["upstream"] == first["citizen-3"]


async def test_requests_without_a_conversation_are_spread(fakes: list[Fake], start: Any) -> None:
    running = await start([f.as_server for f in fakes])
    async with _session() as session:
        names = []
        for _ in range(6):
            async with session.get(f"{running.api}/status") as reply:
                names.append((await reply.json())["upstream"])
    assert set(names) == {"a", "b", "c"}


async def test_losing_a_replica_moves_only_its_own_conversations(
    fakes: list[Fake], start: Any
) -> None:
    a, b, c = fakes
    running = await start([f.as_server for f in fakes])
    before = await _homes(running.api, SENDERS)
    c.ready_status = 503  # fails its checks: out after two
    await running.wait_for(lambda s: s.get("rasa-c") == "DOWN")
    after = await _homes(running.api, SENDERS)
    moved = {s for s in SENDERS if before[s] != after[s]}
    assert moved == {s for s in SENDERS if before[s] == "c"} and moved
    c.ready_status = 200  # and they come back when it does
    await running.wait_for(lambda s: s.get("rasa-c") == "UP")
    assert await _homes(running.api, SENDERS) == before


async def test_a_refused_connection_moves_the_request_to_another_replica(
    fakes: list[Fake], start: Any
) -> None:
    a, b, c = fakes
    running = await start([a.as_server, b.as_server], check_inter_ms=60_000)
    homes = await _homes(running.api, SENDERS)
    on_a = [s for s in SENDERS if homes[s] == "a"]
    await a.stop()  # nothing listens there now; no check has run since
    seen_by_b = len(b.seen)
    for sender in on_a:
        assert (await _rest(running.api, sender))["upstream"] == "b"
    assert len(b.seen) == seen_by_b + len(on_a)  # each delivered once
    assert running.states()["rasa-a"] == "DOWN"  # taken out by the refusal itself


@pytest.mark.parametrize(("path", "status"), [("/slow", 504), ("/reset", 502)])
async def test_a_request_that_reached_its_replica_is_never_sent_again(
    fakes: list[Fake], start: Any, path: str, status: int
) -> None:
    a, b, c = fakes
    running = await start([a.as_server, b.as_server])
    sender = next(s for s, home in (await _homes(running.api, SENDERS)).items() if home == "a")
    a.seen.clear()
    b.seen.clear()
    async with _session() as session:
        async with session.post(
            f"{running.api}{path}", json={"sender": sender, "message": "once"}
        ) as reply:
            assert reply.status == status
            assert reply.headers["Content-Type"].startswith("application/json")
    assert [s.raw_path for s in a.seen] == [path] and b.seen == []


async def test_no_reachable_replica_answers_json(start: Any) -> None:
    dead = [haproxy.Server("rasa-x", free_port()), haproxy.Server("rasa-y", free_port())]
    running = await start(dead, wait_up=False)
    async with _session() as session:
        async with session.post(
            f"{running.api}/webhooks/rest/webhook", json={"sender": "x", "message": "hi"}
        ) as reply:
            assert reply.status in (502, 503)
            assert reply.headers["Content-Type"].startswith("application/json")
        async with session.get(f"{running.stats}/health") as reply:
            assert reply.status == 200  # HAProxy itself is alive


async def test_replicas_too_busy_for_health_checks_still_get_requests(
    fakes: list[Fake], start: Any
) -> None:
    """Under a burst every replica may answer its checks late; HAProxy must keep forwarding
    (seen in the 200-citizen load run on the Python proxy: 37 citizens got 502 while both
    replicas were working)."""
    a, b, c = fakes
    running = await start([a.as_server, b.as_server])
    a.ready_status = b.ready_status = 503  # as checks that timed out
    await running.wait_for(lambda s: s.get("rasa-a") == s.get("rasa-b") == "DOWN")
    answered = set((await _homes(running.api, SENDERS[:6])).values())
    assert answered and answered <= {"a", "b"}


# --------------------------------------------------------------------------- fidelity


async def test_signed_webhook_body_and_signature_headers_pass_byte_exact(
    fakes: list[Fake], start: Any
) -> None:
    a = fakes[0]
    running = await start([a.as_server], public=haproxy.Listen("127.0.0.1", free_port()))
    secret = b"app-secret"
    # Odd spacing, escaped and raw Vietnamese: any re-serialisation would break the signature.
    body = (
        '{"object":"page",  "entry":[{"messaging":[{"sender":{"id":"123"},'
        '"message":{"mid":"m1","text":"Xin ch\\u00e0o  nhé"}}]}]}\n'
    ).encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    zalo = "mac=" + hashlib.sha256(b"app" + body + b"1700000000" + b"oa-secret").hexdigest()
    a.seen.clear()
    async with _session() as session:
        async with session.post(
            _raw(running.public, "/webhooks/facebook/webhook?x=1&y=%2F"),
            data=body,
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"),
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature,
                "X-ZEvent-Signature": zalo,
                "X-Forwarded-For": "203.0.113.7",
            },
        ) as response:
            assert response.status == 200
    (seen,) = a.seen
    assert seen.body == body
    assert seen.raw_path == "/webhooks/facebook/webhook?x=1&y=%2F"
    expected = "sha256=" + hmac.new(secret, seen.body, hashlib.sha256).hexdigest()
    assert seen.headers["x-hub-signature-256"] == [signature] == [expected]
    assert seen.headers["x-zevent-signature"] == [zalo]
    assert seen.headers["content-type"] == ["application/json"]
    # HAProxy appends the address it got the request from (a header of its own); the staff
    # service reads every X-Forwarded-For value in order (bot.web.client_address).
    assert seen.headers["x-forwarded-for"] == ["203.0.113.7", "127.0.0.1"]
    assert not {"accept", "accept-encoding", "user-agent"} & set(seen.headers)


async def test_every_request_reaches_the_server_on_a_new_connection(
    fakes: list[Fake], start: Any
) -> None:
    """Never a request written into an idle connection the server may be closing (Sanic closes
    them after 5 s; that race ends in an empty response HAProxy must not retry): the client
    keeps its connection, HAProxy opens one per request to the server."""
    a = fakes[0]
    running = await start([a.as_server])
    a.seen.clear()
    async with _session() as session:  # one kept-alive client connection
        for _ in range(4):
            async with session.get(f"{running.api}/status") as reply:
                assert reply.status == 200
                await reply.read()
    assert len({seen.peer_port for seen in a.seen}) == 4


async def test_query_strings_and_encoded_paths_are_kept(fakes: list[Fake], start: Any) -> None:
    a = fakes[0]
    running = await start([a.as_server])
    path = "/conversations/web-a%2Fb%20c/tracker?include_events=ALL&token=t%2Bk&x="
    async with _session() as session:
        async with session.get(_raw(running.api, path)) as reply:
            assert (await reply.json())["path"] == path


async def test_responses_pass_unchanged(fakes: list[Fake], start: Any) -> None:
    running = await start([fakes[0].as_server])
    async with _session() as session:
        async with session.get(f"{running.api}/encoded") as response:
            raw = await response.read()
            assert response.headers["Content-Encoding"] == "gzip"
            assert response.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert json.loads(gzip.decompress(raw)) == {"upstream": "a"}


async def test_a_response_that_breaks_off_is_not_passed_on_as_complete(
    fakes: list[Fake], start: Any
) -> None:
    a, b, c = fakes
    running = await start([a.as_server, b.as_server])
    async with _session() as session:
        for _ in range(2):  # round robin: each of them gets one
            async with session.get(f"{running.api}/broken") as response:
                assert response.status == 200
                with pytest.raises(aiohttp.ClientPayloadError):
                    await response.read()
    assert len(a.seen) + len(b.seen) == 2  # never re-sent


# --------------------------------------------------------------------------- public front


async def test_the_public_front_forwards_only_the_channel_webhooks(
    fakes: list[Fake], start: Any
) -> None:
    a = fakes[0]
    running = await start([a.as_server], public=haproxy.Listen("127.0.0.1", free_port()))
    async with _session() as session:
        for path in haproxy.CHANNEL_WEBHOOK_PATHS:
            async with session.post(_raw(running.public, f"{path}?x=1"), data=b"{}") as reply:
                assert reply.status == 200, path
                assert (await reply.json())["path"] == f"{path}?x=1"
        before = len(a.seen)
        for path in (
            "/conversations/u1/tracker?token=t",
            "/webhooks/rest/webhook",
            "/webhooks/facebook/webhook/../../conversations/u1/tracker",
            "/webhooks/facebook/webhook%2F..%2Fx",
            "//webhooks/facebook/webhook",
            "/webhooks/facebook/webhook/x",
            "/metrics",
            "/status",
            "/model",
        ):
            for method in ("GET", "POST", "PUT"):
                async with session.request(method, _raw(running.public, path), data=b"{}") as reply:
                    assert reply.status == 404, (method, path)
    assert len(a.seen) == before  # nothing of it reached a replica


@pytest.mark.parametrize("front", ["api", "public"])
async def test_an_absolute_url_request_target_is_a_bad_request(
    fakes: list[Fake], start: Any, front: str
) -> None:
    """Issue 18, item 7: ``GET http://elsewhere/ HTTP/1.1`` is a 400, and nothing reaches a
    replica."""
    a = fakes[0]
    running = await start([a.as_server], public=haproxy.Listen("127.0.0.1", free_port()))
    port = running.layout.public.port if front == "public" else running.layout.rasa_api.port  # type: ignore[union-attr]
    before = len(a.seen)
    for target in (
        "http://example.invalid/webhooks/facebook/webhook",
        f"http://127.0.0.1:{a.port}/conversations/u1/tracker",
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = (await reader.readline()).decode()
        writer.close()
        assert status_line.split()[1] == "400", (target, status_line)
    assert len(a.seen) == before


# --------------------------------------------------------------------------- metrics, config


async def test_prometheus_exporter_reports_each_replica(fakes: list[Fake], start: Any) -> None:
    a, b, c = fakes
    running = await start([a.as_server, b.as_server])
    await _homes(running.api, SENDERS[:4])
    b.ready_status = 503
    await running.wait_for(lambda s: s.get("rasa-b") == "DOWN")
    async with _session() as session:
        async with session.get(f"{running.stats}/metrics") as reply:
            text = await reply.text()
    assert 'haproxy_server_status{proxy="rasa",server="rasa-a",state="UP"} 1' in text
    assert 'haproxy_server_status{proxy="rasa",server="rasa-b",state="DOWN"} 1' in text
    assert 'haproxy_backend_http_responses_total{proxy="rasa",code="2xx"}' in text


def test_the_profile_configuration_is_valid_and_says_what_it_must(tmp_path: Path) -> None:
    layout = haproxy.Layout(
        rasa=(haproxy.Server("rasa-1", 15011), haproxy.Server("rasa-2", 15012)),
        actions=(haproxy.Server("actions-1", 15021),),
        web=haproxy.Server("web", 15031),
        public=haproxy.Listen("0.0.0.0", 15005),
        staff=haproxy.Listen("0.0.0.0", 18080),
        rasa_api=haproxy.Listen("127.0.0.1", 15006),
        actions_front=haproxy.Listen("127.0.0.1", 15007),
        stats=haproxy.Listen("127.0.0.1", 15008),
    )
    text = haproxy.write_config(layout, tmp_path).read_text()  # haproxy -c accepted it
    lines = [line.strip() for line in text.splitlines()]
    assert "retry-on conn-failure" in lines  # and nothing that re-sends a delivered request
    assert not any(word in text for word in ("empty-response", "response-timeout", "all-retryable"))
    assert "option forwardfor" in lines
    assert lines.count("option httpchk GET /ready") == 3  # rasa, actions, web
    assert "http-request use-service prometheus-exporter if { path /metrics }" in lines
    assert "compression" not in text  # bodies pass untouched
    with pytest.raises(ValueError, match="haproxy refuses"):
        bad = tmp_path / "bad.cfg"
        bad.write_text(text.replace("balance roundrobin", "balance nonsense"))
        haproxy.check(bad)


async def test_haproxy_logs_what_went_wrong_without_query_strings(
    start: Any, tmp_path: Path
) -> None:
    """Rasa's API takes its token as ``?token=``: HAProxy's log (errors only) has the path,
    never the query string."""
    running = await start([haproxy.Server("rasa-x", free_port())], wait_up=False)
    async with _session() as session:
        async with session.get(f"{running.api}/conversations/u1/tracker?token=s3cr3t-t0ken"):
            pass
    await asyncio.sleep(0.3)  # HAProxy writes its log line when the request ends
    log = (tmp_path / "haproxy.log").read_text()
    assert "/conversations/u1/tracker" in log
    assert "s3cr3t-t0ken" not in log
