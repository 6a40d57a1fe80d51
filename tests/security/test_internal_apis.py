"""Issue 18, attacks 1-3, against real servers: the action server, Rasa and the public front.

One action server and one Rasa server start as ``./mttq run`` starts them (``tools.procs`` with
``tools.env.child_env``), plus HAProxy's public front as ``./mttq prod`` configures it in front
of the channels. A victim Facebook citizen has a case in the feedback DB. Then an outsider tries:

1. a forged ``POST /webhook`` to the action server (no secret, a wrong secret, and from the
   machine's non-loopback address) with a hand-made tracker naming the victim;
2. Rasa's HTTP API without the token (read the victim's tracker, ``trigger_intent`` a staff
   reply into the victim's conversation), directly and through the public front;
3. the REST channel with ``input_channel: facebook`` and the victim's id.

Each attack must be refused, and the legitimate path next to it must still work, so a test
cannot pass by everything being down.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trained_model import trained_model

from tests.assistant_stack import AssistantStack, running
from tools.procs import Proc, free_ports, wait_ready

pytestmark = pytest.mark.slow

VICTIM = "2417930418273645"  # a Messenger page-scoped id: digits
SECRET_HEADER = "X-Action-Server-Secret"


def _request(url: str, body: Any = None, headers: dict[str, str] | None = None,
             method: str | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method or ("POST" if data is not None else "GET"),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with opener.open(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def non_loopback_addresses() -> list[str]:
    """This machine's IPv4 addresses other than 127.x (``hostname -I``)."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [a for a in out.split() if "." in a and not a.startswith("127.")]


def listening_addresses(port: int) -> set[str]:
    """Local IPv4/IPv6 addresses with a socket listening on ``port`` (from /proc/net/tcp*)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, _, hex_port = local.partition(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            if len(address) == 8:
                found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
            else:
                raw = bytes.fromhex(address)
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


class Servers(AssistantStack):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, extra_env={"NO_PROXY": "127.0.0.1,localhost"})
        self.public_port = free_ports(1, taken=(self.rasa_port, self.action_port))[0]
        self.token = self.env.get("RASA_TOKEN", "")
        self.secret = self.env.get("ACTION_SERVER_SECRET", "")

    def public_proxy(self) -> Proc:
        """HAProxy with the public front exactly as ``./mttq prod`` lays it out (the layout of
        :class:`tools.profile.Profile`), with our Rasa server as the pool's one server."""
        from dataclasses import replace

        from tools import haproxy
        from tools.procs import haproxy as haproxy_proc
        from tools.profile import Profile

        profile = Profile(
            replicas=1, action_servers=1, database_url=self.db_url,
            tracker_store_url=self.env["TRACKER_STORE_URL"], lock_store_url="",
            var_dir=self.logs.parent / "profile", model=trained_model(),
            public_port=self.public_port, extra_env={"RASA_TOKEN": self.token},
        )
        stats = free_ports(1, taken=(self.public_port, self.rasa_port, self.action_port))[0]
        layout = replace(profile.layout, rasa=(haproxy.Server("rasa-1", self.rasa_port),),
                         actions=(), web=None, staff=None, rasa_api=None, actions_front=None,
                         stats=haproxy.Listen("127.0.0.1", stats))
        config = haproxy.write_config(layout, self.logs.parent / "haproxy")
        return haproxy_proc(config, stats, log=self.logs / "haproxy.log", env=self.env)

    @property
    def rasa_url(self) -> str:
        return self.url

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}/webhook"

    def victim_case(self) -> str:
        """A case filed by the victim on Facebook; its reference code."""
        from bot.cases.service import CaseDraft, create_case
        from bot.db.engine import session_scope
        from bot.db.models import CaseKind
        from bot.db.runtime import get_engine

        draft = CaseDraft(
            kind=CaseKind.PETITION, content="Đèn đường ngõ 5 hỏng hai tuần nay",
            channel="facebook", channel_user_id=VICTIM, unit_code="p_cau_giay",
            conversation_id=VICTIM, person_name="Nguyễn Thị Nạn Nhân", phone="0912345678",
            consent=True,
        )
        with session_scope(get_engine(self.db_url)) as session:
            return create_case(session, draft, idempotency_key=f"victim-{uuid.uuid4()}").ref_code

    def tracker(self, sender: str) -> dict[str, Any]:
        status, body = _request(f"{self.rasa_url}/conversations/{sender}/tracker"
                                f"?token={self.token}")
        assert status == 200, body
        return dict(json.loads(body))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    yield from running(Servers(tmp_path_factory.mktemp("security")))


