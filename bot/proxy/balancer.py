"""Which upstream gets a request: conversation affinity, round robin, and upstream health.

Pure logic, no I/O, so the routing rules are tested without sockets.

* A request that names a conversation (REST channel ``{"sender": …}``, Zalo ``{"sender": {"id":
  …}}``, a Facebook batch whose events all come from one sender, ``/conversations/<id>/…``) goes
  to the same healthy upstream every time: rendezvous hashing ranks the healthy upstreams per
  key, so one upstream going down moves only its own conversations, and they come back when it
  does. The Redis lock store keeps a conversation correct on any replica; affinity keeps the
  channels' per-process ordering queues and caches useful.
* socket.io (``/socket.io/…``) is keyed by the client's address: its polling transport must keep
  talking to the replica that issued the session id.
* Everything else is spread round robin over the healthy upstreams.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

#: Bodies larger than this are not parsed for a sender (channel webhooks are a few KB).
MAX_KEY_BODY = 256 * 1024

_CONVERSATION_PATH = re.compile(r"^/conversations/([^/?#]+)")


@dataclass
class Upstream:
    """One backend; ``healthy`` is what the proxy believes right now."""

    url: str
    healthy: bool = False
    failures: int = 0

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")


def score(key: str, upstream_url: str) -> int:
    """Rendezvous (highest random weight) score of ``upstream_url`` for ``key``."""
    digest = hashlib.blake2b(f"{key}\0{upstream_url}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rank(key: str, urls: Iterable[str]) -> list[str]:
    """``urls`` in the order a request with this key tries them (first = its home)."""
    return sorted(urls, key=lambda url: score(key, url.rstrip("/")), reverse=True)


def _facebook_sender(data: dict[str, object]) -> str | None:
    entries = data.get("entry")
    if not isinstance(entries, list):
        return None
    senders: set[str] = set()
    for entry in entries:
        events = entry.get("messaging") if isinstance(entry, dict) else None
        for event in events if isinstance(events, list) else []:
            sender = event.get("sender") if isinstance(event, dict) else None
            sender_id = sender.get("id") if isinstance(sender, dict) else None
            if not isinstance(sender_id, str):
                return None
            senders.add(sender_id)
    return senders.pop() if len(senders) == 1 else None


def conversation_key(path: str, body: bytes) -> str | None:
    """The conversation a request belongs to, or None when it names none (or several).

    ``path`` is the raw (still percent-encoded) path without the query string.
    """
    match = _CONVERSATION_PATH.match(path)
    if match:
        return unquote(match.group(1))
    if not body or len(body) > MAX_KEY_BODY or body.lstrip()[:1] != b"{":
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    sender = data.get("sender")
    if isinstance(sender, str) and sender:
        return sender
    if isinstance(sender, dict) and isinstance(sender.get("id"), str) and sender["id"]:
        return str(sender["id"])
    return _facebook_sender(data)


def affinity_key(path: str, body: bytes, client: str) -> str | None:
    """The routing key of a request (see the module docstring)."""
    if path == "/socket.io" or path.startswith("/socket.io/"):
        return f"client:{client}"
    key = conversation_key(path, body)
    return f"conversation:{key}" if key is not None else None


class Balancer:
    """Health state of a fixed set of upstreams and the order a request tries them in.

    ``fall``: consecutive failed active checks before a healthy upstream is taken out. A refused
    connection (active or passive) takes it out at once: nothing listens there. One good check,
    or any answer to a forwarded request, brings it back.

    When every upstream is out, requests still try all of them (fail open, as nginx does): a
    saturated replica answers its health check late, and under a burst every replica can look
    down at once although each is still answering requests. Refusing everyone then would turn a
    slow minute into an outage; a truly dead upstream refuses the connection and the request
    moves on to the next.
    """

    def __init__(self, urls: Iterable[str], *, fall: int = 3) -> None:
        self.upstreams = [Upstream(url) for url in urls]
        if not self.upstreams:
            raise ValueError("at least one upstream is needed")
        if len({u.url for u in self.upstreams}) != len(self.upstreams):
            raise ValueError("upstreams must be distinct")
        self.fall = max(1, fall)
        self._turn = itertools.count()

    def healthy(self) -> list[Upstream]:
        return [u for u in self.upstreams if u.healthy]

    def candidates(self, key: str | None) -> list[Upstream]:
        """Healthy upstreams in the order to try them: the key's ranking, else round robin."""
        healthy = self.healthy() or list(self.upstreams)
        if key is not None:
            return sorted(healthy, key=lambda u: score(key, u.url), reverse=True)
        start = next(self._turn) % len(healthy)
        return healthy[start:] + healthy[:start]

    def check_passed(self, upstream: Upstream) -> bool:
        """Record a good check; True when this brought the upstream back."""
        changed = not upstream.healthy
        upstream.healthy, upstream.failures = True, 0
        return changed

    def check_failed(self, upstream: Upstream, *, refused: bool = False) -> bool:
        """Record a failed check (or a refused connection); True when the upstream went down."""
        upstream.failures += 1
        if upstream.healthy and (refused or upstream.failures >= self.fall):
            upstream.healthy = False
            return True
        return False

    def answered(self, upstream: Upstream) -> bool:
        """A forwarded request got an HTTP answer: the upstream is alive (True if it was out)."""
        return self.check_passed(upstream)

    def connection_failed(self, upstream: Upstream) -> bool:
        """A request could not even connect: out until the next good active check."""
        return self.check_failed(upstream, refused=True)
