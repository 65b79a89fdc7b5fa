"""Catch-up after an outage: how many tasks start per second when workers come back?

3,000 tasks (``--tasks``) are scattered over 30 s (``--seconds``); ``--workers`` workers (one
by default) of ``--concurrency`` each run them until second 10, no worker runs from 10 to 20
(``--down 10 20``), then as many fresh workers, all at once, run the rest.
The same experiment runs once per catch-up policy — run late (the default, and what a system
without catch-up does), re-spread at the planned rate, re-spread at 1.5x, skip tasks more than
2 s late — on the memory store and on a throwaway Redis.
Reported: the peak one-second start count after recovery against the planned rate, tasks
started, skipped and run twice, tasks re-timed and late claims handed back into a re-spread,
the last start, and a histogram of starts per second.

strew only: pydocket has no catch-up policy, and its behaviour after an outage is the
run-late row (everything overdue is due at once).

    .venv/bin/python -m bench.catch_up [--tasks 3000] [--seconds 30] [--down 10 20]
        [--workers 1] [--concurrency 10] [--stores memory redis]

Several workers returning at once each hold up to ``--concurrency`` overdue claims: the
run-late row then floods harder, and the re-spread rows show that those claims go back into
the re-spread instead of starting at once (``--workers 4 --concurrency 50``).

One run per policy and store whatever ``--runs`` says: each takes 30 to 40 s of wall time.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from bench import common
from strew import CatchUp, Docket
from tests.outage import OutageRun, run_outage

NAME = "catch_up"

POLICIES: list[tuple[str, CatchUp | None]] = [
    ("run late", None),
    ("re-spread", CatchUp.respread(after=timedelta(seconds=1))),
    ("re-spread 1.5x", CatchUp.respread(after=timedelta(seconds=1), speed=1.5)),
    ("skip > 2s", CatchUp.skip(older_than=timedelta(seconds=2))),
]


async def one(url: str, policy: CatchUp | None, args: Any) -> OutageRun:
    name = f"bench-catch-up-{uuid.uuid4().hex[:8]}"
    async with Docket(name, url) as docket:
        try:
            return await run_outage(
                docket,
                policy,
                tasks=args.tasks,
                seconds=args.seconds,
                down=(args.down[0], args.down[1]),
                workers=args.workers,
                concurrency=args.concurrency,
            )
        finally:
            await docket.store.destroy()


def summary(store: str, label: str, run: OutageRun) -> dict[str, Any]:
    return {
        "store": store,
        "policy": label,
        "planned_rate_per_s": round(run.planned_rate, 1),
        "peak_per_s_after_recovery": run.peak_after_recovery(),
        "peak_over_planned": round(run.peak_after_recovery() / run.planned_rate, 2),
        "started": run.started,
        "skipped": run.skipped,
        "lost": run.tasks - run.started - run.skipped,
        "ran_twice": run.duplicates,
        "retimed": run.retimed,
        "handed_back": run.handed_back,
        "last_start_s": round(run.last_start, 2),
        "starts_per_second": run.per_second(),
    }


async def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=3000)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--down", type=float, nargs=2, default=[10.0, 20.0], metavar=("FROM", "TO"))
    p.add_argument("--workers", type=int, default=1, help="workers before and after the outage")
    p.add_argument("--concurrency", type=int, default=10, help="of each worker")
    p.add_argument("--stores", nargs="+", choices=["memory", "redis"], default=["memory", "redis"])
    p.set_defaults(runs=1)
    args = p.parse_args()
    # The skip policy logs a warning per skipped task; hundreds of lines would bury the table.
    logging.getLogger("strew.worker").setLevel(logging.ERROR)
    rows: list[dict[str, Any]] = []
    with common.redis_server(args.url) as url:
        for store in args.stores:
            for label, policy in POLICIES:
                own = f"memory://bench-catch-up-{uuid.uuid4().hex[:8]}"
                target = own if store == "memory" else url
                print(f"{store:6} {label:14} ...", flush=True)
                row = summary(store, label, await one(target, policy, args))
                rows.append(row)
                title = (
                    f"{store}, {label}, {args.workers} x {args.concurrency}: starts per second "
                    f"(down {args.down[0]:g}-"
                    f"{args.down[1]:g}s; peak after recovery {row['peak_per_s_after_recovery']} "
                    f"= {row['peak_over_planned']}x the planned {row['planned_rate_per_s']}/s)"
                )
                print(common.histogram(title, row["starts_per_second"]), flush=True)
        print()
        print(
            f"{'store':7}{'policy':15}{'peak/s':>7}{'x plan':>7}{'started':>8}{'skipped':>8}"
            f"{'lost':>5}{'twice':>6}{'retimed':>8}{'back':>6}{'last':>7}"
        )
        for row in rows:
            print(
                f"{row['store']:7}{row['policy']:15}{row['peak_per_s_after_recovery']:>7}"
                f"{row['peak_over_planned']:>7}{row['started']:>8}{row['skipped']:>8}"
                f"{row['lost']:>5}{row['ran_twice']:>6}{row['retimed']:>8}"
                f"{row['handed_back']:>6}{row['last_start_s']:>6}s"
            )
        common.save(NAME, args, url, {"results": rows})


if __name__ == "__main__":
    common.run(main())
