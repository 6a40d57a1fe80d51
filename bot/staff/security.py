"""Response headers for every console and API response.

Console pages need no script at all, so the Content-Security-Policy forbids scripts outright:
even if some citizen text escaped escaping, a browser would not run it. Pages hold personal data,
so they are not cached, not framed and not sent as a referrer.

The citizens' chat page (``/chat``) runs its own script, so it gets a policy that only forbids
framing (clickjacking: a page that frames the chat could make a citizen click "Đồng ý" unaware),
plugins and a foreign ``<base>``, with the same ``X-Frame-Options`` for older browsers.
"""

from __future__ import annotations

from aiohttp import web

from bot.staff.context import AioHandler

PREFIXES = ("/staff", "/api/v1")

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


CHAT_PREFIX = "/chat"
CHAT_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _apply(response: web.StreamResponse, headers: dict[str, str]) -> None:
    for name, value in headers.items():
        response.headers.setdefault(name, value)


def _headers_for(path: str) -> dict[str, str] | None:
    if path.startswith(PREFIXES):
        return HEADERS
    if path == CHAT_PREFIX or path.startswith(CHAT_PREFIX + "/"):
        return CHAT_HEADERS
    return None


@web.middleware
async def security_headers(request: web.Request, handler: AioHandler) -> web.StreamResponse:
    headers = _headers_for(request.path)
    if headers is None:
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _apply(exc, headers)
        raise
    _apply(response, headers)
    return response
