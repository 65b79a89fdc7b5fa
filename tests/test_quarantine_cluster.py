"""The quarantine's store contract once more, against a three-node Redis Cluster, plus a
worker meeting a corrupt payload there: the same assertions as tests/test_quarantine.py, only
the URL differs (``redis+cluster://``)."""

from __future__ import annotations

import pytest

from .helpers import RedisClusterNodes
from .test_quarantine import (  # noqa: F401 - collected here against the cluster
    test_a_newer_schedule_of_the_key_still_runs_after_the_quarantine,
    test_a_quarantined_task_is_never_claimed_again_even_after_its_lease,
    test_a_worker_quarantines_a_corrupt_payload_and_keeps_running,
    test_an_empty_quarantine_batch_changes_nothing,
    test_only_the_current_claim_can_quarantine_its_task,
    test_quarantine_moves_a_claim_out_of_its_lease_keeping_payload_and_reason,
    test_quarantined_tasks_are_listed_oldest_first_and_dropped_by_key_or_all,
    test_quarantining_a_key_again_overwrites_its_record,
)


@pytest.fixture
def store_url(cluster: RedisClusterNodes) -> str:
    return cluster.url
