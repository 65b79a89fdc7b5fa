"""The records that cross the storage seam: what a store is given and what it returns.

Plain immutable values (see `strew.stores.protocol` for the operations that take them), plus the
few pure helpers every store shares: reading a payload's function name, scaling a sampled
count, and the claim tokens that name their worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple


class StoreError(Exception):
    """A store operation failed."""


class StoreUnavailable(StoreError):
    """The store could not be reached (connection refused, timed out, or dropped)."""


class StoreAuthError(StoreError):
    """The store refused who we are or what we asked (a wrong password, an unknown user, an
    ACL that does not allow a command or key). Retrying will not help: fix the credentials or
    the ACL."""


class EvictionPolicyError(StoreError):
    """The Redis server may evict keys (its ``maxmemory-policy`` is not ``noeviction``), which
    loses tasks without a word. Retrying will not help: change the policy, or opt out."""


FATAL_STORE_ERRORS: tuple[type[StoreError], ...] = (StoreAuthError, EvictionPolicyError)
"""Store errors that no retry can mend: a worker stops on them instead of retrying."""


class Entry(NamedTuple):
    """One task to put on the schedule. A named tuple, not a dataclass: a scatter builds
    a million of them, and a tuple is built several times faster."""

    key: str
    due: int
    """Due time, microseconds since the epoch."""
    payload: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """A task a worker now holds under a lease."""

    key: str
    token: str
    """Proof of this particular claim; finishing, extending or releasing needs it."""
    payload: bytes
    due: int
    """The due time it was scheduled for (a redelivery keeps its original due time)."""
    redelivered: bool
    """True when an earlier lease on this task expired without being finished."""
    problem: str | None = None
    """Why this claim must not be run as it is, said before anything reads its payload (a
    signature that does not verify: see stores/signing.py); the worker quarantines it."""


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claims: list[Claim]
    now: int
    """The store's clock when the claim was made."""
    next_due: int | None
    """The earliest time something else becomes claimable: the first scheduled task still
    waiting, or the first lease deadline. None when there is nothing at all."""
    scheduled: int
    """How many tasks remain on the schedule after this claim."""
    running: int
    """How many tasks are under a lease (by any worker) after this claim."""
    due_now: int = 0
    """How many of the ``scheduled`` tasks are due (at or before ``now``): the queue a
    worker would start at once if it could (for the queue depth metric)."""


@dataclass(frozen=True, slots=True)
class Record:
    """Opaque bytes a finished (or cancelled) task leaves under its key, forgotten ``ttl``
    microseconds later. Both must be non-empty/positive: a store may use an empty value to
    mean "no record"."""

    data: bytes
    ttl: int

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("a record's data must not be empty")
        if self.ttl <= 0:
            raise ValueError(f"a record's ttl must be positive, got {self.ttl!r}")


@dataclass(frozen=True, slots=True)
class Finish:
    """Acknowledge one claim, optionally putting the task back on the schedule."""

    key: str
    token: str
    reschedule: Entry | None = None
    """Scheduled under the same ``key`` (the entry's own key is not used) in the same atomic
    step as the acknowledgement (retries, perpetual tasks). Ignored if the key was scheduled
    again meanwhile (a ``replace`` wins)."""
    record: Record | None = None
    """Kept under ``key``, in the same atomic step, as what this run left behind (see
    `Store.task_state`); the key's progress is then kept as long. Without a record, any
    earlier record of the key stays and its progress is dropped."""
    ends_chain: bool = False
    """This run ended the automatic chain ``key`` on purpose: in the same atomic step, the
    store remembers when (see `Store.restore_chains`). Ignored with a ``reschedule``, or when
    a newer schedule of the key was waiting (the chain goes on either way)."""
    failure: FailureNote | None = None
    """This run failed: in the same atomic step, the key enters the record of failures (see
    `FailureStore`). Without one, a successful end drops the key's earlier failure."""


