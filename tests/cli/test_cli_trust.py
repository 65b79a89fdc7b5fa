"""The strew command never unpickles what it cannot verify: on an unsigned docket it shows
plain arguments and results, and anything else only by its size, unless told
``--load-arguments``; with ``STREW_SIGNING_KEY`` it shows what verifies."""

from __future__ import annotations

import os
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from strew import Docket, Worker
from strew.stores import Store
from strew.stores.records import Entry
from strew.task.envelope import dump_payload

from .test_cli import strew

KEY = "k" * 32


class Planted:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (os.mkdir, (str(self.path),))


class Point:
    """A value of the user's own class: not plain, so an unsigned view shows only its size."""

    def __init__(self, x: int) -> None:
        self.x = x

    def __repr__(self) -> str:
        return f"Point({self.x})"


async def plant(store: Store, proof: Path) -> None:
    """A plain task, and one as an attacker with write access would plant it."""
    later = await store.now() + 3_600_000_000
    planted = pickle.dumps((1, "job", (Planted(proof),), {}, 0, 1, None))
    await store.schedule(
        [
            Entry("plain", later, dump_payload("job", (1, "two"), {}, later, 1)),
            Entry("planted", later + 1, planted),
        ],
        replace=False,
    )


async def test_snapshot_of_an_unsigned_docket_never_runs_a_planted_payload(
    redis_docket: Docket, redis_url: str, tmp_path: Path
) -> None:
    proof = tmp_path / "ran"
    await plant(redis_docket.store, proof)
    result = await strew("snapshot", "--url", redis_url, "--docket", redis_docket.name)
    assert result.code == 0, result.err
    assert "(1, 'two')" in result.out
    assert "(<arguments not loaded: " in result.out
    assert not proof.exists()


async def test_load_arguments_unpickles_what_the_operator_chose_to_trust(
    redis_docket: Docket, redis_url: str, tmp_path: Path
) -> None:
    proof = tmp_path / "ran"
    await plant(redis_docket.store, proof)
    result = await strew(
        "snapshot", "--url", redis_url, "--docket", redis_docket.name, "--load-arguments"
    )
    assert result.code == 0, result.err
    assert proof.exists()  # the flag's help says exactly this: it runs what the bytes name


async def test_with_the_signing_key_the_command_shows_what_verifies_only(
    redis_url: str, docket_name: str, tmp_path: Path
) -> None:
    proof = tmp_path / "ran"
    async with Docket(docket_name, redis_url, signing_key=KEY) as signed:

        async def job(path: PurePosixPath) -> None: ...

        signed.register(job)
        when = datetime.now(UTC) + timedelta(hours=1)
        # Not a plain value, but one the command's process can import: shown once verified.
        await signed.add(job, when=when, key="mine")(PurePosixPath("/srv/data"))
        await plant(signed.store.inner, proof)  # type: ignore[attr-defined]
        try:
            env = {"STREW_SIGNING_KEY": KEY}
            result = await strew("snapshot", "--url", redis_url, "--docket", docket_name, env=env)
            assert result.code == 0, result.err
            assert "(PurePosixPath('/srv/data'))" in result.out  # verified: loaded
            assert "<corrupt>" in result.out  # planted, unsigned: not read at all
            assert not proof.exists()
        finally:
            await signed.store.destroy()


async def test_watch_shows_a_plain_result_and_only_the_size_of_another(
    redis_docket: Docket, redis_url: str
) -> None:
    async def plain() -> int:
        return 42

    async def mine() -> Point:
        return Point(3)

    redis_docket.register(plain)
    redis_docket.register(mine)
    await redis_docket.add(plain, key="plain")()
    await redis_docket.add(mine, key="mine")()
    async with Worker(redis_docket) as worker:
        await worker.run_until_finished()
    args = ("--url", redis_url, "--docket", redis_docket.name, "--no-follow")
    shown = await strew("watch", "plain", *args)
    assert "42" in shown.out, shown.err
    hidden = await strew("watch", "mine", *args)
    assert "not loaded:" in hidden.out and "Point(3)" not in hidden.out, hidden.err
    loaded = await strew("watch", "mine", *args, "--load-arguments")
    assert "cannot be read here" in loaded.out or "Point(3)" in loaded.out, loaded.err
