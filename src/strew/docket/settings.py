"""What a docket is configured with: its default URL, the checks of its name, and the bounds
its operations keep to."""

from __future__ import annotations

import os

DEFAULT_URL = "redis://localhost:6379/0"
ADD_CHUNK = 1000
"""How many tasks `Docket.add_many` writes per store call."""


def default_url() -> str:
    return os.environ.get("STREW_URL") or DEFAULT_URL


MAX_BUCKETS = 100_000
"""A histogram of more slices would be one huge round trip (and no screen shows it)."""
COUNT_CAP = 100_000
"""`Docket.count_by_function` counts this many tasks of a state exactly; more are sampled."""
COUNT_SAMPLE = 5_000


def whole_number(value: object) -> bool:
    """An int that is not a bool (True is an int to Python, never a count to a caller)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}")
    if not name or len(name) > 200 or any(c in name for c in "{}\n\r\0"):
        raise ValueError(
            f"name must be 1 to 200 characters without braces or line breaks, got {name!r}"
        )
    return name


def positive_whole(value: object, name: str, kind: str) -> int:
    """``value`` if it is a whole number of at least 1; otherwise an error naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive {kind}, got {value!r}")
    return value


def check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_result_storage(value: object) -> object:
    """pydocket's ``result_storage`` (a py-key-value ``AsyncKeyValue``): None, or an object
    with ``get`` and ``put`` methods. strew keeps results in its own store and never calls
    it (see docs/results-and-progress.md); a wrong type is still refused, as pydocket's
    first use of it would fail."""
    if value is not None and not all(
        callable(getattr(value, method, None)) for method in ("get", "put")
    ):
        raise TypeError(
            f"result_storage must be None or an AsyncKeyValue store (with get and put), "
            f"got {value!r}"
        )
    return value