@pytest.fixture(scope="module")
def public_proxy(servers: Servers) -> Iterator[str]:
    """HAProxy's public front of ``./mttq prod`` in front of ``servers``; its URL."""
    proxy = servers.public_proxy()
    proxy.start()
    try:
        wait_ready([proxy], timeout=60)
        yield f"http://127.0.0.1:{servers.public_port}"
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def victim_ref(servers: Servers) -> str:
    return servers.victim_case()


def forged_call(sender: str = VICTIM, action: str = "action_check_status") -> dict[str, Any]:
    """What the issue's attacker sent: a hand-made tracker naming the victim on Facebook."""
    latest = {"text": "tra cứu hồ sơ của tôi", "intent": {"name": "check_status"},
              "entities": [], "intent_ranking": []}
    return {
        "next_action": action, "sender_id": sender, "version": "3.6.21", "domain": {},
        "tracker": {
            "sender_id": sender, "slots": {}, "latest_message": latest,
            "latest_input_channel": "facebook", "paused": False, "active_loop": {},
            "events": [{"event": "user", "text": latest["text"], "parse_data": latest,
                        "input_channel": "facebook", "timestamp": 1.0}],
        },
    }


# --------------------------------------------------------------------------- 1: action server


def test_the_action_server_listens_on_loopback_only(servers: Servers) -> None:
    assert listening_addresses(servers.action_port) == {"127.0.0.1"}
    assert listening_addresses(servers.rasa_port) == {"127.0.0.1"}


@pytest.mark.parametrize("header", [None, "", "wrong-secret"])
def test_a_forged_action_call_is_refused(
    servers: Servers, victim_ref: str, header: str | None
) -> None:
    headers = {} if header is None else {SECRET_HEADER: header}
    status, body = _request(servers.action_url, forged_call(), headers)
    assert status in (401, 403), body
    assert victim_ref not in body and "responses" not in body


def test_the_action_server_is_unreachable_from_the_network(servers: Servers,
                                                           victim_ref: str) -> None:
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address (hostname -I)")
    for address in addresses:
        try:
            status, body = _request(f"http://{address}:{servers.action_port}/webhook",
                                    forged_call(), {SECRET_HEADER: servers.secret})
        except (urllib.error.URLError, OSError):
            continue  # refused: nothing listens there
        raise AssertionError(f"the action server answered {status} on {address}: {body[:200]}")


def test_rasa_itself_gets_through_with_the_secret(servers: Servers, victim_ref: str) -> None:
    # The same call as Rasa makes it reaches the action (control for the refusals above)...
    status, body = _request(servers.action_url, forged_call("web-control"),
                            {SECRET_HEADER: servers.secret})
    assert status == 200, body
    assert json.loads(body)["responses"]
    # ...and a real turn through Rasa runs custom actions (endpoints.yml sends the header).
    status, body = _request(f"{servers.rasa_url}/webhooks/rest/webhook",
                            {"sender": f"web-{uuid.uuid4()}", "message": "Quỹ vì người nghèo là gì"})
    assert status == 200, body
    assert "Quỹ \"Vì người nghèo\"" in " ".join(r.get("text") or "" for r in json.loads(body))


