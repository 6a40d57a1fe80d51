"""Configuration read from the environment, in one place.

Every process (Rasa components, actions, the staff service, command-line tools) reads its settings
here, so a deployment changes behaviour through environment variables alone and nothing secret is
committed. A missing backend means a working local default (SQLite files under ``var/``), never a
crash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

#: Repository root (this file lives in ``<root>/bot/settings.py``).
ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value.strip()


def _path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    if not raw:
        return default
    path = Path(raw)
    return path if path.is_absolute() else ROOT / path


@dataclass(frozen=True)
class Settings:
    """Immutable snapshot of the environment, taken once per process (see :func:`get_settings`)."""

    var_dir: Path = field(default_factory=lambda: _path("VAR_DIR", ROOT / "var"))
    database_url: str = ""
    tracker_store_url: str = ""
    #: Empty: Rasa's in-process lock store (one Rasa process). ``redis://...``: a Redis mutex
    #: per conversation, required as soon as more than one Rasa replica runs.
    lock_store_url: str = field(default_factory=lambda: _env("LOCK_STORE_URL", ""))
    content_dir: Path = field(default_factory=lambda: _path("CONTENT_DIR", ROOT / "content"))
    units_file: Path = field(
        default_factory=lambda: _path("UNITS_FILE", ROOT / "content" / "units.sample.yml")
    )
    rasa_url: str = field(default_factory=lambda: _env("RASA_URL", "http://127.0.0.1:5005"))
    #: Rasa HTTP API token (``rasa run --auth-token``); empty on a single machine.
    rasa_token: str = field(default_factory=lambda: _env("RASA_TOKEN", ""))
    action_endpoint_url: str = field(
        default_factory=lambda: _env("ACTION_ENDPOINT_URL", "http://127.0.0.1:5055/webhook")
    )
    staff_host: str = field(default_factory=lambda: _env("STAFF_HOST", "127.0.0.1"))
    staff_port: int = field(default_factory=lambda: int(_env("STAFF_PORT", "8080")))
    #: What ``python -m bot.web`` serves: ``all`` (console, chat, Telegram webhook, outbox worker,
    #: handoff monitor: one process, `./mttq run`), ``staff`` (all but the background work) or
    #: ``worker`` (only the outbox worker and the handoff monitor, plus /health).
    web_role: str = field(default_factory=lambda: _env("WEB_ROLE", "all").lower())
    timezone: str = field(default_factory=lambda: _env("TZ_NAME", "Asia/Ho_Chi_Minh"))
    #: A handoff with no message either way for this long returns to the assistant.
    handoff_idle_minutes: int = field(
        default_factory=lambda: int(_env("HANDOFF_IDLE_MINUTES", "30"))
    )
    #: Finished cases untouched for this many days lose name and phone (`./mttq retention`).
    retention_days: int = field(default_factory=lambda: int(_env("RETENTION_DAYS", "365")))
    #: ``text`` (readable, the default for `./mttq run`) or ``json`` (one object per line, for
    #: a log collector; the production profile sets it). See :mod:`bot.observability.logs`.
    log_format: str = field(default_factory=lambda: _env("LOG_FORMAT", "text").lower())
    #: Level of our processes' logs; Rasa reads the same variable for its own loggers.
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO").upper())
    #: Optional bearer token for ``/metrics``; empty means open (the endpoint is meant for the
    #: internal network only, never exposed by the reverse proxy).
    metrics_token: str = field(default_factory=lambda: _env("METRICS_TOKEN", ""))

    def __post_init__(self) -> None:
        # Defaults that depend on var_dir are filled in here so VAR_DIR moves all of them.
        if not self.database_url:
            object.__setattr__(
                self,
                "database_url",
                _env("DATABASE_URL", f"sqlite:///{self.var_dir / 'feedback.db'}"),
            )
        if not self.tracker_store_url:
            object.__setattr__(
                self,
                "tracker_store_url",
                _env("TRACKER_STORE_URL", f"sqlite:///{self.var_dir / 'tracker.db'}"),
            )

    def process_environment(self) -> dict[str, str]:
        """Variables child processes (rasa, the action server) need, with defaults filled in.

        ``endpoints.yml`` holds ``${VAR}`` placeholders only; the run and test commands export
        these so that a newcomer needs to set nothing.
        """
        return {
            "VAR_DIR": str(self.var_dir),
            "DATABASE_URL": self.database_url,
            "TRACKER_STORE_URL": self.tracker_store_url,
            "LOCK_STORE_URL": self.lock_store_url,
            "ACTION_ENDPOINT_URL": self.action_endpoint_url,
            "RASA_URL": self.rasa_url,
            "UNITS_FILE": str(self.units_file),
            "CONTENT_DIR": str(self.content_dir),
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings; tests call ``get_settings.cache_clear()`` after
    changing the environment."""
    settings = Settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return settings
