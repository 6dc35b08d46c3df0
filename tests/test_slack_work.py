"""The after-ack work queue: answers wait while acks are busy, never forever, and none are lost at shutdown."""

from __future__ import annotations

import asyncio

from adapters.slack.work import WorkQueue


async def test_jobs_wait_for_a_quiet_moment_but_not_forever():
    work = WorkQueue(workers=2, max_defer=0.3, quiet=0.05)
    stop = asyncio.Event()
    runner = asyncio.create_task(work.run(stop))
    done: list[float] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    work.submit("a", lambda: _record(done, loop))

    async def busy_acks() -> None:  # requests every 10 ms for 0.6 s: never quiet
        while loop.time() - started < 0.6:
            work.request_arrived()
            await asyncio.sleep(0.01)

    await busy_acks()
    await work.idle()
    assert len(done) == 1
    assert 0.25 <= done[0] - started < 0.6
    work.request_arrived()
    work.submit("b", lambda: _record(done, loop))
    await work.idle()
    assert done[1] - done[0] < 0.6  # no burst: runs after the short quiet period
    stop.set()
    await runner


async def test_stopping_drains_the_queue_first():
    work = WorkQueue(workers=1, max_defer=0.1, quiet=0.0)
    stop = asyncio.Event()
    runner = asyncio.create_task(work.run(stop))
    done: list[float] = []
    loop = asyncio.get_running_loop()
    for _ in range(5):
        work.submit("x", lambda: _record(done, loop))
    stop.set()
    await runner
    assert len(done) == 5


async def test_a_failing_job_does_not_stop_the_workers():
    work = WorkQueue(workers=1, max_defer=0.1, quiet=0.0)
    stop = asyncio.Event()
    runner = asyncio.create_task(work.run(stop))
    done: list[float] = []
    loop = asyncio.get_running_loop()

    async def broken() -> None:
        raise RuntimeError("boom")

    work.submit("broken", broken)
    work.submit("fine", lambda: _record(done, loop))
    await work.idle()
    assert len(done) == 1
    stop.set()
    await runner


async def _record(done: list[float], loop) -> None:
    done.append(loop.time())
