"""The real assistant over HTTP: Rasa server + action server with the trained model.

One start-up serves every check (starting Rasa costs most of the time), then one restart proves
the SQLite tracker store keeps conversations.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from tools import model as models
from tools.env import child_env
from tools.procs import Proc, action_server, rasa_server, wait_ready

pytestmark = pytest.mark.slow

VIETNAMESE = set("àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _model() -> Path:
    explicit = os.environ.get("MTTQ_MODEL")
    path = Path(explicit) if explicit else models.latest_model()
    if path is None or not path.exists():
        if os.environ.get("CI"):
            pytest.fail("no trained model: `./mttq test` trains one before pytest")
        pytest.skip("no trained model (run ./mttq train)")
    return path


class Assistant:
    def __init__(self, tmp: Path) -> None:
        self.rasa_port = _free_port()
        self.action_port = _free_port()
        self.env = child_env(
            {
                "TRACKER_STORE_URL": f"sqlite:///{tmp / 'tracker.db'}",
                "DATABASE_URL": f"sqlite:///{tmp / 'feedback.db'}",
                "VAR_DIR": str(tmp / "var"),
                "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.action_port}/webhook",
                "LOCK_STORE_URL": "",
            }
        )
        self.logs = tmp / "logs"
        self.model = _model()
        self.actions = action_server(self.action_port, log=self.logs / "actions.log", env=self.env)
        self.rasa = self._rasa()

    def _rasa(self) -> Proc:
        return rasa_server(self.model, self.rasa_port, log=self.logs / "rasa.log", env=self.env)

    def start(self) -> None:
        self.actions.start()
        self.rasa.start()
        wait_ready([self.actions, self.rasa], timeout=240)

    def restart_rasa(self) -> None:
        self.rasa.stop()
        self.rasa = self._rasa()
        self.rasa.start()
        wait_ready([self.rasa], timeout=240)

    def stop(self) -> None:
        self.rasa.stop()
        self.actions.stop()

    def send(self, sender: str, message: str) -> list[dict[str, Any]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook",
            data=json.dumps({"sender": sender, "message": message}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def tracker(self, sender: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.rasa_port}/conversations/{sender}/tracker"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    server = Assistant(tmp_path_factory.mktemp("assistant"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _texts(replies: list[dict[str, Any]]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


def _is_vietnamese(text: str) -> bool:
    return any(ch in VIETNAMESE for ch in text.lower())


def test_greeting_without_diacritics(assistant: Assistant) -> None:
    replies = assistant.send(f"t-{uuid.uuid4()}", "xin chao")
    assert _texts(replies).startswith("Xin chào! Tôi là trợ lý tự động")
    assert any(b["payload"] == "/submit_petition" for r in replies for b in r.get("buttons", []))


def test_programme_question_is_answered_from_the_knowledge_base(assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    replies = assistant.send(sender, "Quỹ vì người nghèo là gì")
    assert "Quỹ \"Vì người nghèo\"" in _texts(replies)
    follow_up = assistant.send(sender, "thế ai được hỗ trợ?")
    assert "hộ nghèo, hộ cận nghèo" in _texts(follow_up)


def test_petition_request_is_understood(assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    assistant.send(sender, "toi muon gui kien nghi")
    events = assistant.tracker(sender)["events"]
    intents = [e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"]
    assert intents == ["submit_petition"]


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "😀😀😀",
        "👍",
        "?!?!",
        "Xin chào 你好 привет مرحبا 😀 kiến nghị",
        ("Đề nghị phường xử lý rác thải ở ngõ 5, tổ 12 ạ. " * 250)[:10_000],
        ("asdf qwer zxcv " * 700)[:10_000],
    ],
    ids=["empty", "spaces", "emoji", "thumbs-up", "punctuation", "mixed-scripts",
         "10k-petition", "10k-noise"],
)
def test_broken_input_gets_a_vietnamese_reply(assistant: Assistant, message: str) -> None:
    replies = assistant.send(f"t-{uuid.uuid4()}", message)
    text = _texts(replies)
    assert text.strip(), f"no reply to {message[:30]!r}"
    assert _is_vietnamese(text)


def test_restart_keeps_the_conversation(assistant: Assistant) -> None:
    sender = f"t-{uuid.uuid4()}"
    assistant.send(sender, "xin chào")
    before = [e for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assistant.restart_rasa()
    after = [e for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assert [e["text"] for e in after] == [e["text"] for e in before] == ["xin chào"]
