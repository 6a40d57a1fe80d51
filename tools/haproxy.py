"""HAProxy in front of the production profile: its configuration, generated, and its process.

Debian's ``haproxy`` package (2.6) runs as a supervised child of ``./mttq prod`` (or of a test,
or of ``bench/``), in the foreground (``-db``), with a configuration written by
:func:`render` into the profile's runtime directory and checked with ``haproxy -c`` before it
starts. One process serves every front:

* ``public`` (``PROD_HOST:PROD_RASA_PORT``): the channels' webhooks only, to the Rasa pool;
  every other path gets ``404`` (Rasa's HTTP API reads and rewrites conversations and is for
  our own processes). The path is compared as the client sent it (``path`` is not decoded), so
  ``%2F``, ``..`` or a doubled slash cannot smuggle another route past the list.
* ``staff`` (``PROD_HOST:STAFF_PORT``): the staff service (chat page, console, its API, the
  Telegram webhook), which itself listens on 127.0.0.1 only.
* ``rasa-api`` and ``actions`` (127.0.0.1): Rasa's HTTP API for the staff service and worker
  (``RASA_URL``) and the action-server pool (``ACTION_ENDPOINT_URL``).
* ``stats`` (127.0.0.1): ``/health`` (HAProxy itself answers), ``/metrics`` (HAProxy's built-in
  Prometheus exporter) and ``/stats`` (``;csv``: each server's state, read by the profile).

Backends: the Rasa pool is shared by the public and the API front, so each replica gets one
active check per second, not two. Every server is checked on ``/ready`` (``inter 1s fall 3 rise
1``); a refused connection takes it out at once (``observe layer4``). A conversation goes to
the same replica every time while it is up (consistent hashing on the sender, read from the
REST/Zalo/Facebook body or the ``/conversations/<id>`` path; requests naming no conversation go
round robin): the Redis lock store keeps a conversation correct on any replica, affinity keeps
the replica's caches useful and moves only a lost replica's conversations.

Retries: ``retry-on conn-failure`` only, on another server (``option redispatch``): a request
is sent again only when it could not be delivered. ``empty-response``, ``response-timeout`` and
the 5xx conditions are deliberately not used: a replica that took the request and then died may
already have run the turn (a case filed, a message sent), so the client gets ``502``/``504``
rather than a second turn.

The chat page and ``bench/citizens.py`` resend such a message themselves, once, with the same
client message id, and Rasa answers a repeated id from the stored turn instead of running it again
(``bot.conversation.replayed_turns``). An L7 retry (``retry-on empty-response 502 503``) limited
to the REST path (``http-request disable-l7-retry unless { path /webhooks/rest/webhook }``) would
be safe for a request *carrying an id*, and is still not configured: HAProxy could tell such a
request only by a substring match on the JSON body, and a citizen's text containing
``"message_id"`` would then buy a request without an id (an old page, another client) a second
turn; and it would gain nothing over the client's resend, which waits the same way for the dead
replica's conversation lock to lapse (a lease of seconds). The only retry that knows the request
is idempotent is the client's.

Connections: ``option http-server-close`` opens a new connection to the server for every
request, so HAProxy never writes a request into an idle connection the server is just closing
(Sanic closes them after 5 s): that race ends in an empty response, which must not be retried,
and the client would get a 502 for a message nobody processed.

Bodies pass untouched: no compression, no rewriting, and ``option http-buffer-request`` only
waits for the whole body (the hash needs the sender) before forwarding it byte for byte, so the
channels' signatures (``X-Hub-Signature-256``, ``X-ZEvent-Signature``) still verify.
``option forwardfor`` appends the client's address to ``X-Forwarded-For``; the staff service
believes that header only from a trusted proxy (``TRUSTED_PROXIES``, default this machine:
HAProxy), so its login lockout counts the real client, not HAProxy.

When every server of a pool fails its checks (a burst can make replicas answer ``/ready`` late
although they still serve; Rasa's ``/ready`` also fails while Redis is away, when the replicas
wait for it or fall back to PostgreSQL locks rather than refuse), HAProxy falls back to unchecked ``backup`` copies of the same
servers (``option allbackups``) instead of answering ``503`` to everyone: a dead one refuses the
connection and the request moves on.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: What the public front forwards: the channels' webhooks (and their GET status pages, the
#: README's check that a channel is configured). Rasa's HTTP API stays on the internal front.
CHANNEL_WEBHOOK_PATHS = (
    "/webhooks/facebook/webhook",
    "/webhooks/facebook/",
    "/webhooks/zalo/webhook",
    "/webhooks/zalo/",
)

#: Where Debian's package puts it; ``HAPROXY`` overrides (tests, other systems).
DEFAULT_BINARY = "haproxy"

INSTALL_HINT = "apt-get install haproxy (./mttq setup installs it when run as root)"


class HAProxyMissing(RuntimeError):
    """The haproxy binary is not installed (``./mttq setup`` installs Debian's package)."""


def binary(env: dict[str, str] | None = None) -> str:
    """Absolute path of the haproxy executable, or :class:`HAProxyMissing`."""
    import os

    name = (env or os.environ).get("HAPROXY") or DEFAULT_BINARY
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    if not found:
        raise HAProxyMissing(f"haproxy is not installed ({INSTALL_HINT})")
    return found


@dataclass(frozen=True)
class Server:
    """One upstream: a name in HAProxy's stats and metrics, and its loopback port."""

    name: str
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def bind(self) -> str:
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # IPv6 literal
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Layout:
    """Every front and pool HAProxy serves (:func:`render` turns it into a configuration).

    ``public`` and ``staff`` are optional so tests can run the pools alone; ``public_paths``
    empty forwards every path on ``public`` (a test front)."""

    rasa: tuple[Server, ...]
    actions: tuple[Server, ...] = ()
    web: Server | None = None
    public: Listen | None = None
    staff: Listen | None = None
    rasa_api: Listen | None = None
    actions_front: Listen | None = None
    stats: Listen = Listen("127.0.0.1", 0)
    public_paths: tuple[str, ...] = CHANNEL_WEBHOOK_PATHS
    check_path: str = "/ready"
    #: Active checks: every ``check_inter_ms``; ``fall`` failures in a row take a server out.
    check_inter_ms: int = 1000
    fall: int = 3
    #: A Rasa turn runs actions, and the action server calls PostgreSQL: minutes, at worst.
    server_timeout_s: int = 300
    connect_timeout_ms: int = 2000
    check_timeout_ms: int = 5000


def _server_lines(servers: tuple[Server, ...], layout: Layout) -> list[str]:
    check = (
        f"check inter {layout.check_inter_ms} fall {layout.fall} rise 1 "
        "observe layer4 error-limit 1 on-error mark-down"
    )
    lines = [f"    server {s.name} {s.host}:{s.port} {check}" for s in servers]
    # Fail open (module docstring): the same servers, unchecked, only when all of the above
    # are out.
    lines += [f"    server {s.name}-open {s.host}:{s.port} backup" for s in servers]
    return lines


def _pool(name: str, servers: tuple[Server, ...], layout: Layout, *, affinity: bool) -> list[str]:
    lines = [
        f"backend {name}",
        f"    option httpchk GET {layout.check_path}",
        "    http-check expect status 200",
        "    option allbackups",
    ]
    if affinity:
        # Hash on the conversation: the /conversations/<id> path, else the sender in the body
        # (REST {"sender": "…"}, Zalo {"sender": {"id": …}}, Facebook entry[0].messaging[0]).
        lines += [
            "    option http-buffer-request",
            "    http-request set-var(txn.conversation) path,field(3,/)"
            " if { path_beg /conversations/ }",
            "    http-request set-var(txn.conversation) req.body,json_query('$.sender.id')"
            " if !{ var(txn.conversation) -m found }",
            "    http-request set-var(txn.conversation) req.body,json_query('$.sender')"
            " if !{ var(txn.conversation) -m found }",
            "    http-request set-var(txn.conversation)"
            " req.body,json_query('$.entry[0].messaging[0].sender.id')"
            " if !{ var(txn.conversation) -m found }",
            "    balance hash var(txn.conversation)",
            "    hash-type consistent",
        ]
    else:
        lines.append("    balance roundrobin")
    return lines + _server_lines(servers, layout) + [""]


def render(layout: Layout) -> str:
    """The haproxy.cfg text for ``layout`` (see the module docstring for what each part does)."""
    if not layout.rasa:
        raise ValueError("the Rasa pool needs at least one server")
    out = [
        "# Generated by tools/haproxy.py from the production profile; edits are overwritten.",
        "global",
        "    log stdout format raw local0 info",
        "    maxconn 4096",
        "    hard-stop-after 15s",
        "",
        "defaults",
        "    mode http",
        "    log global",
        # Only what went wrong (errors, timeouts, retries, 5xx), and never a query string:
        # Rasa's API takes its token as ?token=, which must not reach a log file.
        "    option dontlognull",
        "    option dontlog-normal",
        '    log-format "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc '
        '%ac/%fc/%bc/%sc/%rc %sq/%bq %HM %HP"',
        "    option forwardfor",
        f"    timeout connect {layout.connect_timeout_ms}ms",
        f"    timeout client {layout.server_timeout_s}s",
        f"    timeout server {layout.server_timeout_s}s",
        "    timeout http-request 30s",
        # Server side: a new connection per request (loopback: microseconds), so a request is
        # never written into an idle connection Sanic (5 s keep-alive) is closing, which would
        # end as an empty response that must not be retried. Client side: idle connections are
        # kept longer than our clients keep theirs (aiohttp: 15 s), so the client closes first.
        "    option http-server-close",
        "    timeout http-keep-alive 75s",
        f"    timeout check {layout.check_timeout_ms}ms",
        "    # Only a request that could not be delivered is sent again (module docstring).",
        "    retries 2",
        "    retry-on conn-failure",
        "    option redispatch 1",
        # HAProxy's own answers in JSON, like every other service of ours.
        *(
            f"    http-error status {code} content-type application/json "
            f'string \'{{"error":"{name}"}}\''
            for code, name in ((502, "bad_gateway"), (503, "no_server"), (504, "gateway_timeout"))
        ),
        "",
    ]
    reject_absolute = (
        # An absolute-form target ("GET http://elsewhere/ HTTP/1.1") asks a forward proxy to
        # fetch another site: this is a reverse proxy.
        "    http-request deny deny_status 400 unless { url_beg / }"
    )
    not_found = (
        "    http-request return status 404 content-type application/json "
        'string \'{"error":"not_found"}\''
    )
    if layout.public is not None:
        out += ["frontend public", f"    bind {layout.public.bind()}", reject_absolute]
        if layout.public_paths:
            paths = " ".join(layout.public_paths)
            out += [f"    acl channel_webhook path {paths}", f"{not_found} unless channel_webhook"]
        out += ["    default_backend rasa", ""]
    if layout.rasa_api is not None:
        out += [
            "frontend rasa-api",
            f"    bind {layout.rasa_api.bind()}",
            reject_absolute,
            "    default_backend rasa",
            "",
        ]
    if layout.actions_front is not None and layout.actions:
        out += [
            "frontend actions",
            f"    bind {layout.actions_front.bind()}",
            reject_absolute,
            "    default_backend actions",
            "",
        ]
    if layout.staff is not None and layout.web is not None:
        out += [
            "frontend staff",
            f"    bind {layout.staff.bind()}",
            reject_absolute,
            "    default_backend web",
            "",
        ]
    out += [
        "frontend stats",
        f"    bind {layout.stats.bind()}",
        "    monitor-uri /health",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    stats enable",
        "    stats uri /stats",
        "    stats show-legends",
        "",
    ]
    out += _pool("rasa", layout.rasa, layout, affinity=True)
    if layout.actions:
        out += _pool("actions", layout.actions, layout, affinity=False)
    if layout.web is not None:
        out += _pool("web", (layout.web,), layout, affinity=False)
    return "\n".join(out) + "\n"


def write_config(layout: Layout, directory: Path, env: dict[str, str] | None = None) -> Path:
    """Write ``haproxy.cfg`` into ``directory`` and check it with ``haproxy -c``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "haproxy.cfg"
    path.write_text(render(layout), encoding="utf-8")
    check(path, env)
    return path


def check(path: Path, env: dict[str, str] | None = None) -> None:
    """``haproxy -c -f path``; ValueError with HAProxy's own words when it refuses."""
    result = subprocess.run(
        [binary(env), "-c", "-q", "-f", str(path)], capture_output=True, text=True, timeout=30
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        problems = [line for line in lines if "ALERT" in line] or lines
        raise ValueError(f"haproxy refuses {path}: " + " | ".join(problems[:5]))


def command(config: Path, env: dict[str, str] | None = None) -> list[str]:
    """Foreground (``-db``), so the supervisor owns the process and reads its log. Built even
    when haproxy is missing (the layout can be inspected); :func:`write_config` is what says
    it is missing, before anything starts."""
    try:
        executable = binary(env)
    except HAProxyMissing:
        executable = DEFAULT_BINARY
    return [executable, "-db", "-f", str(config)]


def server_states(stats_url: str, timeout: float = 2.0) -> dict[tuple[str, str], str]:
    """``{(backend, server): "UP"/"DOWN"/…}`` from HAProxy's CSV stats; ``{}`` when it does
    not answer."""
    try:
        with urllib.request.urlopen(f"{stats_url}/stats;csv", timeout=timeout) as response:  # noqa: S310
            text = response.read().decode()
    except (urllib.error.URLError, OSError, ValueError):
        return {}
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {
        (row["pxname"], row["svname"]): (row.get("status") or "").split(" ")[0]
        for row in rows
        if row.get("svname") not in ("FRONTEND", "BACKEND")
    }


def wait_up(
    stats_url: str,
    backend: str,
    servers: list[str],
    timeout: float = 30.0,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Until HAProxy reports every one of ``servers`` of ``backend`` UP (its checks passed)."""
    deadline = time.monotonic() + timeout
    while True:
        states = server_states(stats_url)
        if all(states.get((backend, name)) == "UP" for name in servers):
            return
        if alive is not None and not alive():
            raise RuntimeError(f"{', '.join(servers)} exited before HAProxy saw them up")
        if time.monotonic() > deadline:
            seen = {name: states.get((backend, name), "?") for name in servers}
            raise TimeoutError(f"HAProxy does not see {backend} servers up: {seen}")
        time.sleep(0.1)
