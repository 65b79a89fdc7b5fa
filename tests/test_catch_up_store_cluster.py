"""The catch-up store contract (respread_batch) once more, against a three-node Redis Cluster.

Every key of a docket carries the hash tag ``{name}``, so each Lua script runs on the one node
that owns the docket's slot; these are the same assertions as tests/test_catch_up_store.py,
only the URL differs (``redis+cluster://``)."""

from __future__ import annotations

import pytest

from .helpers import RedisClusterNodes
from .test_catch_up_store import *  # noqa: F403 - its tests and fixtures


@pytest.fixture
def store_url(cluster: RedisClusterNodes) -> str:
    return cluster.url
