"""A Flask app that adds strew tasks from its (synchronous) views (docs/integrations.md).

`SyncDocket` is the Docket for code that is not async: one per process, at module level,
safe to share between request threads and across a pre-fork server's workers.

    flask --app flask_app run
"""

from __future__ import annotations

import os
from datetime import timedelta

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from strew import Agenda
from strew.sync import SyncDocket

sent: list[str] = []


async def send_welcome(email: str) -> None:
    sent.append(email)  # a real app would send an email here


async def send_reminder(email: str) -> None:
    sent.append(f"reminder:{email}")


tasks = [send_welcome, send_reminder]


def create_app(docket: SyncDocket) -> Flask:
    app = Flask(__name__)

    @app.post("/signups")
    def signup() -> ResponseReturnValue:
        email = request.form["email"]
        execution = docket.add(send_welcome, key=f"welcome:{email}")(email)
        return jsonify(key=execution.key, disposition=execution.disposition.name)

    @app.post("/reminders")
    def remind_everyone() -> ResponseReturnValue:
        # Spread the reminders over an hour instead of sending them all at once.
        agenda = Agenda()
        for email in request.form.getlist("email"):
            agenda.add(send_reminder, key=f"reminder:{email}")(email)
        scattered = docket.scatter(agenda, over=timedelta(hours=1))
        return jsonify(scattered=len(scattered))

    return app


# Nothing connects until the first call; each process (pre-fork worker) opens its own.
docket = SyncDocket("shop", url=os.environ.get("STREW_URL"))
app = create_app(docket)
