#!/usr/bin/env python3
"""Teams throughput: messages/s and p50/p99 latency at 50 concurrent clients, on loopback.

Each client posts message activities to ``/api/messages`` and waits for the 201, which botbuilder returns
after the reply has reached the (fake) Bot Connector. Three servers, each in its own process, against one
fake connector in another process, in the same run:

- stock:  a bare botbuilder echo bot (stock CloudAdapter + ConfigurationBotFrameworkAuthentication),
- pooled: the same echo bot on our adapter's authentication (pooled connector clients, sends on the loop),
- full:   our whole Teams bot (app.build_app, the core, SQLite) answering ``help`` with a card.

All run without an app id on loopback (no token round trips in either), so the difference is the
connector path. A last row runs the same ``help`` turns straight into the core (no HTTP): the ceiling
for any channel on that database. ``BENCH_DATABASE_URL`` picks the database (default: SQLite in a temp dir).
Usage: ``python bench/teams_bench.py [--seconds 10] [--clients 50]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = ("stock", "pooled", "full")


# ---------------------------------------------------------------------- servers (child processes)
def bench_settings():
    """A fresh database (``BENCH_DATABASE_URL`` or SQLite in a temp dir), no scheduler, nothing from .env."""
    from bot.config import Settings

    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    return Settings(database_url=database_url, scheduler_enabled=False)


def echo_bot():
    from botbuilder.core import ActivityHandler, MessageFactory, TurnContext

    class EchoBot(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext):
            await turn_context.send_activity(MessageFactory.text(f"Echo: {turn_context.activity.text}"))

    return EchoBot()


async def echo_app(variant: str):
    from aiohttp import web
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    class DefaultConfig:  # as in Microsoft's samples, without an app id (local testing)
        PORT = 3978
        APP_ID = ""
        APP_PASSWORD = ""
        APP_TYPE = "MultiTenant"
        APP_TENANTID = ""

    if variant == "stock":
        adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(DefaultConfig()))
    else:
        from adapters.teams.auth import PooledBotFrameworkAuthentication
        from bot.config import Settings

        adapter = CloudAdapter(PooledBotFrameworkAuthentication.from_settings(Settings()))
    bot = echo_bot()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


async def serve(variant: str) -> None:
    import logging

    from aiohttp import web

    logging.disable(logging.WARNING)  # the anonymous-mode warning is expected here
    if variant == "full":
        from app import build_app

        app = await build_app(bench_settings())
    else:
        app = await echo_app(variant)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


def serve_connector() -> None:
    from tests.fake_connector import FakeConnector

    fake = FakeConnector(record=False).start()
    print(fake.port, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    fake.stop()


def spawn(*args: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = process.stdout.readline()
    if not line.strip():
        raise RuntimeError(f"{args} did not start")
    return process, int(line)


# ---------------------------------------------------------------------- load
def activity(service_url: str, text: str) -> dict:
    return {"type": "message", "id": uuid.uuid4().hex, "serviceUrl": service_url, "channelId": "msteams",
            "from": {"id": "29:bench-user", "aadObjectId": "bench-user"},
            "conversation": {"id": "a:bench", "conversationType": "personal", "tenantId": "bench"},
            "recipient": {"id": "28:bench-bot", "name": "InfoShare"}, "text": text, "textFormat": "plain"}


async def load(port: int, service_url: str, text: str, clients: int, seconds: float) -> dict[str, float]:
    import aiohttp

    url = f"http://127.0.0.1:{port}/api/messages"
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def client(until: float, record: bool) -> None:
            nonlocal failures
            while time.perf_counter() < until:
                started = time.perf_counter()
                async with http.post(url, json=activity(service_url, text)) as response:
                    await response.read()
                    ok = response.status in (200, 201)
                if record:
                    latencies.append(time.perf_counter() - started) if ok else None
                    failures += 0 if ok else 1

        warm = time.perf_counter() + min(2.0, seconds / 4)
        await asyncio.gather(*(client(warm, False) for _ in range(clients)))
        started = time.perf_counter()
        await asyncio.gather(*(client(started + seconds, True) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rate": len(latencies) / elapsed, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000, "n": len(latencies), "failures": failures}


async def core_alone(clients: int, seconds: float) -> dict[str, float]:
    """The same ``help`` turns straight into Assistant.handle: the ceiling for any channel on this database."""
    import logging

    from app import build_assistant
    from bot.identity import Identity
    from bot.messages import IncomingTurn

    logging.disable(logging.WARNING)
    assistant = await build_assistant(bench_settings())
    bench = Identity("local", "bench")
    latencies: list[float] = []

    async def client(until: float) -> None:
        while time.perf_counter() < until:
            started = time.perf_counter()
            await assistant.handle(IncomingTurn(bench, bench, "help", message_id=uuid.uuid4().hex))
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client(started + seconds) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    await assistant.engine.dispose()
    latencies.sort()
    return {"rate": len(latencies) / elapsed, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000, "n": len(latencies), "failures": 0}


async def run(seconds: float, clients: int) -> int:
    connector, connector_port = spawn("--connector")
    service_url = f"http://127.0.0.1:{connector_port}/"
    results: dict[str, dict[str, float]] = {}
    try:
        for variant in VARIANTS:
            server, port = spawn("--serve", variant)
            try:
                text = "help" if variant == "full" else "hello"
                results[variant] = await load(port, service_url, text, clients, seconds)
            finally:
                server.terminate()
                server.wait(10)
    finally:
        connector.stdin.close()
        connector.wait(10)
    results["core"] = await core_alone(clients, seconds)
    labels = {"stock": "bare botbuilder echo (stock CloudAdapter)", "pooled": "echo on our Teams adapter",
              "full": "our Teams bot, full turn (help card)", "core": "  for reference: the core alone, no HTTP"}
    print(f"\nTeams /api/messages, {clients} concurrent clients, {seconds:g} s each, loopback, cpus={os.cpu_count()}")
    print(f"{'server':44} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'n':>7} {'errors':>6}")
    for variant, r in results.items():
        print(f"{labels[variant]:44} {r['rate']:8.1f} {r['p50']:8.1f} {r['p99']:8.1f} {r['n']:7d} {r['failures']:6d}")
    stock, pooled = results["stock"], results["pooled"]
    print(f"\nour adapter vs stock: {pooled['rate'] / stock['rate']:.1f}x throughput, "
          f"p99 {pooled['p99']:.0f} ms vs {stock['p99']:.0f} ms")
    print(f"full Teams turns run at {results['full']['rate'] / results['core']['rate']:.0%} of the core's own rate "
          f"on {os.environ.get('BENCH_DATABASE_URL', 'sqlite').split(':')[0]}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--connector", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.connector:
        serve_connector()
        return 0
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    return asyncio.run(run(args.seconds, args.clients))


if __name__ == "__main__":
    sys.exit(main())
