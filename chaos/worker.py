"""One chaos worker: ``python -m chaos.worker URL DOCKET LOG_DIR REDELIVERY CONCURRENCY``."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path

from strew import Docket, Worker

from .tasks import LOG_DIR_VARIABLE, chaos_hang, chaos_task


async def serve(url: str, name: str, redelivery: float, concurrency: int) -> None:
    async with Docket(name, url, heartbeat_interval=timedelta(seconds=1)) as docket:
        docket.register(chaos_task)
        docket.register(chaos_hang)
        worker = Worker(
            docket,
            concurrency=concurrency,
            redelivery_timeout=timedelta(seconds=redelivery),
            reconnection_delay=timedelta(seconds=0.5),
            shutdown_grace=timedelta(seconds=1),
        )
        await worker.run_forever()


def main() -> int:
    url, name, log_dir, redelivery, concurrency = sys.argv[1:6]
    os.environ[LOG_DIR_VARIABLE] = log_dir
    # Warnings (Redis down, leases lost) go to a file per worker for the post-mortem; the
    # failing-on-purpose tasks log at ERROR with a traceback, which is noise here.
    logging.basicConfig(
        filename=str(Path(log_dir) / f"worker-{os.getpid()}.err"),
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    asyncio.run(serve(url, name, float(redelivery), int(concurrency)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
