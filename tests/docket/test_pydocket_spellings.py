"""pydocket's module paths work with only ``docket`` changed to ``strew`` (its examples import
from ``docket.execution``, ``docket.annotations`` and ``docket.dependencies``)."""

from __future__ import annotations

from typing import Annotated

from strew import Docket, Worker
from strew.annotations import Logged
from strew.dependencies import CurrentDocket, CurrentWorker
from strew.execution import Execution, ExecutionState
from strew.strikelist import StrikeList


async def test_the_markers_pydocket_keeps_in_its_dependencies_module_work(docket: Docket) -> None:
    seen: list[object] = []

    async def where(
        n: Annotated[int, Logged],
        current: Docket = CurrentDocket(),
        worker: Worker = CurrentWorker(),
    ) -> None:
        seen.extend([current, worker])

    execution = await docket.add(where)(1)
    assert isinstance(execution, Execution)
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert seen == [docket, worker]
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED
    assert StrikeList.__name__ == "StrikeList"
