"""Signed payloads: a docket with a signing key signs what it writes and runs only what
verifies; whatever someone else wrote to its keys is quarantined without being unpickled."""

from __future__ import annotations

import os
import pickle
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from strew import Agenda, Docket, Retry, Worker
from strew.stores.memory.store import _registry
from strew.stores.records import Entry
from strew.stores.signing import TRAILER, SignedStore, Signer, signing_keys
from strew.task.envelope import dump_payload

from ..conftest import leftover_keys

KEY = "k" * 32
OLD_KEY = "o" * 32


class Planted:
    """Unpickling this makes a directory: proof that someone's bytes ran as code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (os.mkdir, (str(self.path),))


def planted(path: Path, function: str = "job") -> bytes:
    """A payload as an attacker with write access would plant it: a valid envelope whose
    arguments run code when unpickled, unsigned."""
    return pickle.dumps((1, function, (Planted(path),), {}, 0, 1, None))


ran: list[Any] = []


async def job(value: Any) -> str:
    ran.append(value)
    return f"did {value}"


@pytest.fixture(autouse=True)
def _fresh() -> None:
    ran.clear()


@pytest.fixture
async def signed(store_url: str, docket_name: str) -> AsyncIterator[Docket]:
    async with Docket(docket_name, store_url, signing_key=KEY) as docket:
        docket.register(job)
        yield docket
        await docket.store.destroy()
    if store_url.startswith("redis"):
        assert await leftover_keys(store_url, docket_name) == []
    _registry.pop((store_url, docket_name), None)


# -- the signer -----------------------------------------------------------------------------


def test_what_is_signed_verifies_and_anything_altered_or_unsigned_does_not() -> None:
    signer = Signer([KEY.encode()])
    signed = signer.sign(b"payload")
    assert len(signed) == len(b"payload") + TRAILER
    assert signer.verify(signed) == b"payload"
    assert signer.verify(b"payload") is None
    assert signer.verify(b"pAyload" + signed[7:]) is None
    assert signer.verify(signed[:-1] + bytes([signed[-1] ^ 1])) is None
    assert Signer([OLD_KEY.encode()]).verify(signed) is None


def test_a_rotation_signs_with_the_first_key_and_accepts_every_one() -> None:
    old = Signer([OLD_KEY.encode()]).sign(b"before")
    rotating = Signer([KEY.encode(), OLD_KEY.encode()])
    assert rotating.verify(old) == b"before"
    assert Signer([KEY.encode()]).verify(rotating.sign(b"after")) == b"after"


def test_keys_come_from_the_argument_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREW_SIGNING_KEY", f" {KEY} , {OLD_KEY} ")
    assert signing_keys(None) == [KEY.encode(), OLD_KEY.encode()]
    assert signing_keys(KEY) == [KEY.encode()]
    assert signing_keys([KEY.encode(), OLD_KEY]) == [KEY.encode(), OLD_KEY.encode()]
    monkeypatch.delenv("STREW_SIGNING_KEY")
    assert signing_keys(None) == []


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("short-secret", ValueError, r"signing_key\[0\] must be at least 16 bytes .*got 12"),
        ([KEY, 7], TypeError, r"signing_key\[1\] must be a str or bytes, got int"),
        (42, TypeError, "signing_key must be a str, bytes or a sequence of them, got int"),
    ],
)
def test_a_bad_key_is_refused_naming_the_argument_and_never_showing_the_key(
    value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        Docket("signing", "memory://signing-bad-key", signing_key=value)  # type: ignore[arg-type]
    assert "short-secret" not in str(raised.value)


def test_a_signed_docket_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREW_SIGNING_KEY", KEY)
    docket = Docket("signing", "memory://signing-from-env")
    assert docket.signed and isinstance(docket.store, SignedStore)
    assert not Docket("signing", "memory://signing-off", signing_key=[]).signed


# -- a signed docket at work ------------------------------------------------------------------


async def test_a_signed_docket_runs_its_tasks_and_reads_their_results(signed: Docket) -> None:
    execution = await signed.add(job, key="signed")({"nested": [1, 2]})
    async with Worker(signed) as worker:
        await worker.run_until_finished()
    assert ran == [{"nested": [1, 2]}]
    assert await execution.get_result() == "did {'nested': [1, 2]}"


async def test_an_unsigned_payload_planted_in_its_keys_is_quarantined_without_running(
    signed: Docket, tmp_path: Path
) -> None:
    proof = tmp_path / "ran"
    inner = signed.store.inner  # type: ignore[attr-defined]
    now = await inner.now()
    await inner.schedule([Entry("planted", now, planted(proof))], replace=False)
    await signed.add(job, key="honest")("fine")
    async with Worker(signed) as worker:
        await worker.run_until_finished()
    assert not proof.exists()
    assert ran == ["fine"] and worker.stats.quarantined == 1
    [task] = await signed.quarantined()
    assert task.key == "planted" and "signature does not verify" in task.reason


async def test_a_signed_payload_altered_in_the_store_is_quarantined(signed: Docket) -> None:
    inner = signed.store.inner  # type: ignore[attr-defined]
    body = dump_payload("job", ("small",), {}, await inner.now(), 1)
    forged = Signer([KEY.encode()]).sign(body).replace(b"small", b"SMALL")
    await inner.schedule([Entry("forged", await inner.now(), forged)], replace=False)
    async with Worker(signed) as worker:
        await worker.run_until_finished()
    assert ran == [] and worker.stats.quarantined == 1


async def test_tasks_signed_with_an_older_key_run_on_workers_that_rotated(
    store_url: str, docket_name: str, signed: Docket
) -> None:
    async with Docket(docket_name, store_url, signing_key=OLD_KEY) as before:
        await before.add(job, key="old")("from before")
    async with Docket(docket_name, store_url, signing_key=[KEY, OLD_KEY]) as rotated:
        rotated.register(job)
        async with Worker(rotated) as worker:
            await worker.run_until_finished()
    assert ran == ["from before"]


async def test_retries_scatters_and_perpetual_steps_stay_signed(signed: Docket) -> None:
    attempts: list[int] = []

    async def flaky(retry: Retry = Retry(attempts=3)) -> None:
        attempts.append(retry.attempt)
        if retry.attempt < 3:
            raise RuntimeError("again")

    signed.register(flaky)
    await signed.add(flaky, key="flaky")()
    agenda = Agenda()
    for n in range(3):
        agenda.add(job)(n)
    await agenda.scatter(signed, over=timedelta(milliseconds=30))
    async with Worker(signed, poll_ceiling=timedelta(milliseconds=50)) as worker:
        await worker.run_until_finished()
    assert attempts == [1, 2, 3] and sorted(ran) == [0, 1, 2]
    assert worker.stats.quarantined == 0


async def test_strike_rules_are_signed_and_a_planted_rule_is_never_unpickled(
    signed: Docket, tmp_path: Path
) -> None:
    proof = tmp_path / "ran"
    inner = signed.store.inner  # type: ignore[attr-defined]
    await inner.add_strike(pickle.dumps((1, "job", None, "==", Planted(proof))))
    await signed.add(job, key="held")("waits")
    await signed.strike(job)
    async with Worker(signed) as worker:
        await worker.run_until_finished()
    assert ran == [] and worker.stats.held == 1 and not proof.exists()
    await signed.restore(job)
    async with Worker(signed) as worker:
        await worker.run_until_finished()
    assert ran == ["waits"] and not proof.exists()
    _, rules = await inner.strikes()
    assert len(rules) == 1  # the planted one, left for a human: never read, never matched


async def test_the_function_names_at_the_start_of_a_signed_payload_are_still_counted(
    signed: Docket,
) -> None:
    await signed.add(job, when=await_later(), key="later")("x")
    counts = await signed.count_by_function()
    assert counts.scheduled.counts == {"job": 1}
    await signed.cancel("later")


def await_later() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC) + timedelta(hours=1)


async def test_a_docket_without_the_key_still_reads_what_a_signed_one_wrote(
    store_url: str, docket_name: str, signed: Docket
) -> None:
    """The trailer comes after the pickle, which pickle ignores: adding signing to the
    producers first, then to the workers, never strands a task."""
    await signed.add(job, key="signed")("either way")
    async with Docket(docket_name, store_url) as plain:
        plain.register(job)
        async with Worker(plain) as worker:
            await worker.run_until_finished()
    assert ran == ["either way"]


# -- views that cannot verify do not unpickle ---------------------------------------------------


async def test_an_unsigned_view_shows_plain_arguments_and_only_the_size_of_the_rest(
    docket: Docket, store_url: str, docket_name: str, tmp_path: Path
) -> None:
    proof = tmp_path / "ran"
    now = await docket.store.now()
    later = now + 3_600_000_000
    await docket.store.schedule(
        [
            Entry("plain", later, dump_payload("job", (1, "two"), {"three": 3.0}, later, 1)),
            Entry("planted", later + 1, planted(proof)),
        ],
        replace=False,
    )
    async with Docket(docket_name, store_url, load_arguments=False) as view:
        snapshot = await view.snapshot()
        shown = {e.key: e.call_repr(all_arguments=True) for e in snapshot.future}
        assert shown["plain"] == "job(1, 'two', three=3.0)"
        assert shown["planted"].startswith("job(<arguments not loaded: ")
        found = await view.get_execution("planted")
        assert found is not None and found.unloaded == len(planted(proof))
    assert not proof.exists()
    trusting = await docket.snapshot()  # the library's default: the caller trusts its Redis
    assert {e.key for e in trusting.future} == {"plain", "planted"}
    assert proof.exists()
