"""The secrets our own processes share with each other: read from the environment, else from
``var/secrets/``, generated there on first use.

Two credentials guard the internal HTTP interfaces (issue 18):

``RASA_TOKEN``
    Rasa's HTTP API token (``rasa run --enable-api --auth-token``). The staff service (web chat
    updates, staff replies through ``trigger_intent``), ``./mttq promote`` and tests send it.
``ACTION_SERVER_SECRET``
    Rasa sends it to the action server in the ``X-Action-Server-Secret`` header
    (``endpoints.yml``: ``action_endpoint.headers``); the action server refuses every call
    without it.

Neither is ever committed. An operator may set either in the environment (a secret store, a
systemd ``EnvironmentFile``); otherwise the launchers (``./mttq run``, ``./mttq prod``, the test
and benchmark fixtures, all through :func:`tools.env.child_env`) call :func:`ensure_secrets`,
which writes a random value to ``<VAR_DIR>/secrets/<NAME>`` (mode 0600, ``var/`` is
gitignored) the first time and reads it back afterwards, so a restart keeps the same values.
Rotating one: delete its file (or set the variable) and restart every process.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["ACTION_SECRET_HEADER", "SECRET_NAMES", "ensure_secrets", "read_secret", "secret_file"]

#: The shared secrets, in the order the README lists them.
SECRET_NAMES = ("RASA_TOKEN", "ACTION_SERVER_SECRET")

#: The header that carries ``ACTION_SERVER_SECRET`` from Rasa to the action server.
ACTION_SECRET_HEADER = "X-Action-Server-Secret"


def secret_file(var_dir: Path, name: str) -> Path:
    return var_dir / "secrets" / name


def read_secret(name: str, var_dir: Path) -> str:
    """The value from the environment, else from ``var/secrets/<name>``, else ``""``."""
    value = (os.environ.get(name) or "").strip()
    if value:
        return value
    try:
        return secret_file(var_dir, name).read_text(encoding="ascii").strip()
    except (FileNotFoundError, NotADirectoryError):
        return ""


def new_secret() -> str:
    """A random secret that no command line can mistake for an option (never starts with "-":
    CI failed once in a while when ``rasa run --auth-token`` read the token as a flag)."""
    while True:
        value = secrets.token_urlsafe(32)
        if not value.startswith("-"):
            return value


def _create(path: Path) -> str:
    """Write a fresh random value to ``path`` unless another process just did; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = new_secret()
    try:
        # O_EXCL: two launchers starting at once agree on one value (the loser reads it back).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value


def ensure_secrets(var_dir: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Every shared secret: ``env``'s value when set (``os.environ`` by default), else the
    file's, generating the file when it does not exist."""
    source = os.environ if env is None else env
    values: dict[str, str] = {}
    for name in SECRET_NAMES:
        value = (source.get(name) or "").strip()
        if not value:
            path = secret_file(var_dir, name)
            try:
                value = path.read_text(encoding="ascii").strip()
            except FileNotFoundError:
                value = ""
            if not value:
                if path.exists():
                    path.unlink()  # an empty file is no secret
                value = _create(path)
        values[name] = value
    return values
