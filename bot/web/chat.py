"""The web chat page: a small page of our own talking to Rasa's REST channel.

The page posts to this service, which forwards to Rasa (``RASA_URL``); the browser never needs
to know where Rasa runs, and no CORS opening on Rasa is needed.

The page gives every message an id (``message_id``) and, when the request fails on the way (no
answer, 502, 503), sends it once more with the same id. This service passes the id on untouched:
Rasa answers a repeated id with the first attempt's reply instead of running the turn again
(``bot.conversation.replayed_turns``), so a replica killed mid-turn costs the citizen nothing and
never answers a message twice.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.knowledge.replies import reply_text
from bot.observability.logs import bind_conversation
from bot.web.keys import HTTP, SETTINGS

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
MAX_MESSAGE_CHARS = 20_000
#: A message id as Rasa's REST channel accepts it (``bot.channels.rest.MESSAGE_ID``).
MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
#: How long a citizen's message may take in Rasa before the page gets the designed apology.
RASA_TIMEOUT_SECONDS = 30.0
#: What aiohttp raises on a timeout: on Python 3.10 ``asyncio.TimeoutError`` is not the built-in
#: ``TimeoutError`` (it is from 3.11 on), so both are named.
TIMEOUTS = (asyncio.TimeoutError, TimeoutError)


#: ``{{html:key}}`` and ``{{js:key}}`` in the page: a text of content/replies.yml, escaped for
#: HTML or written as a JavaScript string.
_PLACEHOLDER = re.compile(r"\{\{(html|js):([a-z_]+)\}\}")


def render_page(path: Path | None = None) -> str:
    """The chat page with its texts from content/replies.yml (read on every request, so a
    trainer's edit shows at the next page load)."""
    page = (path or STATIC / "chat.html").read_text(encoding="utf-8")

    def text(match: re.Match[str]) -> str:
        value = reply_text(match.group(2))
        return html.escape(value) if match.group(1) == "html" else json.dumps(value,
                                                                                ensure_ascii=False)

    return _PLACEHOLDER.sub(text, page)


async def chat_page(request: web.Request) -> web.Response:
    return web.Response(text=render_page(), content_type="text/html", charset="utf-8")


async def send_message(request: web.Request) -> web.Response:
    """Forward one citizen message to Rasa's REST channel and return Rasa's replies."""
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        return web.json_response({"error": reply_text("chat_invalid_body")}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": reply_text("chat_invalid_body")}, status=400)
    sender = str(body.get("sender") or "")
    message = body.get("message")
    if not isinstance(message, str):
        return web.json_response({"error": reply_text("chat_no_message")}, status=400)
    if len(message) > MAX_MESSAGE_CHARS:
        return web.json_response(
            {"error": reply_text("chat_too_long", limit=MAX_MESSAGE_CHARS)}, status=413
        )
    try:
        uuid.UUID(sender)
    except ValueError:
        return web.json_response({"error": reply_text("chat_invalid_session")}, status=400)
    message_id = body.get("message_id")
    if message_id is not None and not (
        isinstance(message_id, str) and MESSAGE_ID.fullmatch(message_id)
    ):
        return web.json_response({"error": reply_text("chat_invalid_body")}, status=400)

    with bind_conversation(f"web-{sender}"):  # Rasa's conversation id, on our log lines too
        return await _forward(request, f"web-{sender}", message, message_id)


async def _forward(request: web.Request, conversation_id: str, message: str,
                   message_id: str | None = None) -> web.Response:
    settings = request.app[SETTINGS]
    url = f"{settings.rasa_url.rstrip('/')}/webhooks/rest/webhook"
    payload: dict[str, Any] = {"sender": conversation_id, "message": message}
    if message_id is not None:
        payload["message_id"] = message_id
    try:
        async with request.app[HTTP].post(
            url,
            json=payload,
            timeout=aiohttp.ClientTimeout(total=RASA_TIMEOUT_SECONDS),
        ) as response:
            if response.status != 200:
                logger.error("Rasa answered %s for a web chat message", response.status)
                return web.json_response([{"text": reply_text("chat_unavailable")}], status=502)
            replies = await response.json()
    except (aiohttp.ClientError, *TIMEOUTS) as error:
        logger.error("Rasa unreachable at %s: %s", url, error)
        return web.json_response([{"text": reply_text("chat_unavailable")}], status=502)
    return web.json_response(replies)


def external_replies(events: list[dict[str, Any]], after: float) -> list[dict[str, Any]]:
    """Bot messages that answered an external intent (a staff reply, a status change, a
    hand-back) after ``after``: the page's own turns come back in the POST's response."""
    replies: list[dict[str, Any]] = []
    external = False
    for event in events:
        kind = event.get("event")
        if kind == "user":
            name = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
            external = str(name).startswith("EXTERNAL_")
        elif kind == "bot" and external and float(event.get("timestamp") or 0) > after:
            data = event.get("data") or {}
            replies.append({
                "text": event.get("text") or "",
                "buttons": data.get("buttons") or [],
                "timestamp": event.get("timestamp"),
            })
    return replies


async def updates(request: web.Request) -> web.Response:
    """Messages staff sent into this conversation since ``after`` (the page polls this)."""
    sender = request.query.get("sender", "")
    try:
        uuid.UUID(sender)
        after = float(request.query.get("after", "0"))
    except ValueError:
        return web.json_response({"error": reply_text("chat_invalid_query")}, status=400)
    settings = request.app[SETTINGS]
    url = f"{settings.rasa_url.rstrip('/')}/conversations/web-{sender}/tracker"
    params = {"include_events": "AFTER_RESTART"}
    if settings.rasa_token:
        params["token"] = settings.rasa_token
    try:
        async with request.app[HTTP].get(
            url, params=params, timeout=aiohttp.ClientTimeout(total=15)
        ) as response:
            if response.status != 200:
                return web.json_response([], status=502)
            tracker = await response.json()
    except (aiohttp.ClientError, *TIMEOUTS):
        return web.json_response([], status=502)
    return web.json_response(external_replies(tracker.get("events") or [], after))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/chat", chat_page)
    app.router.add_post("/chat/api/message", send_message)
    app.router.add_get("/chat/api/updates", updates)
    app.router.add_static("/chat/static", STATIC)
