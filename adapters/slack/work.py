"""Work done after the ack: Slack wants an HTTP answer within 3 seconds, the real answer can follow.

Listeners ack at once and queue the turn here. A few workers run the queue; while requests are in
flight a worker waits (at most ``max_defer`` seconds per job) so that under a burst the acks go
first: a slow ack makes Slack retry, which only adds load. On shutdown the queue is drained before
the database closes, so nothing that was acknowledged is silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class WorkQueue:
    def __init__(self, workers: int = 8, max_defer: float = 2.0):
        self.workers = workers
        self.max_defer = max_defer
        self._inflight = 0  # HTTP requests being acked right now
        self._no_acks_waiting = asyncio.Event()
        self._no_acks_waiting.set()
        self._overdue = asyncio.Lock()  # under a sustained burst, one job at a time still gets through
        self._queue: asyncio.Queue[tuple[str, Job] | None] = asyncio.Queue()
        self._urgent: set[asyncio.Task] = set()

    def submit(self, name: str, job: Job) -> None:
        self._queue.put_nowait((name, job))

    def submit_now(self, name: str, job: Job) -> None:
        """For work with its own deadline (a modal must open within 3 s of the click): run at once."""
        task = asyncio.create_task(self._run(name, job), name=f"slack:{name}")
        self._urgent.add(task)
        task.add_done_callback(self._urgent.discard)

    @property
    def pending(self) -> int:
        return self._queue.qsize() + len(self._urgent)

    async def idle(self) -> None:
        """Wait until everything queued so far is done (tests and the benchmark use this)."""
        await self._queue.join()
        while self._urgent:
            await asyncio.gather(*list(self._urgent), return_exceptions=True)

    async def run(self, stop: asyncio.Event) -> None:
        """The background task: run workers until asked to stop, then finish what is queued."""
        tasks = [asyncio.create_task(self._worker(), name=f"slack-worker-{n}") for n in range(self.workers)]
        await stop.wait()
        for _ in tasks:
            self._queue.put_nowait(None)  # after every queued job, so the queue drains first
        await asyncio.gather(*tasks)
        if self._urgent:
            await asyncio.gather(*list(self._urgent), return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                await self._run_after_acks(*item)
            finally:
                self._queue.task_done()

    def request_started(self) -> None:
        self._inflight += 1
        self._no_acks_waiting.clear()

    def request_finished(self) -> None:
        self._inflight -= 1
        if self._inflight == 0:
            self._no_acks_waiting.set()

    async def _run_after_acks(self, name: str, job: Job) -> None:
        """Run ``job`` when no ack is waiting; past ``max_defer``, run it anyway, one such job at a time."""
        try:
            await asyncio.wait_for(self._no_acks_waiting.wait(), self.max_defer)
        except TimeoutError:
            async with self._overdue:
                await self._run(name, job)
            return
        await self._run(name, job)

    async def _run(self, name: str, job: Job) -> None:
        try:
            await job()
        except Exception as exc:  # one failed job must never stop the workers
            log.error("slack job failed", extra={"job": name, "reason": f"{type(exc).__name__}: {exc}"},
                      exc_info=not isinstance(exc, (OSError, TimeoutError)))
