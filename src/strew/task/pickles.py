"""Reading a pickle that must not run code: only plain values and an allow-list of value types.

`pickle.loads` calls whatever a pickle names, so reading bytes someone else could write is
running their code. `plain_loads` reads the pickles strew writes for plain values (numbers,
strings, bytes, None, the containers, dates and times, decimals, UUIDs) and refuses any other
global with `UnpicklingError`, before calling it. It is for what must be shown or compared
without being trusted: never for task arguments that may be instances of the user's classes.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
from typing import Any

ALLOWED = frozenset(
    {
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("builtins", "complex"),
        ("builtins", "slice"),
        ("builtins", "range"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("decimal", "Decimal"),
        ("fractions", "Fraction"),
        ("uuid", "UUID"),
        ("collections", "OrderedDict"),
        ("_codecs", "encode"),  # protocol 2's form of bytes: encode(text, "latin1")
    }
)
"""The only globals a plain pickle may name: value types whose constructors run no code of
anyone's choosing. (A datetime in a `ZoneInfo` zone is not plain: pickle reaches the zone
through ``getattr``, which is never allowed; one with a fixed `timezone` is.)"""


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Protocols 0 to 2 name Python 2's modules (__builtin__.set); read them as pickle does.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: only plain values are read here"
            )
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refused a persistent id: only plain values are read here")


def plain_loads(data: bytes) -> Any:
    """The plain value ``data`` pickles. Raises `pickle.UnpicklingError` naming the first
    global that is not a plain value type (nothing it names is called), and whatever a
    malformed pickle raises."""
    if data[:2] in _FRAMED_PROTOCOLS and data[2:3] != _FRAME:
        # An unframed pickle (strew strips the frame of small ones, see `unframed`) would be
        # read from the file one opcode at a time; as one frame it is read in one go, which
        # makes this three times faster for a task envelope.
        data = b"".join((data[:2], _FRAME, (len(data) - 2).to_bytes(8, "little"), data[2:]))
    return _PlainUnpickler(io.BytesIO(data)).load()


_FRAMED_PROTOCOLS = (b"\x80\x04", b"\x80\x05")
_FRAME = b"\x95"
