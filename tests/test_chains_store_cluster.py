"""The automatic-chain operations of the Store contract once more, against a three-node Redis
Cluster: the ended-chains key carries the docket's hash tag, so each script runs on one node."""

from __future__ import annotations

import pytest

from .helpers import RedisClusterNodes
from .test_chains_store import *  # noqa: F403 - the chain contract's tests and `store` fixture


@pytest.fixture
def store_url(cluster: RedisClusterNodes) -> str:
    return cluster.url
