"""The channels' tokens, secrets and platform addresses, read when Rasa creates the channel.

Each value comes from the channel's entry in ``credentials.yml`` when it is set there (only as a
``${VAR}`` placeholder, never a literal secret), else from the environment variable named below.
Nothing is read at import time. A channel whose secrets are missing still starts: it refuses
webhooks with a log line naming the missing variables (:meth:`missing`), so Rasa and the other
channels keep running.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

__all__ = ["MAX_BODY_BYTES", "FacebookConfig", "ZaloConfig"]

#: Webhook bodies above this size are refused (413) before anything else is done.
MAX_BODY_BYTES = 1_000_000


def _pick(credentials: Mapping[str, Any] | None, key: str, env: str, default: str = "") -> str:
    value = (credentials or {}).get(key)
    if value is None or str(value).strip() == "":
        value = os.environ.get(env, "")
    value = str(value).strip()
    return value or default


C = TypeVar("C", bound="_FromEnvironment")


class _FromEnvironment:
    """What both channels' settings share: every field from ``credentials.yml`` or the variable
    ``ENV`` names, base URLs (``URLS``) without a trailing slash, and the list of ``REQUIRED``
    variables still missing."""

    ENV: ClassVar[dict[str, str]]
    REQUIRED: ClassVar[tuple[str, ...]]
    URLS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def load(cls: type[C], credentials: Mapping[str, Any] | None = None) -> C:
        values = {
            f.name: _pick(credentials, f.name, cls.ENV[f.name], f.default)  # type: ignore[arg-type]
            for f in fields(cls)  # type: ignore[arg-type]
        }
        for name in cls.URLS:
            values[name] = values[name].rstrip("/")
        return cls(**values)

    def missing(self) -> list[str]:
        """Variables without which the channel refuses webhooks."""
        return [self.ENV[name] for name in self.REQUIRED if not getattr(self, name)]


@dataclass(frozen=True)
class FacebookConfig(_FromEnvironment):
    verify_token: str = ""  # FACEBOOK_VERIFY_TOKEN: chosen by you, typed into the app dashboard
    app_secret: str = ""  # FACEBOOK_APP_SECRET: signs every webhook POST
    page_access_token: str = ""  # FACEBOOK_PAGE_ACCESS_TOKEN: sends messages as the page
    graph_base: str = "https://graph.facebook.com"  # FACEBOOK_GRAPH_BASE
    graph_version: str = "v18.0"  # FACEBOOK_GRAPH_VERSION

    ENV = {
        "verify_token": "FACEBOOK_VERIFY_TOKEN",
        "app_secret": "FACEBOOK_APP_SECRET",
        "page_access_token": "FACEBOOK_PAGE_ACCESS_TOKEN",
        "graph_base": "FACEBOOK_GRAPH_BASE",
        "graph_version": "FACEBOOK_GRAPH_VERSION",
    }
    REQUIRED = ("verify_token", "app_secret", "page_access_token")
    URLS = ("graph_base",)

    @property
    def messages_url(self) -> str:
        return f"{self.graph_base}/{self.graph_version}/me/messages"


@dataclass(frozen=True)
class ZaloConfig(_FromEnvironment):
    app_id: str = ""  # ZALO_APP_ID
    oa_secret_key: str = ""  # ZALO_OA_SECRET_KEY: signs webhooks (not the app secret)
    access_token: str = ""  # ZALO_ACCESS_TOKEN: first OA access token (then refreshed, in the DB)
    refresh_token: str = ""  # ZALO_REFRESH_TOKEN: first refresh token (then rotated, in the DB)
    app_secret: str = ""  # ZALO_APP_SECRET: authenticates token refreshes
    api_base: str = "https://openapi.zalo.me"  # ZALO_API_BASE
    oauth_base: str = "https://oauth.zaloapp.com"  # ZALO_OAUTH_BASE

    ENV = {
        "app_id": "ZALO_APP_ID",
        "oa_secret_key": "ZALO_OA_SECRET_KEY",
        "access_token": "ZALO_ACCESS_TOKEN",
        "refresh_token": "ZALO_REFRESH_TOKEN",
        "app_secret": "ZALO_APP_SECRET",
        "api_base": "ZALO_API_BASE",
        "oauth_base": "ZALO_OAUTH_BASE",
    }
    #: Needed to accept webhooks; sending also needs a token (checked when sending).
    REQUIRED = ("app_id", "oa_secret_key")
    URLS = ("api_base", "oauth_base")

    @property
    def send_url(self) -> str:
        return f"{self.api_base}/v3.0/oa/message/cs"

    @property
    def refresh_url(self) -> str:
        return f"{self.oauth_base}/v4/oa/access_token"
