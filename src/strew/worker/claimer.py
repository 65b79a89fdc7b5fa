"""The claimer: takes due tasks under a lease, as many as there are free slots, starts a
runner for each, and otherwise sleeps until the earliest due time — woken early by the store
when an earlier task arrives. `step` is one claim; `loop` is the `while` around it.

A fleet does not wake whole (docs/workers.md, "How a fleet wakes"): each claim also keeps the
docket's *watch*, held by one worker with room at a time for `WATCH_LEASE` poll ceilings. The
watcher acts as a lone worker would: every wake-up, sleeping until the schedule's head. The
others with room are on standby: they ignore the broadcast wake-ups and sleep until handed
the watch (a watcher that fills up, or stops, hands it on to the first in line), or until
their turn to check that the watcher still lives, `STANDBY_CHECK` ceilings at most."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from strew.signals import metrics as instrumentation
from strew.stores.records import FATAL_STORE_ERRORS, Claim, ClaimResult, StoreError
from strew.task.clock import micros
from strew.worker.runner import Runner
from strew.worker.state import MICROS, Running, WorkerState, local_micros

logger = logging.getLogger("strew.worker")

FIRST_BACKOFF = 0.05
"""Seconds before the first retry of a claim the store refused; doubled up to the worker's
reconnection delay while it keeps refusing."""
CANCELLED_CLAIM_WAIT = 1.0
"""Seconds a cancelled worker waits for a claim already sent, to hand back what it took."""


WATCH_LEASE = 2
"""The watch lease, in poll ceilings: the watcher claims (and so renews it) at least once a
ceiling, so it survives one slow round; a dead watcher's lease lapses within it."""
STANDBY_CHECK = 4
"""The longest a standby worker sleeps, in poll ceilings, before checking the watch: the
n-th in line checks after n ceilings, at most this. Each check puts a worker at the back of
the line, so the fleet checks about once a ceiling at first, then N every STANDBY_CHECK
ceilings, spread out. A watcher that dies unannounced is replaced within WATCH_LEASE +
STANDBY_CHECK ceilings (6 s by default), usually within WATCH_LEASE + a fraction."""


AHEAD_MIN = 16
"""The fewest tasks a claim sent ahead asks for: below it (a worker of concurrency under
32) the second claim per batch costs the worker more than the overlap saves (measured:
concurrency 10 drained ~7% slower claiming 5 at a time ahead, 100 faster claiming 50)."""


@dataclass(frozen=True)
class Sent:
    """A claim on its way to the store."""

    reply: asyncio.Future[ClaimResult]
    limit: int
    sent: int
    """This machine's clock as it was sent (us)."""
    ahead: bool
    """Sent ahead of the runners of the claim before it (see `Claimer.step`)."""


