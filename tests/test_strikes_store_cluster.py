"""The strike operations of the Store contract once more, against a three-node Redis Cluster:
the strike keys carry the docket's hash tag, so each script runs whole on one node."""

from __future__ import annotations

import pytest

from .helpers import RedisClusterNodes
from .test_strikes_store import *  # noqa: F403 - the strike contract's tests and `store` fixture


@pytest.fixture
def store_url(cluster: RedisClusterNodes) -> str:
    return cluster.url
