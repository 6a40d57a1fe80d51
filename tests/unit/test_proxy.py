"""The reverse proxy in front of the Rasa replicas and the action servers, with aiohttp test
servers as fake upstreams on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from bot.proxy.app import ProxyOptions, create_app
from bot.proxy.balancer import Balancer, affinity_key, conversation_key, rank
from tools.procs import free_port

#: Only the check made before serving runs during a test, unless a test asks for more.
QUIET = ProxyOptions(health_interval=3600, read_timeout=1.0, connect_timeout=1.0)


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: dict[str, list[str]]
    body: bytes


@dataclass
class Fake:
    """A fake upstream that records what reaches it."""

    name: str
    seen: list[Seen] = field(default_factory=list)
    health_status: int = 200
    server: TestServer | None = None
    url: str = ""

    def app(self) -> web.Application:
        async def record(request: web.Request) -> Seen:
            headers: dict[str, list[str]] = {}
            for key, value in request.headers.items():
                headers.setdefault(key.lower(), []).append(value)
            seen = Seen(request.method, request.raw_path, headers, await request.read())
            self.seen.append(seen)
            return seen

        async def health(request: web.Request) -> web.Response:
            return web.json_response({"up": self.name}, status=self.health_status)

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
            response = web.StreamResponse(headers={"Content-Encoding": "gzip",
                                                   "Content-Type": "application/json"})
            response.headers.add("Set-Cookie", "a=1; Path=/")
            response.headers.add("Set-Cookie", "b=2; Path=/")
            await response.prepare(request)
            data = gzip.compress(json.dumps({"upstream": self.name}).encode(), mtime=0)
            for i in range(0, len(data), 7):  # several chunks
                await response.write(data[i:i + 7])
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

        async def websocket(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for message in ws:
                await ws.send_str(f"{self.name}:{message.data}")
            return ws

        app = web.Application()
        app.router.add_get("/health", health)
        app.router.add_post("/slow", slow)
        app.router.add_post("/reset", reset)
        app.router.add_get("/encoded", encoded)
        app.router.add_get("/broken", broken)
        app.router.add_get("/socket.io/", websocket)
        app.router.add_route("*", "/{tail:.*}", echo)
        return app

    async def start(self, port: int | None = None) -> None:
        self.server = TestServer(self.app(), host="127.0.0.1", port=port)
        await self.server.start_server()
        self.url = str(self.server.make_url("")).rstrip("/")

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None


@pytest.fixture
async def fakes() -> AsyncIterator[list[Fake]]:
    pair = [Fake("a"), Fake("b")]
    for fake in pair:
        await fake.start()
    yield pair
    for fake in pair:
        await fake.stop()


async def _proxy(urls: list[str], options: ProxyOptions = QUIET) -> TestClient:
    client = TestClient(TestServer(create_app(urls, options), host="127.0.0.1"),
                        auto_decompress=False)
    await client.start_server()
    return client


async def _rest(proxy: TestClient, sender: str) -> dict[str, Any]:
    response = await proxy.post("/webhooks/rest/webhook", json={"sender": sender, "message": "hi"})
    assert response.status == 200
    return dict(await response.json())


def _raw(proxy: TestClient, path_and_query: str) -> URL:
    """The URL exactly as written (the test client would normalise its percent-encoding)."""
    return URL(str(proxy.make_url("")).rstrip("/") + path_and_query, encoded=True)


def _home(sender: str, fakes: list[Fake]) -> Fake:
    first = rank(f"conversation:{sender}", [f.url for f in fakes])[0]
    return next(f for f in fakes if f.url == first)


def _senders_at(fake: Fake, fakes: list[Fake], count: int) -> list[str]:
    found = [s for s in (f"user-{i}" for i in range(200)) if _home(s, fakes) is fake]
    return found[:count]


# --------------------------------------------------------------------------- routing


async def test_a_sender_always_reaches_the_same_upstream(fakes: list[Fake]) -> None:
    proxy = await _proxy([f.url for f in fakes])
    try:
        homes: dict[str, set[str]] = {}
        for sender in [f"citizen-{i}" for i in range(12)]:
            for _ in range(3):
                homes.setdefault(sender, set()).add((await _rest(proxy, sender))["upstream"])
        assert all(len(names) == 1 for names in homes.values())
        assert {next(iter(n)) for n in homes.values()} == {"a", "b"}  # both get conversations
        assert all(next(iter(homes[s])) == _home(s, fakes).name for s in homes)
        # The conversation API follows the same conversation to the same place.
        sender = "citizen-3"
        tracker = await proxy.get(f"/conversations/{sender}/tracker")
        assert (await tracker.json())["upstream"] == next(iter(homes[sender]))
    finally:
        await proxy.close()


async def test_requests_without_a_conversation_go_round_robin(fakes: list[Fake]) -> None:
    proxy = await _proxy([f.url for f in fakes])
    try:
        names = [(await (await proxy.get("/status")).json())["upstream"] for _ in range(4)]
        assert sorted(names) == ["a", "a", "b", "b"] and names[0] != names[1]
    finally:
        await proxy.close()


async def test_refused_connection_moves_the_request_to_the_next_upstream(
    fakes: list[Fake],
) -> None:
    a, b = fakes
    proxy = await _proxy([a.url, b.url])
    try:
        senders = _senders_at(a, fakes, 3)
        await a.stop()  # nothing listens there now; the proxy still believes it healthy
        for sender in senders:
            assert (await _rest(proxy, sender))["upstream"] == "b"
        ready = await (await proxy.get("/ready")).json()
        assert {u["url"]: u["healthy"] for u in ready["upstreams"]} == {a.url: False, b.url: True}
        metrics = await (await proxy.get("/metrics")).text()
        assert f'mttq_proxy_retries_total{{upstream="{a.url}"}} 1.0' in metrics
        assert f'mttq_proxy_requests_total{{status="200",upstream="{b.url}"}} 3.0' in metrics
    finally:
        await proxy.close()


@pytest.mark.parametrize("path", ["/slow", "/reset"])
async def test_a_request_that_reached_its_upstream_is_never_sent_again(
    fakes: list[Fake], path: str
) -> None:
    a, b = fakes
    proxy = await _proxy([a.url, b.url])
    try:
        sender = _senders_at(a, fakes, 1)[0]
        response = await proxy.post(path, json={"sender": sender, "message": "once"})
        assert response.status == 502
        assert (await response.json())["error"] == "bad_gateway"
        assert [s.raw_path for s in a.seen] == [path] and b.seen == []
    finally:
        await proxy.close()


async def test_no_reachable_upstream_answers_502_json() -> None:
    proxy = await _proxy([f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"])
    try:
        response = await proxy.post("/webhooks/rest/webhook", json={"sender": "x", "message": "hi"})
        assert response.status == 502
        assert response.headers["Content-Type"].startswith("application/json")
        assert (await response.json())["message"] == "no upstream accepted the connection"
        assert (await proxy.get("/ready")).status == 503
        assert (await proxy.get("/health")).status == 200
    finally:
        await proxy.close()


async def test_health_checks_take_out_and_bring_back_upstreams(fakes: list[Fake]) -> None:
    a, b = fakes
    proxy = await _proxy([a.url, b.url],
                         ProxyOptions(health_interval=0.05, health_timeout=0.5, fall=2))
    try:
        a.health_status = 503
        await asyncio.sleep(0.4)
        assert {(await _rest(proxy, s))["upstream"] for s in _senders_at(a, fakes, 3)} == {"b"}
        a.health_status = 200
        await asyncio.sleep(0.4)
        assert {(await _rest(proxy, s))["upstream"] for s in _senders_at(a, fakes, 3)} == {"a"}
        metrics = await (await proxy.get("/metrics")).text()
        assert f'mttq_proxy_upstream_healthy{{upstream="{a.url}"}} 1.0' in metrics
    finally:
        await proxy.close()


async def test_replicas_too_busy_for_health_checks_still_get_requests(fakes: list[Fake]) -> None:
    """Under a burst every replica may miss its health checks; the proxy must keep forwarding
    (seen in the 200-citizen load run: 37 citizens got 502 while both replicas were working)."""
    a, b = fakes
    proxy = await _proxy([a.url, b.url],
                         ProxyOptions(health_interval=0.05, health_timeout=0.5, fall=2))
    try:
        a.health_status = b.health_status = 503  # as a health check that timed out
        await asyncio.sleep(0.4)
        assert (await (proxy.get("/ready"))).status == 503
        answered = {(await _rest(proxy, f"user-{i}"))["upstream"] for i in range(6)}
        assert answered <= {"a", "b"} and answered
    finally:
        await proxy.close()


# --------------------------------------------------------------------------- fidelity


async def test_signed_webhook_body_and_signature_headers_pass_byte_exact(
    fakes: list[Fake],
) -> None:
    a, b = fakes
    proxy = await _proxy([a.url])
    secret = b"app-secret"
    # Odd spacing, escaped and raw Vietnamese: any re-serialisation would break the signature.
    body = ('{"object":"page",  "entry":[{"messaging":[{"sender":{"id":"123"},'
            '"message":{"mid":"m1","text":"Xin ch\\u00e0o  nhé"}}]}]}\n').encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    zalo = "mac=" + hashlib.sha256(b"app" + body + b"1700000000" + b"oa-secret").hexdigest()
    try:
        response = await proxy.session.post(
            _raw(proxy, "/webhooks/facebook/webhook?x=1&y=%2F"),
            data=body,
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"),
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature,
                "X-ZEvent-Signature": zalo,
                "X-Forwarded-For": "203.0.113.7",
                "Connection": "keep-alive, X-Secret-Hop",
                "X-Secret-Hop": "must not pass",
                "Keep-Alive": "timeout=5",
            },
        )
        assert response.status == 200
        (seen,) = a.seen
        assert seen.body == body
        assert seen.raw_path == "/webhooks/facebook/webhook?x=1&y=%2F"
        expected = "sha256=" + hmac.new(secret, seen.body, hashlib.sha256).hexdigest()
        assert seen.headers["x-hub-signature-256"] == [signature] == [expected]
        assert seen.headers["x-zevent-signature"] == [zalo]
        assert seen.headers["content-type"] == ["application/json"]
        assert seen.headers["x-forwarded-for"] == ["203.0.113.7, 127.0.0.1"]
        assert "x-secret-hop" not in seen.headers and "keep-alive" not in seen.headers
        # Nothing the client did not send (aiohttp's client would add these by default).
        assert not {"accept", "accept-encoding", "user-agent"} & set(seen.headers)
    finally:
        await proxy.close()


async def test_query_strings_and_encoded_paths_are_kept(fakes: list[Fake]) -> None:
    a, b = fakes
    proxy = await _proxy([a.url])
    path = "/conversations/web-a%2Fb%20c/tracker?include_events=ALL&token=t%2Bk&x="
    try:
        response = await proxy.session.get(_raw(proxy, path))
        assert (await response.json())["path"] == path
        assert a.seen[0].raw_path == path
    finally:
        await proxy.close()


async def test_responses_are_streamed_unchanged(fakes: list[Fake]) -> None:
    a, b = fakes
    proxy = await _proxy([a.url])
    try:
        response = await proxy.get("/encoded")
        raw = await response.read()
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
        assert json.loads(gzip.decompress(raw)) == {"upstream": "a"}
    finally:
        await proxy.close()


async def test_a_response_that_breaks_off_is_not_passed_on_as_complete(fakes: list[Fake]) -> None:
    a, b = fakes
    proxy = await _proxy([a.url])
    try:
        response = await proxy.get("/broken")
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
        assert b.seen == []
    finally:
        await proxy.close()


async def test_websockets_are_relayed(fakes: list[Fake]) -> None:
    a, b = fakes
    proxy = await _proxy([a.url])
    try:
        async with proxy.session.ws_connect(proxy.make_url("/socket.io/?EIO=4&transport=websocket")) as ws:
            await ws.send_str("ping")
            message = await ws.receive(timeout=5)
            assert message.type == aiohttp.WSMsgType.TEXT and message.data == "a:ping"
    finally:
        await proxy.close()


# --------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("/webhooks/rest/webhook", b'{"sender": "u1", "message": "hi"}', "u1"),
        ("/webhooks/zalo/webhook", b'{"event_name":"user_send_text","sender":{"id":"z9"}}', "z9"),
        ("/webhooks/facebook/webhook",
         b'{"entry":[{"messaging":[{"sender":{"id":"f1"}},{"sender":{"id":"f1"}}]}]}', "f1"),
        ("/webhooks/facebook/webhook",
         b'{"entry":[{"messaging":[{"sender":{"id":"f1"}}]},{"messaging":[{"sender":{"id":"f2"}}]}]}',
         None),
        ("/conversations/web-x%20y/trigger_intent", b"", "web-x y"),
        ("/webhook", b'{"sender_id": "u1", "tracker": {}}', None),  # action calls: any server
        ("/webhooks/rest/webhook", b"not json", None),
        ("/status", b"", None),
    ],
)
def test_conversation_key(path: str, body: bytes, key: str | None) -> None:
    assert conversation_key(path, body) == key


def test_socketio_is_pinned_to_the_client_address() -> None:
    assert affinity_key("/socket.io/", b"", "198.51.100.4") == "client:198.51.100.4"


def test_losing_an_upstream_moves_only_its_own_conversations() -> None:
    urls = ["http://r1", "http://r2", "http://r3"]
    before = {s: rank(s, urls)[0] for s in (f"s{i}" for i in range(300))}
    after = {s: rank(s, urls[:2])[0] for s in before}
    moved = {s for s in before if before[s] != after[s]}
    assert moved == {s for s in before if before[s] == "http://r3"}
    assert 50 < len(moved) < 150


def test_balancer_takes_out_after_fall_checks_or_one_refusal() -> None:
    balancer = Balancer(["http://a", "http://b"], fall=3)
    a, b = balancer.upstreams
    for upstream in balancer.upstreams:
        balancer.check_passed(upstream)
    assert not balancer.check_failed(a) and not balancer.check_failed(a)
    assert balancer.check_failed(a) and [u.url for u in balancer.healthy()] == ["http://b"]
    assert balancer.connection_failed(b) and balancer.healthy() == []
    # Everything out: fail open, try them all (a dead one refuses, a busy one answers).
    assert {u.url for u in balancer.candidates("k")} == {"http://a", "http://b"}
    assert balancer.check_passed(b) and balancer.candidates(None) == [b]
    assert balancer.answered(a) and len(balancer.healthy()) == 2


# --------------------------------------------------------------------------- public paths


async def test_a_public_proxy_forwards_only_its_paths(fakes: list[Fake]) -> None:
    from dataclasses import replace

    options = replace(QUIET, public_paths=frozenset({"/webhooks/facebook/webhook"}))
    proxy = await _proxy([fakes[0].url], options)
    try:
        allowed = await proxy.session.post(_raw(proxy, "/webhooks/facebook/webhook?x=1"),
                                           data=b"{}")
        assert allowed.status == 200
        assert (await allowed.json())["path"] == "/webhooks/facebook/webhook?x=1"
        before = len(fakes[0].seen)
        for path in ("/conversations/u1/tracker?token=t", "/webhooks/rest/webhook",
                     "/webhooks/facebook/webhook/../../conversations/u1/tracker",
                     "/webhooks/facebook/webhook%2F..%2Fx", "//webhooks/facebook/webhook",
                     "/webhooks/facebook/webhook/", "/metrics"):
            for method in ("GET", "POST", "PUT"):
                answer = await proxy.session.request(method, _raw(proxy, path), data=b"{}")
                assert answer.status == 404, (method, path)
        assert len(fakes[0].seen) == before  # nothing of it reached the upstream
        assert (await proxy.get("/health")).status == 200
    finally:
        await proxy.close()


@pytest.mark.parametrize("public", [False, True], ids=["internal", "public"])
async def test_an_absolute_url_request_target_is_a_bad_request(fakes: list[Fake],
                                                                public: bool) -> None:
    """Issue 18, item 7: ``GET http://elsewhere/ HTTP/1.1`` got a 500; it is a 400, and nothing
    reaches an upstream."""
    import asyncio
    from dataclasses import replace

    options = replace(QUIET, public_paths=frozenset({"/webhooks/facebook/webhook"})) \
        if public else QUIET
    proxy = await _proxy([fakes[0].url], options)
    try:
        before = len(fakes[0].seen)
        for target in ("http://example.invalid/webhooks/facebook/webhook",
                       f"{fakes[0].url}/conversations/u1/tracker"):
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            status_line = (await reader.readline()).decode()
            writer.close()
            assert status_line.split()[1] == "400", (target, status_line)
        assert len(fakes[0].seen) == before
    finally:
        await proxy.close()
