"""The production profile on this machine: two Rasa replicas, an action server pool and the
staff service behind HAProxy, and the worker, on a fresh PostgreSQL database and Redis. One
start-up; then a conversation survives losing the replica it was talking to.
"""

from __future__ import annotations

import csv
import io
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from trained_model import trained_model

from tools import haproxy
from tools.prod import postgres_problem, redis_problem
from tools.profile import Profile

pytestmark = pytest.mark.slow

PG_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _skip_or_fail(problem: str | None) -> None:
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem} (CI is set, so the profile test must run)")
    pytest.skip(problem)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for the feedback DB and the tracker store, dropped after."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    _skip_or_fail(postgres_problem(PG_URL))
    name = f"mttq_profile_{uuid.uuid4().hex[:12]}"
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    assert postgres_problem(url, create=True) is None
    try:
        yield url
    finally:
        admin = create_engine(PG_URL, future=True, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def profile(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Profile]:
    _skip_or_fail(redis_problem(REDIS_URL))
    tmp = tmp_path_factory.mktemp("profile")
    started = Profile(
        replicas=2, action_servers=2, database_url=database, tracker_store_url=database,
        lock_store_url=REDIS_URL, var_dir=tmp / "var", model=trained_model(),
    )
    started.start(timeout=300)
    try:
        yield started
    finally:
        started.stop()


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _say(profile: Profile, sender: str, message: str) -> str:
    replies = _post(f"{profile.rasa_url}/webhooks/rest/webhook",
                    {"sender": sender, "message": message})
    return " ".join(r.get("text") or "" for r in replies)


def _requests_by_replica(profile: Profile) -> dict[str, int]:
    """Requests HAProxy has sent to each Rasa replica so far (its stats' ``stot``)."""
    with urllib.request.urlopen(f"{profile.stats_url}/stats;csv", timeout=10) as response:
        rows = list(csv.DictReader(io.StringIO(response.read().decode().lstrip("# "))))
    return {row["svname"]: int(row["stot"] or 0) for row in rows
            if row["pxname"] == "rasa" and row["svname"].startswith("rasa-")
            and not row["svname"].endswith("-open")}


def _cases(database: str, sender: str) -> list[dict[str, Any]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT ref_code, unit_code, category, content FROM cases "
                     "WHERE conversation_id = :c"), {"c": sender}
            ).mappings().all()
            return [dict(r) for r in rows]
    finally:
        engine.dispose()


def test_every_piece_answers(profile: Profile) -> None:
    assert profile.names == ["actions-1", "actions-2", "rasa-1", "rasa-2", "web", "worker",
                             "haproxy"]
    assert all(profile.alive(name) for name in profile.names)
    states = haproxy.server_states(profile.stats_url)
    assert {name: states[("rasa", name)] for name in ("rasa-1", "rasa-2")} == {
        "rasa-1": "UP", "rasa-2": "UP"}
    assert states[("web", "web")] == "UP"
    # ./mttq promote finds every replica of the running profile here.
    pool = json.loads(profile.pool_file.read_text())
    assert pool["rasa"] == profile.replica_urls and pool["pid"] == os.getpid()
    # The chat page of the staff service (behind HAProxy) reaches Rasa through HAProxy.
    sender = str(uuid.uuid4())
    replies = _post(f"{profile.web_url}/chat/api/message", {"sender": sender, "message": "xin chao"})
    assert " ".join(r.get("text") or "" for r in replies).startswith("Xin chào")
    assert _get(f"{profile.worker_url}/health") == {"status": "ok"}


def test_a_petition_survives_losing_its_replica(profile: Profile, database: str) -> None:
    sender = f"prod-{uuid.uuid4()}"
    before = _requests_by_replica(profile)
    _say(profile, sender, "toi muon gui kien nghi")
    after = _requests_by_replica(profile)
    (home_name,) = [name for name in after if after[name] > before[name]]
    _say(profile, sender, "cong thoat nuoc truoc nha so 12 bi vo, nuoc ban tran ra duong")

    profile.kill(home_name)  # mid-form, no shutdown at all
    assert not profile.alive(home_name)
    # And one action server too: HAProxy moves calls to the other.
    profile.kill("actions-1")

    # The other replica picks the form up where it was: content and place known, next question.
    assert "lĩnh vực nào" in _say(profile, sender, "phuong cau giay")
    _say(profile, sender, '/inform{"category":"moi_truong"}')
    last = _say(profile, sender, "/deny")
    assert "Gửi ẩn danh" in last and "phường Cầu Giấy" in last
    saved = _say(profile, sender, "/affirm")
    (case,) = _cases(database, sender)
    assert case["ref_code"] in saved
    assert (case["unit_code"], case["category"]) == ("p_cau_giay", "moi_truong")
    assert case["content"] == "cong thoat nuoc truoc nha so 12 bi vo, nuoc ban tran ra duong"

    # The whole conversation is in the shared tracker store, read through HAProxy.
    tracker = _get(f"{profile.rasa_url}/conversations/{sender}/tracker"
                   f"?token={profile.env['RASA_TOKEN']}")
    texts = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert texts[:2] == ["toi muon gui kien nghi",
                         "cong thoat nuoc truoc nha so 12 bi vo, nuoc ban tran ra duong"]
    assert len(texts) == 6

    metrics = urllib.request.urlopen(f"{profile.stats_url}/metrics", timeout=10).read().decode()
    assert f'haproxy_server_status{{proxy="rasa",server="{home_name}",state="DOWN"}} 1' in metrics
    states = haproxy.server_states(profile.stats_url)
    assert [states[("actions", n)] for n in ("actions-1", "actions-2")] == ["DOWN", "UP"]

    # An action server comes back on its own port and into the pool.
    seconds = profile.restart("actions-1")
    assert profile.alive("actions-1") and seconds < 120


def test_stop_stops_everything(profile: Profile) -> None:
    profile.stop()
    assert not any(profile.alive(name) for name in profile.names)
    assert not profile.pool_file.exists()  # a stopped profile is no pool to promote to
