"""Background work that lives as long as the server, and stops cleanly when it does.

aiohttp's shutdown order on SIGTERM is: stop listening, ``on_shutdown``, wait for in-flight
requests (``shutdown_timeout``), then ``on_cleanup`` (where the database engine is disposed). A
background task registered here is asked to stop first thing in ``on_cleanup``, by setting its
``stop`` event: by then every in-flight request has finished, so work they queued is not lost; the
task finishes the unit of work in hand (a reminder send, a queued answer) and returns, releasing any
lease it holds, before the engine goes away. Only a task that ignores the event past ``grace``
seconds is cancelled.

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await do_one_batch()
            await sleep_or_stop(stop, 30)

    add_background_task(app, "reminders", run)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

TaskFactory = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
BACKGROUND = web.AppKey("background_tasks", dict)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until asked to stop; True when it is time to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def every(seconds: float, job: Callable[[], Awaitable[object]], *, name: str,
          first_delay: float = 0.0) -> TaskFactory:
    """A task factory that runs ``job`` every ``seconds``; a failing run is logged, the loop goes on."""

    async def run(stop: asyncio.Event) -> None:
        if first_delay and await sleep_or_stop(stop, first_delay):
            return
        while not stop.is_set():
            try:
                await job()
            except Exception as exc:  # noqa: BLE001 - a failed run must not end the schedule
                log.error("background job failed", extra={"job": name, "reason": f"{type(exc).__name__}: {exc}"})
            if await sleep_or_stop(stop, seconds):
                return

    return run


def add_background_task(app: web.Application, name: str, factory: TaskFactory, *, grace: float = 10.0) -> None:
    """Start ``factory(stop)`` when the server starts; ask it to stop, then await it, on shutdown."""
    if BACKGROUND not in app:
        app[BACKGROUND] = {}
        app.on_cleanup.insert(0, _stop_all)  # before the engine and API clients are closed
    stop = asyncio.Event()

    async def _start(_app: web.Application) -> None:
        app[BACKGROUND][name] = (asyncio.create_task(factory(stop), name=name), stop, grace)
        log.info("background task started", extra={"task": name})

    app.on_startup.append(_start)


async def _stop_all(app: web.Application) -> None:
    tasks = app[BACKGROUND]
    for _task, stop, _grace in tasks.values():
        stop.set()
    for name, (task, _stop, grace) in list(tasks.items()):
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            log.warning("background task did not stop in time; cancelling", extra={"task": name})
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - logged; shutdown goes on for the other tasks
            log.error("background task ended with an error", extra={"task": name, "reason": type(exc).__name__})
        log.info("background task stopped", extra={"task": name})
    tasks.clear()
