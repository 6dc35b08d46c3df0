"""Work done after the ack: Slack wants an HTTP answer within 3 seconds, the real answer can follow.

Listeners ack at once and queue the turn here. A few workers run the queue. While requests keep
arriving (none for ``quiet`` seconds means the burst is over) a job waits, at most ``max_defer``
seconds, and overdue jobs then run one at a time, so under a burst the acks go first: a slow ack
makes Slack retry, which only adds load. On shutdown the queue is drained before
the database closes, so nothing that was acknowledged is silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class WorkQueue:
    def __init__(self, workers: int = 8, max_defer: float = 2.0, quiet: float = 0.05):
        self.workers = workers
        self.max_defer = max_defer
        self.quiet = quiet  # no request for this long = the acks are done, answers may run
        self._last_request = 0.0
        self._overdue = asyncio.Lock()  # under a sustained burst, one job at a time still gets through
        self._queue: asyncio.Queue[tuple[str, Job] | None] = asyncio.Queue()
        self._urgent: set[asyncio.Task] = set()

    def request_arrived(self) -> None:
        self._last_request = time.monotonic()

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
                if await self._wait_for_quiet():
                    await self._run(*item)
                else:
                    async with self._overdue:
                        await self._run(*item)
            finally:
                self._queue.task_done()

    async def _wait_for_quiet(self) -> bool:
        """True once no request has arrived for ``quiet`` seconds; False if that took over ``max_defer``."""
        deadline = time.monotonic() + self.max_defer
        while (waited := time.monotonic() - self._last_request) < self.quiet:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(self.quiet - waited)
        return True

    async def _run(self, name: str, job: Job) -> None:
        try:
            await job()
        except Exception as exc:  # one failed job must never stop the workers
            log.error("slack job failed", extra={"job": name, "reason": f"{type(exc).__name__}: {exc}"},
                      exc_info=not isinstance(exc, (OSError, TimeoutError)))
