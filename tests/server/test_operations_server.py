"""Operations against the real assistant: Rasa and the action server as `./mttq run` starts them,
with JSON logs at DEBUG (the level at which Rasa writes what citizens type).

One start-up serves every check: readiness of both processes, the counters after real turns,
and the log files: JSON lines carrying the conversation id, and never the phone number a citizen
typed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trained_model import trained_model

from bot.observability.action_server import domain_actions
from tools.env import scratch_stack_env
from tools.procs import action_server, free_ports, rasa_server, wait_ready

pytestmark = pytest.mark.slow

PHONE = "0912345678"


class Ops:
    def __init__(self, tmp: Path) -> None:
        self.rasa_port, self.action_port = free_ports(2)
        env = scratch_stack_env(tmp, self.action_port, {"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"})
        self.env = env
        self.rasa_log = tmp / "logs" / "rasa.log"
        self.actions_log = tmp / "logs" / "actions.log"
        self.actions = action_server(self.action_port, log=self.actions_log, env=env)
        self.rasa = rasa_server(trained_model(), self.rasa_port, log=self.rasa_log, env=env)

    def get(self, port: int, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def send(self, sender: str, message: str) -> list[dict[str, Any]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook",
            data=json.dumps({"sender": sender, "message": message}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return list(json.loads(answer.read()))

    def metric(self, port: int, series: str) -> float:
        """Sum of the samples whose line starts with ``series`` (name and label prefix)."""
        _, text = self.get(port, "/metrics")
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(series))


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    server = Ops(tmp_path_factory.mktemp("operations"))
    server.actions.start()
    server.rasa.start()
    try:
        wait_ready([server.actions, server.rasa], timeout=240)
        yield server
    finally:
        server.rasa.stop()
        server.actions.stop()


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """The log's JSON lines; plain lines are only allowed before the first JSON one (warnings
    printed while Python imports Rasa, before the ops channel takes over the logging)."""
    parsed: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            item = json.loads(line)
        except ValueError:
            assert not parsed, f"{path.name}:{number} is not JSON: {line[:200]}"
            continue
        assert isinstance(item, dict)
        parsed.append(item)
    return parsed


def test_operations_of_a_real_conversation(ops: Ops) -> None:
    status, body = ops.get(ops.rasa_port, "/ready")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"model": "ok", "tracker_store": "ok"}
    status, body = ops.get(ops.action_port, "/ready")
    assert status == 200, body

    sender = f"ops-{uuid.uuid4()}"
    ops.send(sender, f"số điện thoại của tôi là {PHONE}")
    ops.send(sender, "xin chào")
    _, tracker = ops.get(ops.rasa_port,
                         f"/conversations/{sender}/tracker?token={ops.env['RASA_TOKEN']}")
    events = json.loads(tracker)["events"]
    intents = [e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"]
    ran = {e["name"] for e in events if e["event"] == "action"} & domain_actions()

    # Rasa: messages, intents (as predicted), a turn and an HTTP latency sample per message.
    rasa = ops.rasa_port
    assert ops.metric(rasa, 'mttq_messages_total{channel="rest"}') >= 2
    for intent in intents:
        assert ops.metric(rasa, f'mttq_intents_total{{intent="{intent}"}}') >= 1
    assert ops.metric(rasa, 'mttq_intent_confidence_count{') >= 2
    assert ops.metric(rasa, 'mttq_turn_duration_seconds_count{channel="rest"}') >= 2
    assert ops.metric(rasa, 'mttq_http_request_duration_seconds_count'
                            '{endpoint="/webhooks/rest/webhook"}') >= 2
    assert ops.metric(rasa, "mttq_event_broker_errors_total") == 0
    # The action server: the custom actions those turns ran.
    assert ran, f"no custom action ran: {events}"
    for action in ran:
        assert ops.metric(ops.action_port,
                          f'mttq_action_runs_total{{action="{action}",outcome="ok"}}') >= 1

    rasa_lines = _json_lines(ops.rasa_log)
    action_lines = _json_lines(ops.actions_log)
    ours = [line for line in rasa_lines if line.get("conversation_id") == sender]
    assert ours and {line["process"] for line in ours} == {"rasa"}
    assert any(line.get("conversation_id") == sender for line in action_lines)
    # The number never reaches a file, though Rasa logs the text at DEBUG.
    for log in (ops.rasa_log, ops.actions_log):
        text = log.read_text(encoding="utf-8")
        assert PHONE not in text and "912345678" not in text, log.name
    assert any("<phone>" in json.dumps(line, ensure_ascii=False) for line in ours)
