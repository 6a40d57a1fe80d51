"""Settings of the notification side, read from the environment.

These belong in ``bot/settings.py`` eventually; until the lead moves them there they are read
here, in one place, with working defaults: no token means Telegram is off and staff
notifications wait in the outbox.

==========================  =====================================  ==============================
variable                    default                                meaning
==========================  =====================================  ==============================
TELEGRAM_BOT_TOKEN          "" (Telegram disabled)                 the bot's token from BotFather
TELEGRAM_API_BASE           https://api.telegram.org/bot           Bot API base URL (tests: fake)
TELEGRAM_WEBHOOK_SECRET     "" (webhook refuses every update)      ``secret_token`` of setWebhook
STAFF_PUBLIC_URL            http://127.0.0.1:8080                  console URL for "Xem" buttons
==========================  =====================================  ==============================
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

__all__ = ["NotifyConfig", "WEBHOOK_SECRET_RE"]

#: Telegram accepts 1–256 characters A-Z, a-z, 0-9, _ and - as a webhook secret token.
WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value.strip()


@dataclass(frozen=True)
class NotifyConfig:
    """A snapshot of the notification settings (build one per process, or pass one in tests)."""

    telegram_bot_token: str = field(default_factory=lambda: _env("TELEGRAM_BOT_TOKEN", ""))
    telegram_api_base: str = field(
        default_factory=lambda: _env("TELEGRAM_API_BASE", "https://api.telegram.org/bot")
    )
    telegram_webhook_secret: str = field(
        default_factory=lambda: _env("TELEGRAM_WEBHOOK_SECRET", "")
    )
    staff_public_url: str = field(
        default_factory=lambda: _env("STAFF_PUBLIC_URL", "http://127.0.0.1:8080")
    )

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    def case_url(self, case_id: int) -> str:
        """The console page of a case (the "Xem" button)."""
        return f"{self.staff_public_url.rstrip('/')}/staff/cases/{case_id}"

    def __repr__(self) -> str:  # never print the token or the secret
        return (
            f"NotifyConfig(telegram_enabled={self.telegram_enabled}, "
            f"telegram_api_base={self.telegram_api_base!r}, "
            f"webhook_secret_set={bool(self.telegram_webhook_secret)}, "
            f"staff_public_url={self.staff_public_url!r})"
        )
