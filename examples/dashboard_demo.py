"""strew's dashboard mounted in a Starlette app, behind that app's own auth (docs/dashboard.md).

The host app already knows its users (here: HTTP basic auth against a table, standing in for
your sessions or SSO); the dashboard is mounted under /strew with a guard that lets through
only users with the "operator" scope. Anyone else gets 403, the anonymous 401.

    STREW_URL=redis://localhost:6379/0 uvicorn examples.dashboard_demo:app
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from strew import Docket
from strew.dashboard import strew_dashboard

# name: (password, scopes). Yours come from your user store.
USERS = {"ops": ("s3cret-ops", ["operator"]), "viewer": ("s3cret-view", [])}


class BasicAuth(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            name, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationError("unreadable credentials") from None
        known, scopes = USERS.get(name, ("", []))
        if not known or not hmac.compare_digest(known, password):
            raise AuthenticationError("wrong user name or password")
        return AuthCredentials(["authenticated", *scopes]), SimpleUser(name)


class OperatorsOnly:
    """The guard on the dashboard's mount: only users with the "operator" scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "operator" not in scope["auth"].scopes:
            status = 403 if scope["user"].is_authenticated else 401
            headers = {"www-authenticate": 'Basic realm="ops"'} if status == 401 else None
            response = PlainTextResponse("operators only", status, headers=headers)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


docket = Docket(os.environ.get("STREW_DOCKET", "shop"))  # connects on first use ($STREW_URL)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with docket:  # closes the store's connections when the app stops
        yield


async def home(request: HTTPConnection) -> PlainTextResponse:
    return PlainTextResponse("the shop")


app = Starlette(
    routes=[
        Route("/", home),
        Mount(
            "/strew",
            app=strew_dashboard(docket),
            middleware=[Middleware(OperatorsOnly)],
        ),
    ],
    middleware=[
        Middleware(
            AuthenticationMiddleware,
            backend=BasicAuth(),
            on_error=lambda conn, error: PlainTextResponse(str(error), 401),
        )
    ],
    lifespan=lifespan,
)
