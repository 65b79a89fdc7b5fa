"""The in-process store (``memory://``): the embedded default, a second real implementation
of the store contract, shared by every docket of one name in one process."""

from strew.stores.memory.store import memory_store

__all__ = ["memory_store"]
