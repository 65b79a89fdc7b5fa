"""Building many task objects in one go (an add_many, a scatter)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector for a synchronous stretch that allocates many
    long-lived objects and frees none: every few hundred new executions would otherwise
    start a collection that walks the whole growing heap (about a fifth of a scatter's CPU
    time) to find nothing. Never held across an ``await``."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
