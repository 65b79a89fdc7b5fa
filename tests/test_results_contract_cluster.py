"""The records-and-progress contract once more, against a three-node Redis Cluster: every
script reads and writes only keys it declares, all under the docket's hash tag."""

from __future__ import annotations

import pytest

from .helpers import RedisClusterNodes
from .test_results_contract import *  # noqa: F403 - the contract's tests and its `store` fixture


@pytest.fixture
def store_url(cluster: RedisClusterNodes) -> str:
    return cluster.url
