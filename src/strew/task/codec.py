"""How a docket writes its payloads and records: pickle (the default) or JSON.

``Docket(serializer="json")`` is for teams who want no pickle at all: arguments, return
values and strike values must be JSON values (str, int, float, bool, None, lists and tuples,
dicts with string keys), a call with anything else is refused at ``add`` naming the argument,
and nothing a JSON docket reads can run code. Tuples come back as lists.

A JSON payload is ``b"\\x00J"``, the function name's length in two bytes (big-endian), the
name in UTF-8, then a JSON object: ``{"v": 1, "args": [...], "kwargs": {...}, "when": us,
"attempt": n, "meta": {...}}``. The name comes first, unencoded, for the same reason a pickled
envelope starts with it: ``count_functions.lua`` and `records.function_in` read it from the
first bytes. No pickle starts with ``\\x00``, so the two never mix up. A record (how a run
ended) is ``b"\\x00J"`` and a JSON object too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strew.task.envelope import (
    ENVELOPE_VERSION,
    CorruptPayload,
    Envelope,
    PayloadWriter,
    dump_payload,
    labelled_arguments,
    load_payload,
    payload_writer,
    read_payload,
)

JSON_MARK = b"\x00J"
SERIALIZERS = ("pickle", "json")


def json_problem(value: object, depth: int = 0) -> str | None:
    """What makes ``value`` not a JSON value strew round-trips, or None."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a finite number"
    if depth > 100:
        return "it is nested more than 100 deep"
    if isinstance(value, list | tuple):
        for item in value:
            problem = json_problem(item, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"a dict key {key!r} is not a string"
            problem = json_problem(item, depth + 1)
            if problem:
                return problem
        return None
    return f"{type(value).__name__} {_short(value)} is not a JSON value"


def _short(value: object) -> str:
    try:
        shown = repr(value)
    except Exception:
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= 60 else shown[:57] + "..."


def dump_json_payload(
    function_name: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    when: int,
    attempt: int,
    meta: Mapping[str, Any] | None = None,
) -> bytes:
    """The JSON envelope of a call; TypeError naming the first argument that is not JSON."""
    labelled = labelled_arguments(args, kwargs)
    for label, value in labelled:
        problem = json_problem(value)
        if problem:
            raise TypeError(
                f"argument {label} of task {function_name!r} cannot be serialised as JSON "
                f"(the docket's serializer is 'json'): {problem}"
            )
    name = function_name.encode("utf-8", "surrogateescape")
    if len(name) > 0xFFFF:
        raise ValueError(f"task name {function_name[:40]!r}... is too long for a JSON payload")
    body = {
        "v": ENVELOPE_VERSION,
        "args": list(args),
        "kwargs": dict(kwargs),
        "when": when,
        "attempt": attempt,
        "meta": dict(meta or {}),
    }
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return JSON_MARK + len(name).to_bytes(2, "big") + name + text.encode()


def load_json_payload(payload: bytes) -> Envelope:
    """The call a JSON envelope describes; `CorruptPayload` for anything else."""
    if not payload.startswith(JSON_MARK) or len(payload) < 4:
        raise CorruptPayload(
            f"not a JSON task payload ({len(payload)} bytes; this docket's serializer is json)"
        )
    size = int.from_bytes(payload[2:4], "big")
    try:
        name = payload[4 : 4 + size].decode("utf-8", "surrogateescape")
        body = json.loads(payload[4 + size :])
        if body["v"] != ENVELOPE_VERSION:
            raise CorruptPayload(f"unknown task payload version {body['v']!r}")
        args, kwargs, meta = body["args"], body["kwargs"], body.get("meta") or {}
        if not (isinstance(args, list) and isinstance(kwargs, dict) and isinstance(meta, dict)):
            raise ValueError("args must be a list, kwargs and meta objects")
        return Envelope(name, tuple(args), kwargs, int(body["when"]), int(body["attempt"]), meta)
    except CorruptPayload:
        raise
    except Exception as error:
        raise CorruptPayload(
            f"unreadable JSON task payload ({len(payload)} bytes): {error}"
        ) from error


@dataclass(frozen=True, slots=True)
class Codec:
    """One docket's way of writing payloads and records (see the module docstring)."""

    name: str

    @property
    def json(self) -> bool:
        return self.name == "json"

    def dump(
        self,
        function_name: str,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        when: int,
        attempt: int,
        meta: Mapping[str, Any] | None = None,
    ) -> bytes:
        writer = dump_json_payload if self.json else dump_payload
        return writer(function_name, args, kwargs, when, attempt, meta)

    def writer(self, meta: Mapping[str, Any]) -> PayloadWriter:
        """A fast writer of first attempts sharing ``meta`` (see `payload_writer`)."""
        if not self.json:
            return payload_writer(meta)

        def write(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], due: int) -> bytes:
            return dump_json_payload(name, args, kwargs, due, 1, meta)

        return write

    async def read(self, payload: bytes, timeout: float) -> Envelope:
        """`load` for a worker: a pickle that is not plain values is read off the event
        loop, for at most ``timeout`` seconds (see `read_payload`)."""
        if self.json or payload.startswith(JSON_MARK):
            return load_json_payload(payload)
        return await read_payload(payload, timeout)

    def load(self, payload: bytes, *, plain: bool = False) -> Envelope:
        """The call ``payload`` describes. A JSON docket reads JSON only; a pickle docket
        reads both (a JSON payload never runs code), pickles as plain values only with
        ``plain``. Raises `CorruptPayload`."""
        if self.json or payload.startswith(JSON_MARK):
            return load_json_payload(payload)
        return load_payload(payload, plain=plain)


PICKLE = Codec("pickle")
JSON = Codec("json")


def codec_named(serializer: object) -> Codec:
    if serializer == "pickle":
        return PICKLE
    if serializer == "json":
        return JSON
    raise ValueError(f"serializer must be one of {', '.join(SERIALIZERS)}, got {serializer!r}")
