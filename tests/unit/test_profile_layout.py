"""The production profile's layout, without starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.profile import Profile, ProfileError


def _profile(tmp_path: Path, **kwargs: object) -> Profile:
    values: dict[str, object] = dict(
        database_url="postgresql://postgres@127.0.0.1:5432/x",
        tracker_store_url="postgresql://postgres@127.0.0.1:5432/x",
        lock_store_url="redis://127.0.0.1:6379/15", var_dir=tmp_path, model=tmp_path / "m.tar.gz",
    )
    values.update(kwargs)
    return Profile(**values)  # type: ignore[arg-type]


def test_names_urls_and_wiring(tmp_path: Path) -> None:
    profile = _profile(tmp_path, replicas=3, action_servers=2, public_port=15005, staff_port=18080,
                       extra_env={"TELEGRAM_BOT_TOKEN": ""})
    assert profile.names == ["actions-1", "actions-2", "rasa-1", "rasa-2", "rasa-3", "web",
                             "worker", "haproxy"]
    assert profile.public_url == "http://127.0.0.1:15005"
    assert profile.rasa_url.startswith("http://127.0.0.1:") and profile.rasa_url != \
        profile.public_url
    assert profile.web_url == "http://127.0.0.1:18080"
    assert len(set(profile.replica_urls)) == 3 and profile.action_url.endswith("/webhook")
    ports = [profile.port(n) for n in profile.names]
    assert len(set(ports)) == len(ports)
    env = profile.proc("rasa-2").env
    assert env["RASA_URL"] == profile.rasa_url and env["ACTION_ENDPOINT_URL"] == profile.action_url
    assert env["LOCK_STORE_URL"] == "redis://127.0.0.1:6379/15"
    assert env["TELEGRAM_BOT_TOKEN"] == ""
    assert profile.proc("worker").cmd[-2:] == ["--role", "worker"]
    assert profile.proc("web").cmd[-2:] == ["--role", "staff"]
    # HAProxy: the public front forwards the channels' webhooks to the Rasa pool, the staff
    # front the staff service (itself on 127.0.0.1 only), the internal fronts the API and the
    # action pool; each pool has every process of its kind.
    layout = profile.layout
    assert [s.url for s in layout.rasa] == profile.replica_urls
    assert [s.url for s in layout.actions] == profile.action_server_urls
    assert layout.public is not None and layout.public.port == 15005
    assert layout.staff is not None and layout.staff.port == 18080
    assert layout.public_paths == ("/webhooks/facebook/webhook", "/webhooks/facebook/",
                                   "/webhooks/zalo/webhook", "/webhooks/zalo/")
    assert layout.web is not None and profile.proc("web").env["STAFF_HOST"] == "127.0.0.1"
    assert profile.proc("web").env["STAFF_PORT"] == str(layout.web.port) != "18080"
    assert layout.rasa_api is not None and profile.rasa_url.endswith(f":{layout.rasa_api.port}")
    assert layout.actions_front is not None
    assert profile.action_url == f"http://127.0.0.1:{layout.actions_front.port}/webhook"
    haproxy_cmd = profile.proc("haproxy").cmd
    assert haproxy_cmd[-3:] == ["-db", "-f", str(tmp_path / "run" / "haproxy.cfg")]
    rasa = profile.proc("rasa-1").cmd
    assert rasa[1:4] == ["-m", "tools.rasa_run", "run"]  # adds --auth-token $RASA_TOKEN
    assert env["RASA_TOKEN"] != "" and profile.proc("rasa-1").env["RASA_TOKEN"] == env["RASA_TOKEN"]
    assert rasa[rasa.index("--interface") + 1] == "127.0.0.1"
    for name in profile.names:  # ps shows command lines to every user: no secret on one
        assert not any(env["RASA_TOKEN"] in arg or env["ACTION_SERVER_SECRET"] in arg
                       for arg in profile.proc(name).cmd), name
    assert profile.log_path("rasa-1") == tmp_path / "logs" / "rasa-1.log"


def test_replicas_need_a_redis_lock_store(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="Redis lock store"):
        _profile(tmp_path, lock_store_url="")
    assert _profile(tmp_path, replicas=1, lock_store_url="").names[2] == "rasa-1"
