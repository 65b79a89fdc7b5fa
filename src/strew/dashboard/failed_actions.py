"""The actions of the "Failed and retrying" page: retry now, or drop, one failed task, the
ones ticked, or all; each asks first (a GET draws the confirmation) and acts on its POST, as
every dashboard action does (see `strew.dashboard.app`)."""

from __future__ import annotations

import json
from typing import Protocol
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from strew.dashboard import failed
from strew.dashboard.safety import checked_key
from strew.docket.docket import Docket
from strew.docket.failures import MAX_LIMIT


class Host(Protocol):
    """What these need of the dashboard app."""

    docket: Docket

    async def form(self, request: Request) -> dict[str, str]: ...

    def confirm(
        self, request: Request, question: str, action: str, fields: dict[str, str], back: str
    ) -> Response: ...

    def done(self, request: Request, where: str) -> Response: ...


async def retry(host: Host, request: Request) -> Response:
    keys, fields = await failed_keys(host, request)
    if request.method == "GET":
        many = await how_many(host.docket, keys)
        question = (
            f"Run {many} again now{listed(keys)}? Each goes back on the schedule as a first "
            "attempt and its failure is forgotten; one already retrying is brought forward "
            "to now; one running or held by a strike is left alone."
        )
        return host.confirm(request, question, "/failed/retry", fields, "/failed")
    outcomes = await host.docket.retry_failed(keys)
    counts = {name: 0 for name in failed.OUTCOMES if name != "dropped"}
    for outcome in outcomes.values():
        counts[outcome] += 1
    return host.done(request, "/failed?" + urlencode({"did": failed.did(counts)}))


async def drop(host: Host, request: Request) -> Response:
    keys, fields = await failed_keys(host, request)
    if request.method == "GET":
        many = await how_many(host.docket, keys)
        question = (
            f"Forget the failures of {many}{listed(keys)}? Nothing is run, and a retry "
            "already scheduled stays scheduled (cancel it from its task page)."
        )
        return host.confirm(request, question, "/failed/drop", fields, "/failed")
    dropped = await host.docket.drop_failed(keys)
    return host.done(request, "/failed?" + urlencode({"did": failed.did({"dropped": dropped})}))


async def failed_keys(host: Host, request: Request) -> tuple[list[str] | None, dict[str, str]]:
    """The keys an action on failures names (None: every one), from the query (the
    list's checkboxes) or the confirmation's form; and the fields that name them again."""
    if request.method == "GET":
        everything = request.query_params.get("all") == "yes"
        given = request.query_params.getlist("key")
    else:
        form = await host.form(request)
        everything = form.get("all") == "yes"
        try:
            given = json.loads(form.get("keys") or "[]")
        except ValueError:
            raise HTTPException(400, "keys must be a JSON list of task keys") from None
        if not isinstance(given, list):
            raise HTTPException(400, "keys must be a JSON list of task keys")
    if everything:
        return None, {"all": "yes"}
    if not given:
        raise HTTPException(400, "no task was selected: tick one or more first")
    if len(given) > failed.MAX_SELECTED:
        raise HTTPException(400, f"at most {failed.MAX_SELECTED:,} keys at once")
    keys = list(dict.fromkeys(checked_key(key) for key in given))
    return keys, {"keys": json.dumps(keys)}


async def how_many(docket: Docket, keys: list[str] | None) -> str:
    if keys is not None:
        return f"{len(keys):,} failed task{'' if len(keys) == 1 else 's'}"
    count = len(await docket.failures(MAX_LIMIT))
    more = " or more" if count == MAX_LIMIT else ""
    return f"every failed task ({count:,}{more} recorded)"


def listed(keys: list[str] | None, shown: int = 10) -> str:
    if keys is None:
        return ""
    names = ", ".join(keys[:shown]) + (
        f" and {len(keys) - shown:,} more" if len(keys) > shown else ""
    )
    return f" ({names})"
