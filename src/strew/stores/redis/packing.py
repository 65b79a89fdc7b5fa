"""Entries (and acknowledgements) packed into MessagePack arrays, for the Redis batch
scripts to unpack.

A scatter chunk sent as three arguments per task spends more time in redis-py (each argument
encoded and framed on its own) and in Redis (each one turned into a Lua string of ``ARGV``)
than either side spends on the task itself. As one blob, the client joins bytes and Lua's
built-in ``cmsgpack.unpack`` splits them in C.

Redis ships an old MessagePack decoder: it knows "raw" strings but not the newer ``str8`` or
``bin`` types, so only the forms it reads are written here: raw 16 for keys (at most 4 KiB
of UTF-8), a fixed raw for the due time (a decimal integer, at most 20 characters), raw 32
for payloads. Due times travel as text so that Lua never turns them into floats.

A chunk goes as several blobs of at most `BLOB_BYTES` (and `BLOB_ENTRIES`) each, all in one
command. Redis reads an argument of 32 KiB or more into a buffer of its own size and then
keeps a query buffer that large for the connection until it has been idle a while (about
800 KB held after a 5,000-task chunk, more than the tasks themselves in a 10,000-task
scatter); smaller arguments are copied out as they arrive and the buffer stays small. A
blob of at most 1,000 entries also fits one Lua ``unpack()`` of a command's arguments.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from strew.stores.records import Entry, Finish

_ARRAY = struct.Struct(">BI").pack  # array 32: 0xdd, element count
_RAW16 = struct.Struct(">BH").pack  # raw 16: 0xda, byte length
_RAW32 = struct.Struct(">BI").pack  # raw 32: 0xdb, byte length
_FIXRAW = [bytes([0xA0 | n]) for n in range(32)]  # fixed raw: 0xa0 | length (< 32)
# Headers by length, built once: a chunk's keys (and mostly its payloads) share a few lengths.
_KEY_HEADERS = [_RAW16(0xDA, n) for n in range(4 * 1024 + 1)]
_PAYLOAD_HEADERS = [_RAW32(0xDB, n) for n in range(1024)]


BLOB_BYTES = 24 * 1024
"""Target size of one blob: under the 32 KiB at which Redis keeps a big query buffer."""
BLOB_ENTRIES = 1000


def pack_entries(entries: Sequence[Entry]) -> list[bytes]:
    """The entries as MessagePack arrays of key, due and payload, in order, cut into blobs
    of at most `BLOB_ENTRIES` entries and, unless one entry alone is larger, `BLOB_BYTES`."""
    return [blob for blob, _, _ in pack_described(entries)]


def pack_described(entries: Sequence[Entry]) -> list[tuple[bytes, int, int]]:
    """`pack_entries`, each blob with its entry count and its earliest due time (what a
    stage keeps in the blob's name, so that its commit reads no blob; see batches.py)."""
    blobs: list[tuple[bytes, int, int]] = []
    parts: list[bytes] = []
    add = parts.extend
    size = count = 0
    earliest = 0
    key_headers, payload_headers, fixraw = _KEY_HEADERS, _PAYLOAD_HEADERS, _FIXRAW
    for key, due, payload in entries:
        key_bytes = key.encode()
        due_bytes = b"%d" % due
        length = len(payload)
        grown = size + len(key_bytes) + len(due_bytes) + length + 9
        if count and (grown > BLOB_BYTES or count == BLOB_ENTRIES):
            blobs.append((_ARRAY(0xDD, 3 * count) + b"".join(parts), count, earliest))
            parts.clear()
            size = count = 0
            grown = len(key_bytes) + len(due_bytes) + length + 9
        if count == 0 or due < earliest:
            earliest = due
        add(
            (
                key_headers[len(key_bytes)]
                if len(key_bytes) < 4097
                else _RAW16(0xDA, len(key_bytes)),
                key_bytes,
                fixraw[len(due_bytes)],
                due_bytes,
                payload_headers[length] if length < 1024 else _RAW32(0xDB, length),
                payload,
            )
        )
        size = grown
        count += 1
    if count:
        blobs.append((_ARRAY(0xDD, 3 * count) + b"".join(parts), count, earliest))
    return blobs


_EMPTY = _FIXRAW[0]
_NO_RESCHEDULE = _EMPTY * 2  # due, payload
_NO_RECORD = _EMPTY * 2  # record, ttl
_NO_FAILURE = _EMPTY * 3  # note, keep, max age
_ENDS = (_EMPTY, _FIXRAW[1] + b"1")
FINISH_FIELDS = 10


def _raw(value: bytes) -> bytes:
    length = len(value)
    if length < 32:
        return _FIXRAW[length] + value
    if length < 65536:
        return _RAW16(0xDA, length) + value
    return _RAW32(0xDB, length) + value


def pack_finishes(finishes: Sequence[Finish], millis: Callable[[int], int]) -> list[bytes]:
    """Acknowledgements as MessagePack arrays of `FINISH_FIELDS` raw strings each, in order:
    key, token, reschedule due and payload, record and its ttl (ms, ``millis`` of the
    record's), "1" when the run ended its chain, failure note, keep and max age (empty where
    there is none), cut into blobs as `pack_entries` cuts entries (``finish.lua`` unpacks
    them). As separate arguments, redis-py would encode and frame ten a task."""
    blobs: list[bytes] = []
    parts: list[bytes] = []
    add = parts.append
    size = count = 0
    for item in finishes:
        again, record, failure = item.reschedule, item.record, item.failure
        key, token = item.key.encode(), item.token.encode()
        grown = size + len(key) + len(token) + 40
        if again is not None:
            grown += len(again.payload)
        if record is not None:
            grown += len(record.data)
        if failure is not None:
            grown += len(failure.note)
        if count and (grown > BLOB_BYTES or count == BLOB_ENTRIES):
            blobs.append(_ARRAY(0xDD, FINISH_FIELDS * count) + b"".join(parts))
            parts.clear()
            grown -= size
            count = 0
        add(_raw(key))
        add(_raw(token))
        if again is None:
            add(_NO_RESCHEDULE)
        else:
            add(_raw(b"%d" % again.due))
            add(_raw(again.payload))
        if record is None:
            add(_NO_RECORD)
        else:
            add(_raw(record.data))
            add(_raw(b"%d" % millis(record.ttl)))
        add(_ENDS[item.ends_chain])
        if failure is None:
            add(_NO_FAILURE)
        else:
            add(_raw(failure.note))
            add(_raw(b"%d" % failure.keep))
            add(_raw(b"%d" % failure.max_age))
        size = grown
        count += 1
    if count:
        blobs.append(_ARRAY(0xDD, FINISH_FIELDS * count) + b"".join(parts))
    return blobs
