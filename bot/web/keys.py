"""Typed application keys shared by the web service's modules."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from bot.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
HTTP = web.AppKey("http", aiohttp.ClientSession)
#: The role this process serves: "all", "staff" or "worker" (see bot.web.app).
ROLE = web.AppKey("web_role", str)
