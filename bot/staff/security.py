"""Response headers for every console and API response.

Console pages need no script at all, so the Content-Security-Policy forbids scripts outright:
even if some citizen text escaped escaping, a browser would not run it. Pages hold personal data,
so they are not cached, not framed and not sent as a referrer.
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


def _apply(response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def security_headers(request: web.Request, handler: AioHandler) -> web.StreamResponse:
    if not request.path.startswith(PREFIXES):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _apply(exc)
        raise
    _apply(response)
    return response
