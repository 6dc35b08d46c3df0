#!/usr/bin/env python3
"""Slack ack throughput: requests/s and p50/p99 latency at 50 concurrent clients, on loopback.

Two servers, each in its own process, against one fake Slack Web API (tests/fake_slack.py) in another,
measured in the same run with the same signed requests:

- bare: a bare slack-bolt "hello" AsyncApp on aiohttp (``AsyncApp.web_app()``, defaults): the slash
  command acks "hello", the message event answers with ``say("hello")``;
- ours: the whole bot (``app.build_app``: signature + replay checks, the listeners, the core, SQLite),
  answering in the background after the ack.

Each client signs fresh requests (new event ids and trigger ids, so nothing is a duplicate) and waits
for the HTTP answer. Rounds alternate bare/ours so both see the same machine load. For ours, the
answers queued during a round are then timed until they have all reached the fake API ("drained");
the bot's SQLite database is on tmpfs when there is one, so that rate measures the bot, not the disk.
Usage: ``python bench/slack_bench.py [--seconds 6] [--clients 50] [--rounds 4] [--kinds ...]``.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slack_harness import SECRET, command_body, dm_event, event_body, sign  # noqa: E402

KINDS = ("slash command", "message event")
FORM = "application/x-www-form-urlencoded"
QUESTION = "do I need consent to refer to children's social care?"


# ---------------------------------------------------------------------- servers (child processes)
async def bare_app(fake_url: str):
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(client=AsyncWebClient(token="xoxb-test", base_url=fake_url), signing_secret=SECRET)

    @app.command("/infoshare")
    async def hello_command(ack):
        await ack("hello")

    @app.event("message")
    async def hello_message(say):
        await say("hello")

    return app.web_app(path="/slack/events")


async def our_app(fake_url: str, database_url: str):
    from app import build_app
    from bot.config import load_settings

    settings = load_settings(environ={"DATABASE_URL": database_url, "SLACK_SIGNING_SECRET": SECRET,
                                      "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_BASE_URL": fake_url,
                                      "LOG_LEVEL": "WARNING", "SCHEDULER_ENABLED": "false"},
                             env_file=Path(database_url.split("///", 1)[-1]).with_suffix(".env"))
    return await build_app(settings)


def serve(variant: str, port: int, fake_url: str, database_url: str) -> None:
    import logging

    from aiohttp import web

    logging.basicConfig(level=logging.WARNING)
    app = bare_app(fake_url) if variant == "bare" else our_app(fake_url, database_url)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, shutdown_timeout=60)


# ---------------------------------------------------------------------- the load
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def requests_for(kind: str, count: int, clients: int, fake_url: str) -> list[tuple[bytes, dict[str, str]]]:
    """Signed requests, made before the clock starts (one user per client, like real people)."""
    from tests.fake_slack import FakeSlack

    fake = FakeSlack()
    fake.port = int(fake_url.split(":")[2].split("/")[0])  # response_url values point at the running fake
    made = []
    for n in range(count):
        user = f"U{n % clients:04d}"
        if kind == "slash command":
            body, content_type = command_body(fake, "help", channel="C1", user=user), FORM
        else:
            body, content_type = event_body(dm_event(QUESTION, user=user)), "application/json"
        made.append((body.encode(), {"Content-Type": content_type, **sign(body)}))
    return made


async def load(url: str, kind: str, seconds: float, clients: int, fake_url: str) -> dict:
    import aiohttp

    prepared = requests_for(kind, int(seconds * 6000) + 1000, clients, fake_url)
    latencies: list[float] = []
    errors = 0
    stop_at = 0.0
    queue = iter(prepared)

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        for body, headers in queue:
            if time.perf_counter() >= stop_at:
                return
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        stop_at = started + seconds
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "elapsed": elapsed, "errors": errors}


def summarise(latencies: list[float], elapsed: float, errors: int) -> dict:
    latencies = sorted(latencies)
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "errors": errors,
            "p50": statistics.median(latencies) * 1000 if latencies else 0.0,
            "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000 if latencies else 0.0}


async def fake_calls(fake_url: str) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(fake_url.replace("/api/", "/stats")) as response:
        return (await response.json())["calls"]


async def drain_seconds(fake_url: str, quiet: float = 1.5, limit: float = 300.0) -> tuple[float, int]:
    """Seconds until the fake API stops receiving the queued answers, and how many calls arrived."""
    started = time.perf_counter()
    first = last = await fake_calls(fake_url)
    last_change = time.perf_counter()
    while time.perf_counter() - last_change < quiet and time.perf_counter() - started < limit:
        await asyncio.sleep(0.25)
        now = await fake_calls(fake_url)
        if now != last:
            last, last_change = now, time.perf_counter()
    return last_change - started, last - first


async def wait_up(url: str) -> None:
    import aiohttp

    for _ in range(200):
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                if response.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)


async def measure_kind(urls: dict[str, str], kind: str, seconds: float, clients: int, rounds: int,
                       fake_url: str) -> list[tuple]:
    """One request kind against both servers: a table row each (ours with what its answers drained)."""
    totals = {v: {"latencies": [], "elapsed": 0.0, "errors": 0} for v in ("bare", "ours")}
    drained = [0.0, 0]
    for round_ in range(rounds):  # alternate short rounds so both see the same machine load
        for variant in ("bare", "ours") if round_ % 2 == 0 else ("ours", "bare"):
            if round_ < 2:
                await load(urls[variant], kind, 0.5, clients, fake_url)  # warm-up: imports, auth.test, pools
            if variant == "ours":
                await drain_seconds(fake_url)
            result = await load(urls[variant], kind, seconds / rounds, clients, fake_url)
            for key in ("latencies", "elapsed", "errors"):
                totals[variant][key] += result[key]
            if variant == "ours":
                drain, delivered = await drain_seconds(fake_url)
                drained = [drained[0] + drain, drained[1] + delivered]
    return [(kind, variant, summarise(**totals[variant]), *(drained if variant == "ours" else (0, 0)))
            for variant in ("bare", "ours")]


async def main(seconds: float, clients: int, rounds: int, kinds: list[str]) -> None:
    fake = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_slack.py")], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    fake_url = fake.stdout.readline().strip()  # type: ignore[union-attr]
    # SQLite on tmpfs where there is one: the answers' fsyncs then measure the bot, not this disk
    tmp = tempfile.mkdtemp(prefix="slack-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    try:
        for variant in ("bare", "ours"):
            port = free_port()
            proc = start(["--serve", variant, "--port", str(port), "--fake", fake_url,
                          "--database", f"sqlite:///{tmp}/bench.db"])
            servers[variant] = (proc, f"http://127.0.0.1:{port}/slack/events")
            await wait_up(f"http://127.0.0.1:{port}/slack/events")
        rows = []
        for kind in kinds:
            rows += await measure_kind({v: url for v, (_, url) in servers.items()}, kind, seconds, clients, rounds,
                                       fake_url)
        print_table(rows, clients, seconds)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        fake.terminate()
        fake.wait(10)


def print_table(rows, clients: int, seconds: float) -> None:
    print(f"\nSlack acks on loopback, {clients} concurrent clients, {seconds:g} s per row "
          f"(alternating rounds), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n")
    print(f"{'request':<15} {'server':<6} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
          f" {'vs bare':>16} {'answers drained':>18}")
    bare: dict[str, dict] = {}
    for kind, variant, r, drain, delivered in rows:
        if variant == "bare":
            bare[kind] = r
            versus = ""
            drained = ""
        else:
            b = bare[kind]
            versus = f"{r['rps'] / b['rps']:.2f}x / p99 {r['p99'] / b['p99']:.2f}x"
            drained = f"{delivered} calls in {drain:.1f}s"
        print(f"{kind:<15} {variant:<6} {r['requests']:>9} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
              f"{r['errors']:>7} {versus:>16} {drained:>18}")
    print("\ntarget: ours >= 0.8x bare req/s, p99 <= 1.25x bare, no errors")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per server and kind")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4, help="alternating bare/ours rounds per request kind")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--serve", choices=("bare", "ours"))
    parser.add_argument("--port", type=int)
    parser.add_argument("--fake")
    parser.add_argument("--database")
    options = parser.parse_args()
    if options.serve:
        serve(options.serve, options.port, options.fake, options.database)
    else:
        asyncio.run(main(options.seconds, options.clients, options.rounds, options.kinds))