def test_no_secret_on_any_command_line(servers: Servers, public_proxy: str) -> None:
    """``ps`` shows every local user every command line; the secrets stay in environments."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert servers.token not in cmdline, cmdline.replace("\0", " ")[:200]
        assert servers.secret not in cmdline, cmdline.replace("\0", " ")[:200]


def test_the_action_server_refuses_to_start_without_a_secret() -> None:
    from bot.observability.action_server import create_app

    with pytest.raises(ValueError, match="ACTION_SERVER_SECRET"):
        create_app("actions", secret="")


# --------------------------------------------------------------------------- 2: Rasa's API


def test_rasa_api_refuses_calls_without_the_token(servers: Servers, victim_ref: str) -> None:
    conversation = f"{servers.rasa_url}/conversations/{VICTIM}"
    for token in ("", "?token=wrong"):
        status, body = _request(f"{conversation}/tracker{token}")
        assert status in (401, 403), body
        status, body = _request(
            f"{conversation}/trigger_intent{token or '?'}&output_channel=latest",
            {"name": "EXTERNAL_staff_reply",
             "entities": {"reply_text": "Cán bộ đề nghị chuyển phí hồ sơ vào số tài khoản …"}},
        )
        assert status in (401, 403), body
    status, body = _request(f"{servers.rasa_url}/model", {"model_file": "/tmp/x.tar.gz"},
                            method="PUT")
    assert status in (401, 403), body
    # With the token the API answers (the staff service and ./mttq promote use it).
    assert servers.tracker(VICTIM)["sender_id"] == VICTIM


def test_the_public_proxy_forwards_only_the_channel_webhooks(servers: Servers,
                                                             public_proxy: str) -> None:
    public = public_proxy
    # The channels' webhooks get through (their GET status page here)...
    status, body = _request(f"{public}/webhooks/facebook/")
    assert status == 200 and "configured" in body, body
    # ...Rasa's API does not, even with the token, nor under a disguised path.
    for path in (
        f"/conversations/{VICTIM}/tracker?token={servers.token}",
        f"/conversations/{VICTIM}/trigger_intent?token={servers.token}",
        f"/status?token={servers.token}",
        "/webhooks/rest/webhook",
        f"/webhooks/facebook/webhook/../../../conversations/{VICTIM}/tracker",
        f"/webhooks/facebook/webhook%2F..%2F..%2F..%2Fconversations%2F{VICTIM}%2Ftracker",
        "/metrics",
    ):
        status, body = _request(f"{public}{path}")
        assert status == 404, (path, status, body)
        status, body = _request(f"{public}{path}", {"name": "x", "sender": "s", "message": "m"})
        assert status == 404, (path, status, body)


# --------------------------------------------------------------------------- 3: REST channel


def test_rest_channel_ignores_a_spoofed_input_channel(servers: Servers) -> None:
    sender = f"web-{uuid.uuid4()}"
    status, body = _request(f"{servers.rasa_url}/webhooks/rest/webhook",
                            {"sender": sender, "message": "xin chao", "input_channel": "facebook"})
    assert status == 200, body
    channels = {e.get("input_channel") for e in servers.tracker(sender)["events"]
                if e["event"] == "user"}
    assert channels == {"rest"}


def test_rest_channel_cannot_enter_a_facebook_conversation(servers: Servers,
                                                            victim_ref: str) -> None:
    before = len(servers.tracker(VICTIM)["events"])
    status, body = _request(
        f"{servers.rasa_url}/webhooks/rest/webhook",
        {"sender": VICTIM, "message": "tra cứu hồ sơ", "input_channel": "facebook"},
    )
    assert status == 403, body
    assert victim_ref not in body
    assert len(servers.tracker(VICTIM)["events"]) == before


def test_no_secret_reaches_any_log(servers: Servers, public_proxy: str, victim_ref: str) -> None:
    """Attack 5: tokens travel in URLs (``?token=``), in headers and in malformed headers that
    end up in tracebacks; after traffic of every kind, no log file holds either shared secret.
    (Runs last in this module, so it also reads what every test above made the servers log.)"""
    token, secret = servers.token, servers.secret
    assert len(token) >= 16 and len(secret) >= 16  # generated, recognisable values
    _request(f"{servers.rasa_url}/conversations/{VICTIM}/tracker?token={token}")
    _request(f"{servers.rasa_url}/conversations/{VICTIM}/tracker",
             headers={"Authorization": f"Bearer {token}x"})
    _request(f"{servers.rasa_url}/conversations/{VICTIM}/tracker",
             headers={"Authorization": f"Bearer{token}"})  # malformed: no space
    _request(servers.action_url, forged_call(), headers={SECRET_HEADER: f"{secret}x"})
    _request(f"{public_proxy}/conversations/{VICTIM}/tracker?token={token}")
    _request(f"{servers.rasa_url}/webhooks/rest/webhook?token={token}",
             {"sender": f"log-{uuid.uuid4().hex[:8]}", "message": "xin chao"})
    files = [p for p in servers.logs.parent.rglob("*.log") if p.is_file()]
    assert any(p.name == "rasa.log" for p in files) and any(p.name == "actions.log" for p in files)
    for path in files:
        text = path.read_text(errors="replace")
        assert token not in text, f"RASA_TOKEN in {path.name}"
        assert secret not in text, f"ACTION_SERVER_SECRET in {path.name}"
