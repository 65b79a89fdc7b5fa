"""`Docket`: the registry of task functions and the producer's side of a store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, ParamSpec, Self, overload

from strew.docket import failures as failed
from strew.docket.loops import store_per_loop
from strew.docket.registry import import_tasks, register, resolve
from strew.docket.settings import (
    ADD_CHUNK,
    check_flag,
    check_name,
    check_result_storage,
    default_url,
    positive_whole,
)
from strew.docket.snapshots import (
    load_execution,
    not_registered,
)
from strew.docket.strikelist import StrikeList
from strew.docket.strikes import StrikeBook
from strew.docket.views import OperatorViews
from strew.signals import metrics as instrumentation
from strew.signals import producers
from strew.signals.tracing import trace_meta
from strew.stores import Store, StoreError, StoreUnavailable
from strew.stores.durability import DEFAULT_REPLICA_TIMEOUT, durability
from strew.stores.records import Entry
from strew.stores.signing import SignedStore, Signer, signing_keys
from strew.stores.urls import masked, validate_url
from strew.task.bulk import gc_paused
from strew.task.checks import check_key, check_when
from strew.task.clock import check_non_negative, check_positive, from_micros, to_micros, utc_now
from strew.task.codec import codec_named
from strew.task.envelope import new_key
from strew.task.execution import Disposition, Execution, TaskCall, TaskFunction
from strew.task.results import MAX_RESULT_SIZE, cancelled_record
from strew.task.signatures import check_call

P = ParamSpec("P")


class Docket(OperatorViews):
    """A named collection of tasks in one store.

    ``url`` selects the store: ``redis://``, ``rediss://`` and ``unix://`` for a Redis or
    Valkey server, ``redis+cluster://host:port`` (any node) for a Redis Cluster,
    ``redis+sentinel://host:port[,host:port...]/service_name[/db]`` for a master found through
    Redis Sentinel, ``memory://`` (optionally ``memory://some-name``) for the in-process store.
    It defaults to ``$STREW_URL``, then ``redis://localhost:6379/0``. Nothing connects until
    the first operation.

    Trust (docs/security.md): ``signing_key`` (default ``$STREW_SIGNING_KEY``; several
    rotate, the first signs) signs what this docket writes and reads only what verifies;
    ``serializer="json"`` writes no pickle at all; ``load_arguments=False`` keeps the views
    (`snapshot`, `get_execution`, strikes) of an unsigned docket to plain values, as the
    ``strew`` command does. The Redis store refuses (`EvictionPolicyError`) a server whose
    ``maxmemory-policy`` may evict keys, unless ``allow_eviction=True`` (or, when None,
    ``STREW_ALLOW_EVICTION=1``): an evicted key is a task lost without a word.

    Durability (docs/stores.md): ``replicas=N`` (when None, ``$STREW_REPLICAS``, else 0)
    makes every add, cancel, scatter, strike and acknowledgement wait until N replicas have
    it (Redis ``WAIT``, at most ``replica_timeout``); if too few confirm, `NotReplicated`.

    The first seven arguments are pydocket's, in its order; ``result_storage`` and
    ``enable_internal_instrumentation`` are checked and kept but change nothing (results
    live in this docket's store). strew's own options are keyword-only.
    """

    def __init__(
        self,
        name: str = "strew",
        url: str | None = None,
        heartbeat_interval: timedelta = timedelta(seconds=2),
        missed_heartbeats: int = 5,
        execution_ttl: timedelta = timedelta(minutes=15),
        result_storage: object | None = None,
        enable_internal_instrumentation: bool = False,
        *,
        signing_key: str | bytes | Sequence[str | bytes] | None = None,
        load_arguments: bool = True,
        serializer: str = "pickle",
        allow_eviction: bool | None = None,
        max_result_size: int = MAX_RESULT_SIZE,
        failure_retention: failed.FailureRetention | None = None,
        replicas: int | None = None,
        replica_timeout: timedelta = DEFAULT_REPLICA_TIMEOUT,
    ) -> None:
        self.name = check_name(name)
        self.url = validate_url(default_url() if url is None else url)
        self.heartbeat_interval = check_positive(heartbeat_interval, "heartbeat_interval")
        self.missed_heartbeats = positive_whole(missed_heartbeats, "missed_heartbeats", "integer")
        # How long a finished task's state and result stay readable; zero keeps none.
        self.execution_ttl = check_non_negative(execution_ttl, "execution_ttl")
        # A larger return value fails its run (ResultTooLarge) instead of being kept.
        self.max_result_size = positive_whole(
            max_result_size, "max_result_size", "whole number of bytes"
        )
        # pydocket's: strew keeps results in its own store and has no internal polling
        # spans to switch on, so both are kept for the reader and used for nothing.
        self.result_storage = check_result_storage(result_storage)
        self.enable_internal_instrumentation = check_flag(
            enable_internal_instrumentation, "enable_internal_instrumentation"
        )
        self.failure_retention = failed.check_retention(failure_retention)  # docs/failures.md
        self.tasks: dict[str, TaskFunction] = {}
        check_flag(load_arguments, "load_arguments")
        self.codec = codec_named(serializer)
        """How payloads and records are written: pickle, or JSON (see task/codec.py)."""
        keys = signing_keys(signing_key)
        self.signed = bool(keys)
        """Payloads, records and strike rules are signed, and read only when they verify."""
        self.loads_arguments = self.signed or self.codec.json or load_arguments
        """The views unpickle what they show: it verified, or it was told to trust its store."""
        durable = durability(replicas, replica_timeout)  # WAIT for replicas: docs/stores.md
        self.replicas = durable.replicas
        store = store_per_loop(self.url, self.name, allow_eviction, durable)  # one per loop
        self.store: Store = SignedStore(store, Signer(keys)) if keys else store
        trusted = not self.codec.json and (self.signed or load_arguments)
        self.strike_book = StrikeBook(self.store, self.tasks, trusted=trusted)
        self.strike_list = StrikeList.sharing(self.strike_book, self.name, self.url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.store.close()

    def __repr__(self) -> str:
        return f"Docket(name={self.name!r}, url={masked(self.url)!r})"

    # -- registry ---------------------------------------------------------------------------

    def register(self, function: TaskFunction, names: Sequence[str] | None = None) -> None:
        """Make ``function`` runnable by workers of this docket, under each of ``names``, or
        under its ``__name__`` when ``names`` is None or empty (as in pydocket)."""
        register(self.tasks, function, names)

    def register_collection(self, collection_path: str) -> None:
        """Register every function of the collection ``collection_path`` names, such as
        ``"myapp.tasks:all_tasks"`` (a bare module means its ``tasks``), each under its
        ``__name__``. Raises `TaskImportError` naming the string when it leads nowhere;
        nothing is registered unless every function is fit to be."""
        functions = import_tasks(collection_path, from_cwd=False)
        staged: dict[str, TaskFunction] = dict(self.tasks)
        for function in functions:
            register(staged, function, None)
        self.tasks.update(staged)

    def resolve(self, function: TaskFunction | str) -> tuple[TaskFunction, str]:
        """The function and the name workers know it by; registers an unregistered function,
        raises KeyError for an unknown name."""
        return resolve(self.tasks, function)

    # -- building executions ----------------------------------------------------------------

    def _execution(
        self,
        function: TaskFunction,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        when: datetime | None,
        key: str | None,
        meta: dict[str, Any] | None = None,
    ) -> tuple[Execution, Entry]:
        check_call(function, name, args, kwargs)
        moment = utc_now() if when is None else when
        execution = Execution(
            self,
            function,
            name,
            args,
            kwargs,
            new_key() if key is None else key,
            moment,
            meta=meta,
        )
        entry = Entry(execution.key, to_micros(moment), execution.payload())
        return execution, entry

    def _check_schedule_args(self, when: datetime | None, key: str | None) -> None:
        if when is not None:
            check_when(when)
        if key is not None:
            check_key(key)

    @overload
    def add(
        self,
        function: Callable[P, Awaitable[Any]] | Callable[P, Any],
        when: datetime | None = None,
        key: str | None = None,
    ) -> Callable[P, Awaitable[Execution]]: ...

    @overload
    def add(
        self, function: str, when: datetime | None = None, key: str | None = None
    ) -> Callable[..., Awaitable[Execution]]: ...

    def add(
        self,
        function: TaskFunction | str,
        when: datetime | None = None,
        key: str | None = None,
    ) -> Callable[..., Awaitable[Execution]]:
        """Schedule a call: ``await docket.add(fn, when=..., key=...)(*args, **kwargs)``.

        ``when`` defaults to now. A ``key`` that is already scheduled or running is not added
        again (the execution's disposition says ``ALREADY_SCHEDULED``); without a key every
        add gets a fresh one.
        """
        return self._scheduler(function, when, key, replace=False)

    @overload
    def replace(
        self,
        function: Callable[P, Awaitable[Any]] | Callable[P, Any],
        when: datetime | None = None,
        key: str | None = None,
    ) -> Callable[P, Awaitable[Execution]]: ...

    @overload
    def replace(
        self, function: str, when: datetime | None = None, key: str | None = None
    ) -> Callable[..., Awaitable[Execution]]: ...

    def replace(
        self,
        function: TaskFunction | str,
        when: datetime | None = None,
        key: str | None = None,
    ) -> Callable[..., Awaitable[Execution]]:
        """Schedule a call under ``key``, superseding whatever is scheduled under it. A run
        of that key already in progress finishes; the new one starts after it."""
        if key is None:
            raise TypeError("replace needs a key: key=None cannot supersede anything")
        return self._scheduler(function, when, key, replace=True)

    def _scheduler(
        self,
        function: TaskFunction | str,
        when: datetime | None,
        key: str | None,
        *,
        replace: bool,
    ) -> Callable[..., Awaitable[Execution]]:
        self._check_schedule_args(when, key)
        resolved, name = self.resolve(function)

        @producers.scheduling("replace" if replace else "add", self.name, name)
        async def scheduler(*args: Any, **kwargs: Any) -> Execution:
            meta = trace_meta()
            execution, entry = self._execution(resolved, name, args, kwargs, when, key, meta)
            if await self.strike_book.struck(execution):
                instrumentation.record_stricken(self.name, name)
                return execution
            [written] = await self.store.schedule([entry], replace=replace)
            execution.disposition = (
                Disposition.SCHEDULED if written else Disposition.ALREADY_SCHEDULED
            )
            return execution

        return scheduler

    @overload
    def call(
        self,
        function: Callable[P, Awaitable[Any]] | Callable[P, Any],
        when: datetime | None = None,
        key: str | None = None,
    ) -> Callable[P, TaskCall]: ...

    @overload
    def call(
        self, function: str, when: datetime | None = None, key: str | None = None
    ) -> Callable[..., TaskCall]: ...

    def call(
        self,
        function: TaskFunction | str,
        when: datetime | None = None,
        key: str | None = None,
    ) -> Callable[..., TaskCall]:
        """Build a `TaskCall` for `add_many` without writing anything."""
        self._check_schedule_args(when, key)
        resolved, name = self.resolve(function)

        def specifier(*args: Any, **kwargs: Any) -> TaskCall:
            check_call(resolved, name, args, kwargs)
            return TaskCall(
                resolved,
                args,
                kwargs,
                new_key() if key is None else key,
                utc_now() if when is None else when,
                name,
            )

        return specifier

    async def add_many(
        self, calls: Iterable[TaskCall], *, chunk_size: int = ADD_CHUNK
    ) -> list[Execution]:
        """Schedule many calls in ``len(calls) / chunk_size`` round trips.

        Each call behaves as `add` would (a key already scheduled keeps its schedule). Every
        call is checked and serialised before anything is written. Each chunk is written
        atomically; the batch as a whole is not (use `Agenda.scatter` for all-or-nothing):
        a chunk the store refuses marks its executions ``FAILED`` with the error attached,
        and an unreachable store raises `StoreUnavailable`.
        """
        return await self._schedule_many(calls, replace=False, chunk_size=chunk_size)

    async def replace_many(
        self, calls: Iterable[TaskCall], *, chunk_size: int = ADD_CHUNK
    ) -> list[Execution]:
        """Like `add_many`, but each call supersedes what is scheduled under its key."""
        return await self._schedule_many(calls, replace=True, chunk_size=chunk_size)

    def prepare(
        self, calls: Iterable[TaskCall], meta: dict[str, Any] | None = None
    ) -> tuple[list[Execution], list[Entry]]:
        """Check and serialise calls without writing: the first half of every batch write."""
        executions: list[Execution] = []
        entries: list[Entry] = []
        if not isinstance(calls, Iterable):
            raise TypeError(
                f"calls must be an iterable of TaskCall (see Docket.call), got {calls!r}"
            )
        with gc_paused():
            self._prepare_into(calls, meta, executions, entries)
        return executions, entries

    def _prepare_into(
        self,
        calls: Iterable[TaskCall],
        meta: dict[str, Any] | None,
        executions: list[Execution],
        entries: list[Entry],
    ) -> None:
        for index, call in enumerate(calls):
            if not isinstance(call, TaskCall):
                raise TypeError(
                    f"calls[{index}] must be a TaskCall (see Docket.call), got {call!r}"
                )
            check_when(call.when, f"calls[{index}].when")
            check_key(call.key, f"calls[{index}].key")
            if call.function_name not in self.tasks:
                self.register(call.function, [call.function_name])
            execution, entry = self._execution(
                call.function,
                call.function_name,
                call.args,
                call.kwargs,
                call.when,
                call.key,
                meta=meta,
            )
            executions.append(execution)
            entries.append(entry)

    @producers.scheduling_many
    async def _schedule_many(
        self, calls: Iterable[TaskCall], *, replace: bool, chunk_size: int
    ) -> list[Execution]:
        positive_whole(chunk_size, "chunk_size", "integer")
        everything, entries = self.prepare(calls, trace_meta())
        executions, entries = await self.strike_book.sift(everything, entries)
        for execution in everything:
            if execution.disposition is Disposition.STRUCK:
                instrumentation.record_stricken(self.name, execution.function_name)
        for start in range(0, len(entries), chunk_size):
            chunk = slice(start, start + chunk_size)
            try:
                written = await self.store.schedule(entries[chunk], replace=replace)
            except StoreUnavailable:
                raise
            except StoreError as error:
                for execution in executions[chunk]:
                    execution.disposition = Disposition.FAILED
                    execution.schedule_exception = error
                continue
            for execution, flag in zip(executions[chunk], written, strict=True):
                execution.disposition = (
                    Disposition.SCHEDULED if flag else Disposition.ALREADY_SCHEDULED
                )
        return everything

    # -- the rest of the lifecycle ----------------------------------------------------------

    async def cancel(self, key: str) -> None:
        """Remove a scheduled task so it never runs; if it is running, ask its worker to
        cancel it (best effort: a task already finishing may still complete)."""
        record = cancelled_record(
            self.execution_ttl, None, to_micros(utc_now()), json=self.codec.json
        )
        with producers.cancelling(self.name, key) as removed:
            removed(await self.store.cancel([check_key(key)], record))

    async def get_execution(self, key: str) -> Execution | None:
        """The task under ``key`` with its ``state`` and ``progress`` read from the store, or
        None when nothing is known about it (see `Execution.get_result`)."""
        return await load_execution(self, check_key(key))

    async def strike(
        self,
        function: TaskFunction | str | None = None,
        parameter: str | None = None,
        operator: str = "==",
        value: Any = None,
    ) -> None:
        """Pause ``function`` (a task function or name; None for every function), or only its
        calls whose argument ``parameter`` compares true with ``value`` (``operator`` is one
        of ``== != > >= < <= between``; ``between`` takes ``(low, high)``, both included).

        Every producer and worker of this docket sees the strike within about a second:
        stricken adds come back ``STRUCK`` and write nothing; stricken tasks already
        scheduled are held when a worker claims them, until `restore`. See docs/strikes.md.
        """
        await self.strike_book.add(function, parameter, operator, value)

    async def restore(
        self,
        function: TaskFunction | str | None = None,
        parameter: str | None = None,
        operator: str = "==",
        value: Any = None,
    ) -> None:
        """Lift the strike made with the same arguments, and put every held task back on the
        schedule at once (workers check each against the strikes that remain)."""
        await self.strike_book.lift(function, parameter, operator, value)

    async def wait_for_strikes_loaded(self) -> None:
        """Return once ``strike_list`` holds the strikes in force (reads them if never read)."""
        await self.strike_list.wait_for_strikes_loaded()

    async def clear(self) -> int:
        """Drop every scheduled task (running ones finish). Returns how many were dropped."""
        return await self.store.clear()

    def execution_from(
        self, key: str, payload: bytes, disposition: Disposition = Disposition.LOADED
    ) -> Execution:
        """Rebuild the `Execution` a store payload describes. Raises `CorruptPayload`."""
        envelope = self.codec.load(payload)
        function = self.tasks.get(envelope.function_name) or not_registered(envelope.function_name)
        return Execution(
            self,
            function,
            envelope.function_name,
            envelope.args,
            envelope.kwargs,
            key,
            from_micros(envelope.when),
            envelope.attempt,
            disposition,
            meta=envelope.meta,
        )
