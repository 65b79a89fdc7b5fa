"""One chaos worker process: ``python -m chaos.worker URL DOCKET LOG_DIR REDELIVERY``."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path

from strew import Docket, Worker

from .tasks import LOG_DIR_VARIABLE, chaos_task


async def serve(url: str, name: str, redelivery: float) -> None:
    async with Docket(name, url, heartbeat_interval=timedelta(seconds=1)) as docket:
        docket.register(chaos_task)
        worker = Worker(
            docket,
            concurrency=25,
            redelivery_timeout=timedelta(seconds=redelivery),
            reconnection_delay=timedelta(seconds=0.5),
            shutdown_grace=timedelta(seconds=1),
        )
        await worker.run_forever()


def main() -> int:
    url, name, log_dir, redelivery = sys.argv[1:5]
    os.environ[LOG_DIR_VARIABLE] = log_dir
    # Warnings (Redis down, leases lost) go to a file per worker for the post-mortem; the
    # failing-on-purpose tasks log at ERROR with a traceback, which is noise here.
    logging.basicConfig(
        filename=str(Path(log_dir) / f"worker-{os.getpid()}.err"),
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    asyncio.run(serve(url, name, float(redelivery)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
