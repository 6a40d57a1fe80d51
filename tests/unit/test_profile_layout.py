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
    assert profile.names == ["actions-1", "actions-2", "actions-proxy", "rasa-1", "rasa-2",
                             "rasa-3", "rasa-proxy", "rasa-api", "web", "worker"]
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
    for name in ("rasa-proxy", "rasa-api"):
        proxy_cmd = profile.proc(name).cmd
        assert [proxy_cmd[i + 1] for i, a in enumerate(proxy_cmd) if a == "--upstream"] == \
            profile.replica_urls
    public = profile.proc("rasa-proxy").cmd
    assert [public[i + 1] for i, a in enumerate(public) if a == "--public-path"] == [
        "/webhooks/facebook/webhook", "/webhooks/facebook/", "/webhooks/zalo/webhook",
        "/webhooks/zalo/"]
    assert "--public-path" not in profile.proc("rasa-api").cmd
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
    assert _profile(tmp_path, replicas=1, lock_store_url="").names[3] == "rasa-1"
