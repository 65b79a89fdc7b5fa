"""`strew_dashboard`: the ASGI app, its routes, and the actions it allows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from strew.dashboard import failed_actions, scatters, views
from strew.dashboard.html import Context, NavEntry, frame, text, url
from strew.dashboard.pages import PAGES, Page, draw_task
from strew.dashboard.reads import SharedReads
from strew.dashboard.safety import CSRF_COOKIE, checked_key, csrf_matches, new_csrf, same_origin
from strew.docket.docket import Docket
from strew.docket.failures import Failure
from strew.docket.strikes import check_strike
from strew.stores import StoreError
from strew.task.results import ExecutionState

DEFAULT_REFRESH = timedelta(seconds=2)
MAX_FORM_BYTES = 16 * 1024
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
}
STATIC = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
}


def strew_dashboard(
    docket: Docket,
    *,
    read_only: bool = False,
    refresh: timedelta | float = DEFAULT_REFRESH,
) -> Starlette:
    """An ASGI app showing ``docket``: mount it in yours (``app.mount("/strew",
    strew_dashboard(docket))``) behind your app's auth, or run it with ``strew dashboard``.

    ``read_only`` serves no action at all (no cancel, strike, lift or drop routes). Open
    pages re-read what they show every ``refresh`` (a timedelta or seconds), and every
    viewer shares one read per view and interval (see docs/dashboard.md for the cost)."""
    if not isinstance(docket, Docket):
        raise TypeError(f"docket must be a strew Docket, got {docket!r}")
    if not isinstance(read_only, bool):
        raise TypeError(f"read_only must be True or False, got {read_only!r}")
    seconds = refresh.total_seconds() if isinstance(refresh, timedelta) else refresh
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0.5:
        raise ValueError(f"refresh must be at least half a second, got {refresh!r}")
    return Dashboard(docket, read_only, float(seconds)).app


class Dashboard:
    def __init__(self, docket: Docket, read_only: bool, refresh: float) -> None:
        self.docket = docket
        self.read_only = read_only
        self.refresh = refresh
        self.reads = SharedReads(refresh)
        self.nav = [NavEntry(page.slug, page.title, page.path) for page in PAGES]
        self.static = {
            name: resources.files("strew.dashboard").joinpath("static", name).read_bytes()
            for name in STATIC
        }
        routes: list[BaseRoute] = []
        for page in PAGES:
            routes.append(Route(page.path, self.page_view(page), methods=["GET"]))
            routes.append(Route(f"/live/{page.slug}", self.live_view(page), methods=["GET"]))
        routes += [
            Route("/scatters/{id:path}", self.scatter_page, methods=["GET"]),
            Route("/live/scatter", self.scatter_live, methods=["GET"]),
            Route("/tasks", self.find_task, methods=["GET"]),
            Route("/tasks/{key:path}", self.task_page, methods=["GET"]),
            Route("/live/task", self.task_live, methods=["GET"]),
            Route("/static/{name}", self.static_file, methods=["GET"]),
        ]
        if not read_only:
            routes += [
                Route("/cancel", self.cancel, methods=["GET", "POST"]),
                Route("/cancel-scatter", partial(scatters.cancel, self), methods=["GET", "POST"]),
                Route("/quarantine/drop", self.drop, methods=["GET", "POST"]),
                Route("/strikes/lift", self.lift, methods=["GET", "POST"]),
                Route("/strikes/add", self.add_strike, methods=["POST"]),
                Route(
                    "/failed/retry", partial(failed_actions.retry, self), methods=["GET", "POST"]
                ),
                Route("/failed/drop", partial(failed_actions.drop, self), methods=["GET", "POST"]),
            ]
        self.app = Starlette(
            routes=routes,
            exception_handlers={HTTPException: self.http_error, StoreError: self.store_error},
        )

    # -- drawing -----------------------------------------------------------------------------

    def context(self, request: Request) -> Context:
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        if not 16 <= len(csrf) <= 64:
            csrf = new_csrf()
        request.state.csrf = csrf
        base = request.scope.get("root_path", "").rstrip("/")
        return Context(base, csrf, self.read_only, self.docket.name, datetime.now(UTC))

    def respond(self, request: Request, ctx: Context, body: str, status: int = 200) -> Response:
        response = HTMLResponse(body, status, headers=SECURITY_HEADERS)
        if request.cookies.get(CSRF_COOKIE) != ctx.csrf:
            response.set_cookie(
                CSRF_COOKIE, ctx.csrf, path=ctx.base or "/", httponly=True, samesite="strict"
            )
        return response

    def whole(
        self,
        request: Request,
        ctx: Context,
        current: str,
        title: str,
        body: str,
        live: str | None = None,
        status: int = 200,
    ) -> Response:
        page = frame(ctx, self.nav, current, title, body, live, self.refresh)
        return self.respond(request, ctx, page, status)

    # -- pages ----------------------------------------------------------------------------

    def params(self, page: Page, request: Request) -> dict[str, str]:
        if page.parse is not None:
            try:
                return page.parse(request.query_params)
            except ValueError as error:
                raise HTTPException(400, str(error)) from None
        checked = {}
        for name, allowed in page.params.items():
            value = request.query_params.get(name, allowed[0])
            if value not in allowed:
                raise HTTPException(
                    400, f"{name} must be one of {', '.join(allowed)}, got {value[:40]!r}"
                )
            checked[name] = value
        return checked

    async def draw(self, page: Page, request: Request) -> tuple[Context, str, str]:
        params = self.params(page, request)
        found = await self.reads.read(
            read_name(page.slug, params), lambda: page.read(self.docket, params)
        )
        ctx = self.context(request)
        live = url(ctx, f"/live/{page.slug}", **params)
        return ctx, page.draw(ctx, found), live

    def page_view(self, page: Page) -> Any:
        async def view(request: Request) -> Response:
            ctx, body, live = await self.draw(page, request)
            return self.whole(request, ctx, page.slug, page.title, body, live)

        return view

    def live_view(self, page: Page) -> Any:
        async def view(request: Request) -> Response:
            ctx, body, _ = await self.draw(page, request)
            return self.respond(request, ctx, body)

        return view

    async def find_task(self, request: Request) -> Response:
        key = checked_key(request.query_params.get("key"))
        ctx = self.context(request)
        return RedirectResponse(f"{ctx.base}/tasks/{quote(key, safe='')}", 303)

    async def read_task(self, key: str) -> views.TaskView:
        return await self.reads.read(f"task:{key}", lambda: views.task(self.docket, key))

    async def failure_of(self, found: views.TaskView) -> Failure | None:
        """The key's recorded failure (one lookup, shared by the viewers of that task page
        for an interval), read only for a key that may have one: failed for good, a retry,
        or unknown otherwise."""
        key, execution = found.key, found.execution
        if execution is not None and not may_have_failed(execution.state, execution.attempt):
            return None
        return await self.reads.read(f"failure:{key}", lambda: self.docket.failure(key))

    async def task_page(self, request: Request) -> Response:
        key = checked_key(request.path_params["key"])
        found = await self.read_task(key)
        failure = await self.failure_of(found)
        ctx = self.context(request)
        live = url(ctx, "/live/task", key=key)
        status = 200 if found.execution is not None or failure is not None else 404
        body = draw_task(ctx, found, failure)
        return self.whole(request, ctx, "", f"Task {key}", body, live, status)

    async def task_live(self, request: Request) -> Response:
        key = checked_key(request.query_params.get("key"))
        found = await self.read_task(key)
        failure = await self.failure_of(found)
        ctx = self.context(request)
        return self.respond(request, ctx, draw_task(ctx, found, failure))

    async def read_scatter(self, scatter_id: str) -> Any:
        return await self.reads.read(
            f"scatter:{scatter_id}", lambda: scatters.read_one(self.docket, scatter_id)
        )

    async def scatter_page(self, request: Request) -> Response:
        scatter_id = scatters.checked_id(request.path_params["id"])
        found = await self.read_scatter(scatter_id)
        ctx = self.context(request)
        live = url(ctx, "/live/scatter", id=scatter_id)
        body = scatters.draw_one(ctx, scatter_id, found)
        status = 200 if found is not None else 404
        title = f"Scatter {scatter_id}"
        return self.whole(request, ctx, "scatters", title, body, live, status)

    async def scatter_live(self, request: Request) -> Response:
        scatter_id = scatters.checked_id(request.query_params.get("id"))
        found = await self.read_scatter(scatter_id)
        ctx = self.context(request)
        return self.respond(request, ctx, scatters.draw_one(ctx, scatter_id, found))

    async def static_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.static:
            raise HTTPException(404, "no such file")
        headers = {"cache-control": "max-age=3600", "x-content-type-options": "nosniff"}
        return Response(self.static[name], media_type=STATIC[name], headers=headers)

    # -- actions: a GET asks for confirmation, the POST it sends does it ---------------------

    async def form(self, request: Request) -> dict[str, str]:
        """The POSTed form, once its CSRF token and origin are checked."""
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/x-www-form-urlencoded":
            raise HTTPException(415, "actions take a form (application/x-www-form-urlencoded)")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise HTTPException(413, f"a form is at most {MAX_FORM_BYTES:,} bytes")
        try:
            parsed = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError) as error:
            raise HTTPException(400, f"the form cannot be read: {error}") from None
        fields = {name: values[-1] for name, values in parsed.items()}
        if not same_origin(request.headers.get("origin"), request.headers.get("host")):
            raise HTTPException(403, "this form was sent from another site")
        if not csrf_matches(request.cookies.get(CSRF_COOKIE), fields.get("csrf")):
            raise HTTPException(
                403, "the form's token does not match this browser's: reload the page and retry"
            )
        return fields

    def confirm(
        self, request: Request, question: str, action: str, fields: dict[str, str], back: str
    ) -> Response:
        ctx = self.context(request)
        hidden = "".join(
            f'<input type="hidden" name="{text(k)}" value="{text(v)}">'
            for k, v in {**fields, "csrf": ctx.csrf}.items()
        )
        body = (
            f'<p class="question">{text(question)}</p>'
            f'<form method="post" action="{text(url(ctx, action))}" class="confirm">{hidden}'
            '<button type="submit" class="danger" id="confirm">Yes, do it</button> '
            f'<a class="button" href="{text(ctx.base + back)}">No, go back</a></form>'
        )
        return self.whole(request, ctx, "", "Confirm", body)

    def done(self, request: Request, where: str) -> Response:
        self.reads.forget()
        base = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(base + where, 303, headers={"cache-control": "no-store"})

    async def cancel(self, request: Request) -> Response:
        if request.method == "GET":
            key = checked_key(request.query_params.get("key"))
            found = await self.read_task(key)
            what = found.execution.function_name if found.execution else "unknown task"
            state = found.execution.state if found.execution else None
            return self.confirm(
                request,
                f"Cancel task {key} ({what}, {state.value if state else 'unknown'})? A "
                "scheduled task is removed; a running one is asked to stop.",
                "/cancel",
                {"key": key},
                f"/tasks/{quote(key, safe='')}",
            )
        fields = await self.form(request)
        key = checked_key(fields.get("key"))
        await self.docket.cancel(key)
        return self.done(request, f"/tasks/{quote(key, safe='')}")

    async def drop(self, request: Request) -> Response:
        source = request.query_params if request.method == "GET" else await self.form(request)
        everything = source.get("all") == "yes"
        key = None if everything else checked_key(source.get("key"))
        if request.method == "GET":
            question = (
                "Delete every quarantined task for good?"
                if key is None
                else f"Delete quarantined task {key} for good?"
            )
            fields = {"all": "yes"} if key is None else {"key": key}
            return self.confirm(request, question, "/quarantine/drop", fields, "/held")
        if key is None:
            await self.docket.clear_quarantine()
        else:
            await self.docket.drop_quarantined([key])
        return self.done(request, "/held")

    async def lift(self, request: Request) -> Response:
        source = request.query_params if request.method == "GET" else await self.form(request)
        rule = strike_from(self.docket, source, value_is_json=True)
        if request.method == "GET":
            fields = {
                k: source.get(k) or "" for k in ("function", "parameter", "operator", "value")
            }
            question = (
                f"Lift the strike on {rule.describe()}? Every held task goes back on the schedule."
            )
            return self.confirm(request, question, "/strikes/lift", fields, "/strikes")
        await self.docket.strike_book.lift(rule.function, rule.parameter, rule.operator, rule.value)
        return self.done(request, "/strikes")

    async def add_strike(self, request: Request) -> Response:
        fields = await self.form(request)
        rule = strike_from(self.docket, fields, value_is_json=False)
        await self.docket.strike_book.add(rule.function, rule.parameter, rule.operator, rule.value)
        return self.done(request, "/strikes")

    # -- errors ---------------------------------------------------------------------------

    async def http_error(self, request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        ctx = self.context(request)
        body = f'<p class="error">{text(error.detail)}</p>'
        return self.whole(
            request, ctx, "", f"Error {error.status_code}", body, status=error.status_code
        )

    async def store_error(self, request: Request, error: Exception) -> Response:
        ctx = self.context(request)
        body = f'<p class="error">The store did not answer: {text(error)}</p>'
        return self.whole(request, ctx, "", "Store unavailable", body, status=503)


def read_name(slug: str, params: dict[str, str]) -> str:
    """The name a page's read is shared under: the same page with the same query."""
    return slug + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))


def may_have_failed(state: ExecutionState | None, attempt: int) -> bool:
    """Whether a task in ``state`` may be in the record of failures: failed for good,
    cancelled (perhaps a retry that was on its way), or on a later attempt (a retry on its
    way, or running)."""
    if state in (ExecutionState.FAILED, ExecutionState.CANCELLED):
        return True
    return attempt > 1 and state is not None and not state.final


def strike_from(docket: Docket, source: Any, *, value_is_json: bool) -> Any:
    """The strike a form or query describes (as `strew strike` reads its words: the value is
    JSON when it parses, a string otherwise); 400 naming what is wrong."""
    function = source.get("function") or None
    parameter = source.get("parameter") or None
    operator = source.get("operator") or "=="
    raw = source.get("value") or ""
    value: Any = None
    if parameter is not None:
        try:
            value = json.loads(raw)
        except ValueError:
            if value_is_json:
                raise HTTPException(400, f"value must be JSON, got {raw[:40]!r}") from None
            value = raw
        if operator == "between" and isinstance(value, list):
            value = tuple(value)
    try:
        return check_strike(docket.tasks, function, parameter, operator, value)
    except (TypeError, ValueError) as error:
        raise HTTPException(400, str(error)) from None
