"""What keeps the dashboard from cancelling work by accident or on someone else's behalf.

- Actions are POST only, and each form carries a token that must equal the one in the
  viewer's ``strew_csrf`` cookie (SameSite=Strict, HttpOnly): another site can make a
  browser send a POST, but can neither read the cookie nor set the field to match it. A POST
  whose ``Origin`` names another host is refused as well.
- `TokenAuth` wraps the app for ``strew dashboard --token``: every request must carry the
  token, as HTTP basic auth's password (any user name: what a browser asks for) or as
  ``Authorization: Bearer TOKEN``. Mounted in another app, the dashboard has no auth of its
  own: the host's protects it (docs/dashboard.md).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

from strew.task.checks import check_key

CSRF_COOKIE = "strew_csrf"
MIN_TOKEN_LENGTH = 16

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def csrf_matches(cookie: str | None, field: str | None) -> bool:
    if not cookie or not field:
        return False
    return hmac.compare_digest(cookie.encode(), field.encode())


def same_origin(origin: str | None, host: str | None) -> bool:
    """Whether a POST's ``Origin`` (when the browser sent one) is this server."""
    if origin is None:
        return True
    if origin == "null" or host is None:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def checked_key(value: object) -> str:
    """A task key from the URL or a form: a clean 400 naming what is wrong otherwise."""
    if value is None:
        raise HTTPException(400, "key is required")
    try:
        return check_key(value)
    except (TypeError, ValueError) as error:
        raise HTTPException(400, str(error)) from None


def check_token(token: str) -> str:
    if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"token must be at least {MIN_TOKEN_LENGTH} characters (e.g. from "
            f"`python -c 'import secrets; print(secrets.token_urlsafe())'`), got "
            f"{len(token) if isinstance(token, str) else token!r} characters"
        )
    return token


class TokenAuth:
    """An ASGI wrapper letting through only requests that carry ``token``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = check_token(token).encode()

    def allowed(self, header: bytes | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(b" ")
        scheme = scheme.lower()
        if scheme == b"bearer":
            return hmac.compare_digest(value.strip(), self.token)
        if scheme == b"basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                return False
            _, _, password = decoded.partition(b":")
            return hmac.compare_digest(password, self.token)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization")
        if self.allowed(header):
            await self.app(scope, receive, send)
            return
        body = b"strew dashboard: this server asks for its token (as the basic auth password)\n"
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"www-authenticate", b'Basic realm="strew dashboard", charset="UTF-8"'),
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