@dataclass(frozen=True, slots=True)
class FailureNote:
    """How a run failed, for the record of failures (see `FailureStore`): an opaque ``note``
    (the docket layer encodes it), and the record's bounds, applied as it is written."""

    note: bytes
    keep: int
    """At most this many failures are kept (the oldest go first)."""
    max_age: int
    """Failures older than this many microseconds are dropped."""

    def __post_init__(self) -> None:
        if not self.note:
            raise ValueError("a failure note must not be empty")
        if self.keep < 1:
            raise ValueError(f"a failure note's keep must be at least 1, got {self.keep!r}")
        if self.max_age <= 0:
            raise ValueError(f"a failure note's max_age must be positive, got {self.max_age!r}")


@dataclass(frozen=True, slots=True)
class FailedTask:
    """One entry of the record of failures: the latest failure of ``key``."""

    key: str
    payload: bytes
    """The payload of the run that failed, as it was stored."""
    failed_at: int
    """Store time of the failure."""
    note: bytes
    retry_at: int | None
    """When ``key`` is scheduled again (a retry, or a new add), None when it is not."""
    running: bool = False
    """A run of ``key`` holds a lease now."""


RetryOutcome = Literal["retried", "hastened", "busy", "missing"]
"""What `FailureStore.retry_failures` did with one key: ``retried`` (back on the schedule,
its failure dropped), ``hastened`` (it was scheduled again already: moved to the time asked
for when that is earlier), ``busy`` (running, or held by a strike: left alone), ``missing``
(no failure recorded under the key)."""


@dataclass(frozen=True, slots=True)
class Release:
    """Hand a claim back without running it, to be claimed again at ``due``."""

    key: str
    token: str
    due: int


@dataclass(frozen=True, slots=True)
class Respread:
    """What `Store.respread_batch` did."""

    moved: int
    """Tasks given a new due time, handed-back claims included."""
    handed_back: list[bool]
    """One flag per claim offered: True when it went back into the re-spread (its lease is
    gone), False when it stayed with its worker."""


@dataclass(frozen=True, slots=True)
class ScheduledTask:
    key: str
    due: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class RunningTask:
    key: str
    token: str
    lease_deadline: int
    payload: bytes
    started: int | None = None
    """When the claim holding it was made (store clock; a redelivery restarts it). None for
    a claim made by a version of strew that did not record it."""

    @property
    def worker(self) -> str:
        return worker_of(self.token)


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    name: str
    last_seen: int


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    now: int
    scheduled_total: int
    scheduled: list[ScheduledTask]
    """The earliest scheduled tasks, at most the limit asked for."""
    running: list[RunningTask]
    workers: list[WorkerSeen] = field(default_factory=list)
    quarantined: int = 0
    """How many tasks are in quarantine (see `Store.quarantine`)."""


@dataclass(frozen=True, slots=True)
class FunctionTally:
    """How many tasks in one state (scheduled, running or held) call each task function."""

    total: int
    """How many tasks are in this state (always exact)."""
    counts: dict[str, int]
    """Task function name -> how many; ``""`` for payloads whose name cannot be read."""
    exact: bool
    """False when ``counts`` were estimated from a random sample and scaled to ``total``."""


@dataclass(frozen=True, slots=True)
class FunctionCounts:
    scheduled: FunctionTally
    running: FunctionTally
    held: FunctionTally


@dataclass(frozen=True, slots=True)
class Quarantine:
    """Move one claim into quarantine instead of acknowledging it (its payload is unusable)."""

    key: str
    token: str
    reason: str


@dataclass(frozen=True, slots=True)
class QuarantinedTask:
    key: str
    payload: bytes
    reason: str
    at: int
    """When it was quarantined, on the store's clock."""


@dataclass(frozen=True, slots=True)
class Wake:
    """Something became due at ``due`` (or earlier than a sleeping worker expected)."""

    due: int


@dataclass(frozen=True, slots=True)
class CancelRequested:
    """Someone asked for the running task ``key`` to be cancelled."""

    key: str


Notice = Wake | CancelRequested


@dataclass(frozen=True, slots=True)
class ProgressState:
    """How far a running task says it has got (see `Store.update_progress`)."""

    current: int
    total: int | None
    message: str | None
    updated: int
    """Store time of the last update."""


