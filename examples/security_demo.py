"""Signed payloads and the JSON serializer (docs/security.md), on the in-process store.

A signed docket runs what it wrote and quarantines, unread, what someone else planted in its
keys; a JSON docket refuses an argument that is not a JSON value before writing anything.
Run it with ``.venv/bin/python examples/security_demo.py``; point it at Redis with
``STREW_URL=redis://localhost:6379/0``.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import secrets
from datetime import UTC, datetime

from strew import Docket, Worker
from strew.stores.records import Entry

URL = os.environ.get("STREW_URL", "memory://security-demo")


async def send_invoice(customer: int) -> str:
    return f"invoice sent to customer {customer}"


async def main() -> dict[str, object]:
    key = secrets.token_urlsafe(32)  # in production: the same STREW_SIGNING_KEY everywhere
    async with Docket("security-demo", URL, signing_key=key) as docket:
        docket.register(send_invoice)
        invoice = await docket.add(send_invoice)(42)
        # Someone with write access to Redis plants a task of their own (unsigned).
        forged = pickle.dumps((1, "send_invoice", (666,), {}, 0, 1, None))
        raw = docket.store.inner  # type: ignore[attr-defined]  # below the signing layer
        await raw.schedule([Entry("forged", await raw.now(), forged)], replace=False)
        async with Worker(docket) as worker:
            await worker.run_until_finished()
        result = await invoice.get_result()
        quarantined = [(task.key, task.reason) for task in await docket.quarantined()]
        await docket.clear_quarantine()
        await docket.store.destroy()

    async with Docket("security-demo-json", URL, serializer="json") as plain:
        plain.register(send_invoice)
        try:
            await plain.add(send_invoice)(datetime.now(UTC))  # type: ignore[arg-type]
            refused = ""
        except TypeError as error:
            refused = str(error)
        await plain.store.destroy()
    print(result)
    print("quarantined:", quarantined)
    print("refused:", refused)
    return {"result": result, "quarantined": quarantined, "refused": refused}


if __name__ == "__main__":
    asyncio.run(main())
