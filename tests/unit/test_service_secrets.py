"""The shared secrets (RASA_TOKEN, ACTION_SERVER_SECRET): environment first, else var/secrets/,
generated there once with owner-only permissions."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.service_secrets import SECRET_NAMES, ensure_secrets, read_secret, secret_file


def test_generated_once_owner_only_and_kept(tmp_path: Path) -> None:
    first = ensure_secrets(tmp_path, {})
    assert set(first) == set(SECRET_NAMES)
    assert len(set(first.values())) == 2 and all(len(v) >= 40 for v in first.values())
    for name in SECRET_NAMES:
        path = secret_file(tmp_path, name)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() == first[name]
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    assert ensure_secrets(tmp_path, {}) == first  # a restart keeps them


def test_the_environment_wins_and_is_not_written(tmp_path: Path) -> None:
    values = ensure_secrets(tmp_path, {"RASA_TOKEN": "from-env", "ACTION_SERVER_SECRET": ""})
    assert values["RASA_TOKEN"] == "from-env"
    assert not secret_file(tmp_path, "RASA_TOKEN").exists()
    assert secret_file(tmp_path, "ACTION_SERVER_SECRET").exists()  # empty means absent


def test_an_empty_file_is_replaced(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "RASA_TOKEN")
    path.parent.mkdir(parents=True)
    path.write_text("\n")
    assert ensure_secrets(tmp_path, {})["RASA_TOKEN"] != ""


def test_children_and_settings_see_the_same_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.settings import Settings
    from tools.env import child_env

    for name in SECRET_NAMES:
        monkeypatch.delenv(name, raising=False)
    env = child_env({"VAR_DIR": str(tmp_path)})
    assert env["RASA_TOKEN"] == read_secret("RASA_TOKEN", tmp_path) != ""
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    settings = Settings()
    assert settings.rasa_token == env["RASA_TOKEN"]
    assert settings.action_server_secret == env["ACTION_SERVER_SECRET"] != ""


def test_a_scratch_stack_keeps_its_files_in_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the tests' and benchmarks' servers run with: their stores and secrets under the
    scratch folder, the action server on the port given, no lock store; extra values win."""
    from tools.env import scratch_stack_env

    for name in ("DATABASE_URL", "LOCK_STORE_URL", *SECRET_NAMES):
        monkeypatch.delenv(name, raising=False)
    env = scratch_stack_env(tmp_path, 5055)
    assert env["TRACKER_STORE_URL"] == f"sqlite:///{tmp_path / 'tracker.db'}"
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'feedback.db'}"
    assert env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:5055/webhook"
    assert env["LOCK_STORE_URL"] == ""
    assert env["RASA_TOKEN"] == read_secret("RASA_TOKEN", tmp_path / "var") != ""
    other = scratch_stack_env(tmp_path, 5055, {"DATABASE_URL": "postgresql://h/db"})
    assert other["DATABASE_URL"] == "postgresql://h/db"


def test_a_generated_secret_never_looks_like_an_option(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """CI failed by chance: a token starting with "-" made ``rasa run --auth-token`` refuse."""
    import secrets as stdlib_secrets

    from bot import service_secrets

    values = iter(["-starts-with-a-dash", "-again", "fine-value"])
    monkeypatch.setattr(stdlib_secrets, "token_urlsafe", lambda n: next(values))
    assert service_secrets.new_secret() == "fine-value"


def test_rasa_gets_the_token_in_one_argument(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    import rasa.__main__

    from tools import rasa_run

    seen: list[list[str]] = []
    monkeypatch.setenv("RASA_TOKEN", "-dash-first-token")
    monkeypatch.setattr(sys, "argv", ["tools.rasa_run", "run", "--enable-api"])
    monkeypatch.setattr(rasa.__main__, "main", lambda: seen.append(list(sys.argv)))
    assert rasa_run.main() == 0
    assert seen == [["rasa", "run", "--enable-api", "--auth-token=-dash-first-token"]]