@dataclass(frozen=True, slots=True)
class TaskState:
    """Everything a store knows about one key, read in one atomic step."""

    now: int
    scheduled: ScheduledTask | None
    running: RunningTask | None
    record: bytes | None
    progress: ProgressState | None
    held: ScheduledTask | None = None
    """Held by a strike (see `Store.hold`), with the due time and payload it had."""


GateKind = Literal["concurrency", "rate", "cooldown", "debounce"]


@dataclass(frozen=True, slots=True)
class Gate:
    """One admission control a task must pass before it runs (see `AdmissionStore.admit`).

    ``name`` identifies the limit within its home: the docket itself, or with ``scope`` a name
    several dockets on one store share. Tasks whose gates have the same kind, home and name
    share one limit."""

    kind: GateKind
    name: str
    limit: int = 0
    """Concurrency: slots; rate: starts per ``window``. Unused by cooldown and debounce."""
    window: int = 0
    """Rate, cooldown, debounce: the window in microseconds. Unused by concurrency."""
    drop: bool = False
    """Rate: drop an over-limit task instead of deferring it."""
    scope: str | None = None


Verdict = Literal["run", "drop", "defer", "wait", "lost"]


@dataclass(frozen=True, slots=True)
class Admission:
    """What `AdmissionStore.admit` decided for one claim."""

    verdict: Verdict
    """``run``: go ahead (any concurrency slot is now held). ``drop``: never run it (the
    caller acknowledges the claim). ``defer``: moved back to the schedule at ``until``
    (a rate limit, a debounce window). ``wait``: parked for a concurrency slot, back on the
    schedule at ``until`` at the latest and brought forward when a slot frees. ``lost``: the
    token no longer holds the lease; nothing changed."""
    gate: int = -1
    """Index of the gate that decided a ``drop``, ``defer`` or ``wait``."""
    until: int = 0


@dataclass(frozen=True, slots=True)
class LimitUsage:
    """One concurrency limit as it stands: slots held and tasks waiting for one."""

    name: str
    scope: str | None
    in_use: int
    waiting: int


def function_in(payload: bytes) -> str:
    """The task function name a payload's envelope begins with, ``""`` when it has none.

    An envelope (task/envelope.py) is a pickle, protocol 4 or later, of a tuple whose first two
    items are the envelope version (1) and the function name, so its first bytes are always
    laid out the same: PROTO, an optional FRAME, MARK, BININT1 1, then the name as a
    SHORT_BINUNICODE or a BINUNICODE. count_functions.lua reads the same bytes the same way.
    """
    if payload[:2] == b"\x00J":  # a JSON envelope (task/codec.py): the name's length, then it
        size = int.from_bytes(payload[2:4], "big")
        if len(payload) < 4 or 4 + size > len(payload):
            return ""
        return payload[4 : 4 + size].decode("utf-8", "surrogateescape")
    if payload[:1] != b"\x80":
        return ""
    position = 11 if payload[2:3] == b"\x95" else 2  # after PROTO, and FRAME + its length
    if payload[position : position + 3] != b"(K\x01":
        return ""
    opcode = payload[position + 3 : position + 4]
    if opcode == b"\x8c":
        start = position + 5
        # A payload cut short here gets a size that fails the bounds check below.
        size = payload[position + 4] if len(payload) > position + 4 else len(payload)
    elif opcode == b"X":
        start = position + 8
        size = int.from_bytes(payload[position + 4 : start], "little")
    else:
        return ""
    if start + size > len(payload):
        return ""
    return payload[start : start + size].decode("utf-8", "surrogateescape")


def scaled(total: int, seen: int, counts: dict[str, int]) -> FunctionTally:
    """A tally of ``seen`` tasks out of ``total``: exact when all were seen, otherwise each
    count scaled by ``total / seen`` (rounded, and at least 1 for a name that was seen)."""
    if seen == total:
        return FunctionTally(total, dict(counts), exact=True)
    if seen <= 0:
        return FunctionTally(total, {}, exact=False)
    return FunctionTally(
        total,
        {name: max(1, round(count * total / seen)) for name, count in counts.items()},
        exact=False,
    )


def token_for(worker: str, sequence: int) -> str:
    return f"{worker}/{sequence}"


def worker_of(token: str) -> str:
    return token.rsplit("/", 1)[0]
