"""The login form's CSRF token: issued by this service, bound to the browser's cookie and the
client's address, and refused from another site.

A login CSRF makes an officer's browser sign in to an account the attacker controls (then
whatever the officer types lands in the attacker's account). The plain double-submit check
(cookie equals form field) accepted any pair an attacker can plant (issue 18), so now:

* the cookie holds a random nonce with its issue time; the form field is
  ``HMAC(key, nonce | client address)``: a field the attacker did not get from us for that very
  browser cookie and address does not verify;
* tokens older than :data:`MAX_AGE_SECONDS` are refused;
* a POST whose ``Origin`` names another site, or whose ``Sec-Fetch-Site`` says ``cross-site``,
  is refused before anything else (what browsers send on a cross-site form submission).

The key is derived from ``RASA_TOKEN`` (a generated secret every web process shares, see
"Operations: security"), with a purpose label so the two uses never collide; without one, a
random per-process key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlsplit

__all__ = ["MAX_AGE_SECONDS", "cross_site", "field_for", "new_nonce", "verify"]

MAX_AGE_SECONDS = 3600
_PURPOSE = b"mttq-staff-login-csrf-v1"


@lru_cache(maxsize=4)
def _key(shared_secret: str) -> bytes:
    if not shared_secret:
        return os.urandom(32)
    return hmac.new(shared_secret.encode(), _PURPOSE, hashlib.sha256).digest()


def new_nonce(clock: Callable[[], float] = time.time) -> str:
    """A fresh cookie value: issue time and 24 random bytes."""
    return f"{int(clock())}.{secrets.token_urlsafe(24)}"


def field_for(nonce: str, address: str, shared_secret: str) -> str:
    """The form field that goes with ``nonce`` for a browser at ``address``."""
    mac = hmac.new(_key(shared_secret), f"{nonce}|{address}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def valid_nonce(nonce: str, clock: Callable[[], float] = time.time) -> bool:
    issued, _, rest = nonce.partition(".")
    if not issued.isdigit() or len(rest) < 16 or len(nonce) > 96:
        return False
    return 0 <= clock() - int(issued) <= MAX_AGE_SECONDS


def verify(nonce: str, field: object, address: str, shared_secret: str,
           clock: Callable[[], float] = time.time) -> bool:
    """Whether ``field`` is the one this service issued for ``nonce`` at ``address``."""
    if not isinstance(field, str) or not nonce or not valid_nonce(nonce, clock):
        return False
    expected = field_for(nonce, address, shared_secret)
    return hmac.compare_digest(field.encode(), expected.encode())


def cross_site(origin: str | None, fetch_site: str | None, host: str) -> bool:
    """Whether the browser says this POST comes from another site."""
    if fetch_site:  # modern browsers: the most precise signal
        return fetch_site.lower() == "cross-site"
    if origin and origin != "null":
        # "null" is what a browser sends for a same-origin form under Referrer-Policy:
        # no-referrer (the console's policy): it says nothing, the token check still applies.
        return urlsplit(origin).netloc.lower() != host.lower()
    return False
