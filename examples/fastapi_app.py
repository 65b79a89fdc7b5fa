"""A FastAPI app that adds strew tasks from its endpoints (docs/integrations.md).

The Docket is opened in the app's lifespan, so its connections live as long as the app and
are closed when it stops. Workers run apart: ``strew worker --tasks fastapi_app:tasks``.

    uvicorn fastapi_app:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from strew import Docket

sent: list[str] = []


async def send_welcome(email: str) -> None:
    sent.append(email)  # a real app would send an email here


tasks = [send_welcome]


def create_app(name: str = "shop", url: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Docket(name, url=url or os.environ.get("STREW_URL")) as docket:
            for task in tasks:
                docket.register(task)
            app.state.docket = docket
            yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/signups")
    async def signup(email: str, request: Request) -> dict[str, str]:
        docket: Docket = request.app.state.docket
        # The key makes a double-clicked signup one welcome, not two.
        execution = await docket.add(send_welcome, key=f"welcome:{email}")(email)
        return {"key": execution.key, "disposition": execution.disposition.name}

    return app


app = create_app()
