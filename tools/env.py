"""The environment every child process (rasa, the action server, the web service) runs with."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bot.settings import ROOT, get_settings

#: Quiet and offline: no telemetry calls home, no model hub look-ups, TensorFlow's C++ log off.
_QUIET = {
    "RASA_TELEMETRY_ENABLED": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
    "PYTHONUNBUFFERED": "1",
}


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ plus the settings' defaults plus quiet/offline flags (explicit values win),
    plus the shared secrets (``RASA_TOKEN``, ``ACTION_SERVER_SECRET``): the environment's when
    set, else those in ``<VAR_DIR>/secrets/``, generated there the first time."""
    from bot.service_secrets import ensure_secrets

    env = dict(os.environ)
    for key, value in {**_QUIET, **get_settings().process_environment()}.items():
        env.setdefault(key, value)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    env.update(extra or {})
    var_dir = Path(env["VAR_DIR"])
    if not var_dir.is_absolute():
        var_dir = ROOT / var_dir
    env.update(ensure_secrets(var_dir, env))
    return env


def scratch_stack_env(folder: Path, action_port: int,
                      extra: dict[str, str] | None = None) -> dict[str, str]:
    """:func:`child_env` for an action server (on ``action_port``) and Rasa run from a scratch
    ``folder``: SQLite tracker store and case database files and ``VAR_DIR`` there, no lock store.
    The tests and benchmarks that start the assistant's servers begin from this; ``extra`` adds
    to it (or overrides it)."""
    return child_env({
        "TRACKER_STORE_URL": f"sqlite:///{folder / 'tracker.db'}",
        "DATABASE_URL": f"sqlite:///{folder / 'feedback.db'}",
        "VAR_DIR": str(folder / "var"),
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "LOCK_STORE_URL": "",
        **(extra or {}),
    })


def apply_to_current_process() -> None:
    """Make this process see the same defaults its children get (for in-process Rasa use)."""
    for key, value in child_env().items():
        os.environ.setdefault(key, value)


def python() -> str:
    return sys.executable


def rasa_cmd(*args: str) -> list[str]:
    """``rasa ...`` through this interpreter, so the venv's Rasa is always the one used."""
    return [python(), "-m", "rasa", *args]


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
