"""The quarantine: claimed tasks whose payload a worker could not read, kept for a human.

A payload that does not unpickle (written by a newer strew, truncated, planted by hand, or
naming a module this process lacks) cannot run, and running it again will not help. Dropping it
would lose the task silently, so the worker moves it aside instead, in one atomic store step
that takes it from its lease: the payload's exact bytes, the reason and the time stay until
someone looks (`Docket.quarantined`, ``strew quarantine``) and drops them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from strew.stores.protocol import QuarantineStore
from strew.stores.records import Claim, Quarantine
from strew.task.checks import check_key
from strew.task.clock import from_micros

MAX_REASON = 1000
"""Reasons longer than this many characters are cut (an error message can be huge)."""


@dataclass(frozen=True, slots=True)
class QuarantinedTask:
    """A task taken out of circulation because its payload could not be read."""

    key: str
    reason: str
    quarantined_at: datetime
    payload_size: int
    """How many bytes the stored payload has."""
    payload: bytes = field(repr=False)
    """The payload exactly as it was stored, for forensics."""


def short_reason(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


async def quarantine_claim(store: QuarantineStore, claim: Claim, reason: str) -> bool:
    """Move ``claim`` into the quarantine. False if its lease had already passed to another
    worker (which will then quarantine it itself). Raises `StoreError` if the store cannot
    be reached: the lease then runs out and the task is claimed, and quarantined, again."""
    [moved] = await store.quarantine([Quarantine(claim.key, claim.token, short_reason(reason))])
    return moved


async def quarantined(store: QuarantineStore) -> list[QuarantinedTask]:
    return [
        QuarantinedTask(
            task.key, task.reason, from_micros(task.at), len(task.payload), task.payload
        )
        for task in await store.quarantined()
    ]


async def drop_quarantined(store: QuarantineStore, keys: Iterable[str]) -> int:
    # None is refused rather than read as "all": dropping everything is `clear_quarantine`.
    if keys is None or isinstance(keys, str) or not isinstance(keys, Iterable):
        raise TypeError(f"keys must be a list of task keys, got {keys!r}")
    checked = [check_key(key) for key in keys]
    return await store.drop_quarantined(checked)


async def clear_quarantine(store: QuarantineStore) -> int:
    return await store.drop_quarantined(None)


__all__ = [
    "QuarantinedTask",
    "clear_quarantine",
    "drop_quarantined",
    "quarantine_claim",
    "quarantined",
]
