#!/usr/bin/env python3
"""CPU per question turn in-process: many web-chat question turns straight into ``Assistant.handle``.

No HTTP and no client in the way: what the core itself costs per turn (all threads, including the
database driver's), and with ``--profile`` where it goes (cProfile, main thread, by cumulative time).
SQLite in a temp directory unless ``BENCH_DATABASE_URL`` is set.
Usage: ``python bench/turn_cpu.py [--turns 2000] [--clients 50] [--profile]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import QUESTIONS  # noqa: E402 - after the path is set


async def run(turns: int, clients: int, profile: bool) -> None:
    from app import build_assistant
    from bench.teams_bench import bench_settings
    from bot.identity import Identity
    from bot.messages import IncomingTurn

    logging.disable(logging.WARNING)
    os.environ.setdefault("BENCH_DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='turn-cpu-')}/bench.db")
    assistant = await build_assistant(bench_settings())
    people = [Identity("local", f"web-bench{n}") for n in range(clients)]
    sent = 0

    async def client(who: Identity, count: int) -> None:
        nonlocal sent
        for _ in range(count):
            sent += 1
            await assistant.handle(IncomingTurn(user=who, conversation=who, text=random.choice(QUESTIONS),
                                                message_id=f"{who.id}:{sent}"))

    await asyncio.gather(*(client(who, 4) for who in people))  # warm-up: first contact, caches
    profiler = cProfile.Profile()
    per_client = max(1, turns // clients)
    cpu, wall = time.process_time(), time.perf_counter()
    if profile:
        profiler.enable()
    await asyncio.gather(*(client(who, per_client) for who in people))
    if profile:
        profiler.disable()
    cpu, wall, done = time.process_time() - cpu, time.perf_counter() - wall, per_client * clients
    await assistant.close()
    print(f"{done} question turns, {clients} concurrent: {cpu / done * 1000:.2f} ms CPU per turn (all threads), "
          f"{done / wall:.0f} turns/s; load average {os.getloadavg()[0]:.1f}"
          + (" (under cProfile: slower)" if profile else ""))
    if profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the measured turns")
    args = parser.parse_args()
    asyncio.run(run(args.turns, args.clients, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
