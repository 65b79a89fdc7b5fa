"""The Redis store: every multi-key step a Lua script (in lua/), all of a docket's keys under
one hash tag so a Cluster keeps them in one slot."""

from strew.stores.redis.store import RedisStore

__all__ = ["RedisStore"]