class Claimer:
    def __init__(self, state: WorkerState, runner: Runner) -> None:
        self.state = state
        self.runner = runner
        self.backoff = FIRST_BACKOFF
        self._offset_rtt = 1 << 62  # the round trip the offset was measured over
        self._offset_age = 0
        # In a burst, at most half the slots per claim (rounded up), so that the next claim
        # can be on its way while the tasks of the last one run (see `step`); unless half
        # is too few to pay for the extra claims.
        half = (state.concurrency + 1) // 2
        self.batch = half if half >= AHEAD_MIN else state.concurrency
        self._bursting = False
        self._ahead: Sent | None = None
        """A claim sent ahead, before the runners of the last one started."""

    async def loop(self, group: asyncio.TaskGroup, forever: bool) -> None:
        """Claim until stopped (or, unless ``forever``, until the docket has nothing left)."""
        state = self.state
        self.backoff = FIRST_BACKOFF
        # Claim only once cancellations can reach us (a store that is down does not hold us
        # here for long: the claim below then fails and backs off).
        await self.wait_for(state.listening, state.reconnection_delay.total_seconds())
        try:
            while not state.stopping.is_set():
                free = state.concurrency - len(state.running)
                if free <= 0 and self._ahead is None:
                    state.slot_freed.clear()
                    await self.wait_for(state.slot_freed, state.poll_ceiling.total_seconds())
                    continue
                pause = await self.step(group, free, forever)
                if pause is None:
                    return
                if pause > 0:
                    await self.wait_for(state.wake, pause)
        finally:
            ahead, self._ahead = self._ahead, None
            if ahead is not None:  # stopped with a claim sent ahead: hand back what it took
                await self.hand_back_cancelled(ahead.reply)

    def send(self, limit: int, *, ahead: bool = False) -> Sent:
        """Send a claim of up to ``limit`` tasks. A wake-up from now on is one it may not
        have seen, so it counts from here (the claimer looks again rather than sleep)."""
        state = self.state
        state.wake.clear()
        state.passed_over = False
        sent = local_micros()
        reply = asyncio.ensure_future(
            state.store.claim(
                state.name,
                limit,
                micros(state.redelivery_timeout),
                micros(state.prefetch),
                watch=micros(state.poll_ceiling) * WATCH_LEASE,
            )
        )
        return Sent(reply, limit, sent, ahead)

    async def step(self, group: asyncio.TaskGroup, free: int, forever: bool) -> float | None:
        """One claim of up to ``free`` tasks, each started in ``group``. Returns how long to
        sleep before the next (0: claim again at once), or None when a worker that is not
        ``forever`` has nothing left to wait for.

        In a burst (the last claim took all it asked for), a claim asks for at most `batch`
        tasks, and one that takes them all while slots are still free sends the next claim
        before its runners start: the store answers it while they run, instead of the worker
        and the store taking turns (a drain of short tasks would otherwise leave each idle
        while the other works). Outside a burst a claim asks for every free slot, as the
        watch expects (a claim that fills hands the watch on; see claim.lua)."""
        state = self.state
        ceiling = state.poll_ceiling.total_seconds()
        claim, self._ahead = self._ahead, None
        if claim is None:
            claim = self.send(min(free, self.batch) if self._bursting else free)
        try:
            result = await asyncio.shield(claim.reply)
        except asyncio.CancelledError:
            await self.hand_back_cancelled(claim.reply)
            raise
        except FATAL_STORE_ERRORS:
            raise  # refused credentials, an evicting Redis: no retry mends them
        except StoreError as error:
            pause = self.backoff
            logger.warning(
                "worker %s could not claim tasks: %s; retrying in %.2fs", state.name, error, pause
            )
            self.backoff = min(pause * 2, state.reconnection_delay.total_seconds())
            return pause
        self.backoff = FIRST_BACKOFF
        if not claim.ahead:
            # A claim sent ahead is answered only once the runners before it have run: its
            # round trip says nothing of the store's clock.
            self.measure_offset(result.now, claim.sent, local_micros())
        instrumentation.record_depth(state.docket.name, result.due_now, result.scheduled)
        filled = self._bursting = len(result.claims) >= claim.limit
        if filled:
            room = state.concurrency - len(state.running) - len(result.claims)
            if room > 0:
                self._ahead = self.send(min(room, self.batch), ahead=True)
        try:
            for each in result.claims:
                self.start(group, each)
        except BaseException:
            ahead, self._ahead = self._ahead, None
            if ahead is not None:
                await self.hand_back_cancelled(ahead.reply)
            raise
        state.standby = result.standby > 0
        if not state.standby and state.passed_over:
            # Made the watcher by this claim, having ignored a wake-up while it was on its
            # way (a task added after the claim looked): look again rather than sleep.
            state.wake.set()
        if filled:
            return 0
        if (
            not forever
            and not state.running
            and not state.finished
            and result.scheduled == 0
            and result.running == 0
        ):
            return None
        if state.standby:
            return ceiling * min(result.standby, STANDBY_CHECK)
        if result.next_due is None:
            return ceiling
        delay = (result.next_due - micros(state.prefetch) - result.now) / MICROS
        return min(max(delay, 0.001), ceiling)

    async def hand_back_cancelled(self, claiming: asyncio.Future[ClaimResult]) -> None:
        """The worker was cancelled while a claim was on its way: the store may have made it
        already, leasing tasks to a worker about to stop. Wait briefly for the answer and
        hand back whatever it took (the worker flushes hand-backs as it stops), instead of
        leaving those tasks to their leases, minutes away."""
        done, _ = await asyncio.wait([claiming], timeout=CANCELLED_CLAIM_WAIT)
        if not done:
            claiming.cancel()  # a store that does not answer: the leases will lapse
            return
        if claiming.cancelled() or claiming.exception() is not None:
            return
        for claim in claiming.result().claims:
            self.state.hand_back(claim)

    def start(self, group: asyncio.TaskGroup, claim: Claim) -> None:
        """Hold ``claim`` and start its runner."""
        state = self.state
        state.stats.claimed += 1
        running = Running(claim)
        state.running[claim.token] = running
        runner = self.runner.execute(running)
        try:
            running.task = group.create_task(runner, name=f"strew task {claim.key}")
        except RuntimeError:
            # The group is shutting down (a part of the worker failed): the claim is left to
            # its lease, which lapses and lets another worker take it. The runner never
            # started, so close it rather than leave a never-awaited coroutine behind.
            runner.close()
            del state.running[claim.token]
            raise

    def measure_offset(self, store_now: int, sent: int, received: int) -> None:
        """Estimate the store's clock minus ours from a claim's round trip.

        The store read its clock somewhere within the round trip; the midpoint is off by at
        most half of it. A round trip stretched by a busy event loop would skew the estimate
        (and start tasks early), so only the fastest recent round trip sets it; a fresh
        measurement is taken every 200 claims anyway, so clock drift is followed."""
        rtt = received - sent
        self._offset_age += 1
        if rtt <= self._offset_rtt or self._offset_age > 200:
            self.state.offset = store_now - (sent + received) // 2
            self._offset_rtt = rtt
            self._offset_age = 0

    async def wait_for(self, event: asyncio.Event, timeout: float) -> None:
        """Wait until ``event`` or a stop request, at most ``timeout`` seconds."""
        waiters = [
            asyncio.ensure_future(event.wait()),
            asyncio.ensure_future(self.state.stopping.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
