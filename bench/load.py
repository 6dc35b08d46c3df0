#!/usr/bin/env python3
"""Load: every HTTP channel at 50 and 200 concurrent clients on loopback, beside a bare baseline.

For each channel and concurrency, the bot and a bare framework baseline run as separate server
processes, measured in the same run with the same client:

- web:   ``POST /api/chat`` on the whole bot (privacy guard, database, question engine) vs two bare
         aiohttp handlers: one that parses the JSON and answers a constant, and one that also does the
         minimum durable work of a turn, one SQLAlchemy insert into the same kind of database (the
         floor a question turn is compared with). The bot runs twice: question turns only, then with one
         client in five running decision walkthroughs to the end and pressing "Record this";
         afterwards the records in the database are counted against the confirmations the clients
         saw: "lost" must be 0.
- slack: signed message events (bench/slack_bench.py's servers, requests and fake Slack API) on the
         bot vs a bare slack-bolt app.
- teams: message activities (bench/teams_bench.py's servers and fake Bot Connector) on the bot vs a
         stock botbuilder echo bot.

Usage: ``python bench/load.py [--seconds 60] [--clients 50,200] [--channels web,slack,teams]
[--database-url postgresql://...] [--json]``. SQLite in a temp directory unless ``--database-url``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = (
    "do I need consent to refer to children's social care?",
    "can I share without consent if a child is at risk of significant harm?",
    "what is the lawful basis for sharing as a council?",
    "mum says don't tell social care, what do I do?",
    "do we need an ISA before sharing in an emergency?",
    "can I record on EHM without consent?",
    "what should I do before sharing with the police on the phone?",
    "is legitimate interests ok for a public authority?",
)
WALKER_EVERY = 5  # one web client in five walks through decisions and records them


# ---------------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def summarise(latencies: list[float], elapsed: float, errors: int, **extra) -> dict:
    ordered = sorted(latencies)
    return {"requests": len(ordered), "rps": len(ordered) / elapsed if elapsed else 0.0, "errors": errors,
            "p50_ms": statistics.median(ordered) * 1000 if ordered else 0.0,
            "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000 if ordered else 0.0, **extra}


async def wait_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server for {url} exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start in {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# ---------------------------------------------------------------------- the web chat
def serve_bare(port: int, database_url: str | None = None) -> None:
    """The baselines: the same framework, a handler that parses the request and answers a constant;
    with ``database_url``, the handler first inserts one row (the request's text) in its own transaction,
    through the bot's own engine settings (SQLite WAL, one pooled connection; or the PostgreSQL pool)."""
    from aiohttp import web

    engine = None

    async def chat(request: web.Request) -> web.Response:
        data = await request.json()
        if engine is not None:
            from sqlalchemy import insert

            from bot.storage.db import utcnow
            from bot.storage.tables import transcripts

            async with engine.begin() as conn:
                await conn.execute(insert(transcripts).values(
                    user_id=data.get("user", ""), conversation_id=data.get("user", ""), direction="in",
                    text=str(data.get("text", ""))[:4000], created_at=utcnow()))
        return web.json_response({"replies": [{"text": f"hello {data.get('user', '')}", "choices": []}]})

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def open_database(_app: web.Application) -> None:
        nonlocal engine
        from bot.storage.db import create_engine, migrate

        engine = create_engine(database_url)
        await migrate(engine)

    app = web.Application()
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/healthz", health)
    if database_url:
        app.on_startup.append(open_database)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def start_web_server(variant: str, database_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    if variant == "bare":
        args = [sys.executable, __file__, "--serve-bare", "--port", str(port)]
    elif variant == "insert":
        args = [sys.executable, __file__, "--serve-bare", "--port", str(port), "--bare-database-url", database_url]
    else:
        args = [sys.executable, "-c", "import sys, app; sys.exit(app.main())"]
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "DATABASE_URL": database_url,
           "SCHEDULER_ENABLED": "false", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "MicrosoftAppId"):
        env.pop(name, None)
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def error_messages() -> set[str]:
    """What the bot says when a turn failed on its side (from content/strings.yaml), whitespace-normalised."""
    import yaml

    errors = yaml.safe_load((ROOT / "content" / "strings.yaml").read_text(encoding="utf-8"))["errors"]
    return {" ".join(str(errors[key]).split()) for key in ("database", "internal") if key in errors}


async def web_load(base_url: str, clients: int, seconds: float, *, walkers: bool, tag: str) -> dict:
    """Drive ``/api/chat``; returns latencies and how many records the walkers saw confirmed."""
    import aiohttp

    from tests.servers import OWN_NAME, RECORD_CHOICE, WebChatUser, next_move, summary_of

    latencies: list[float] = []
    errors = 0
    confirmed = 0
    failure_texts = error_messages()
    stop_at = 0.0

    async def send(user: WebChatUser, **move) -> list[dict]:
        nonlocal errors
        started = time.perf_counter()
        try:
            replies = await user.send(base_url, **move)
        except (TimeoutError, AssertionError, aiohttp.ClientError, json.JSONDecodeError):
            errors += 1
            return []
        latencies.append(time.perf_counter() - started)
        if any(" ".join(reply.get("text", "").split()) in failure_texts for reply in replies):
            errors += 1  # answered, but with the "can't reach my records" / "something went wrong" message
        return replies

    async def asker(user: WebChatUser) -> None:
        while time.perf_counter() < stop_at:
            await send(user, text=random.choice(QUESTIONS))

    async def walker(user: WebChatUser) -> None:
        nonlocal confirmed
        await send(user, text=OWN_NAME)
        while time.perf_counter() < stop_at:
            replies = await send(user, text="decide")
            for _ in range(40):
                if summary_of(replies) is not None or not replies or time.perf_counter() >= stop_at:
                    break
                replies = await send(user, **next_move(replies))
            if summary_of(replies) is None:
                await send(user, text="cancel")
                continue
            done = await send(user, choice=RECORD_CHOICE)
            if done:
                confirmed += 1

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        users = [WebChatUser(session, f"local:{tag}-{n}") for n in range(clients)]
        warm_until = time.perf_counter() + min(2.0, seconds / 5)
        stop_at = warm_until
        await asyncio.gather(*(asker(u) for u in users))  # warm-up: pools, caches, first-contact rows
        latencies.clear()
        errors = 0
        started = time.perf_counter()
        stop_at = started + seconds
        await asyncio.gather(*(walker(u) if walkers and n % WALKER_EVERY == 0 else asker(u)
                               for n, u in enumerate(users)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "elapsed": elapsed, "errors": errors, "confirmed": confirmed,
            "users": [u.user for u in users]}


async def count_records(database_url: str, users: list[str]) -> int:
    from sqlalchemy import func, select

    from bot.storage.db import create_engine
    from bot.storage.tables import decision_records

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(decision_records).where(
                decision_records.c.user_id.in_(users))
            return (await conn.execute(query)).scalar_one()
    finally:
        await engine.dispose()


WEB_BARE, WEB_INSERT = "bare aiohttp", "bare aiohttp + 1 insert"
WEB_RUNS = (  # (server variant, row label, walkers?, the baseline the row is compared with)
    ("bare", WEB_BARE, False, None),
    ("insert", WEB_INSERT, False, None),
    ("ours", "bot: question turns", False, WEB_INSERT),
    ("ours", "bot: with walkthroughs", True, WEB_BARE),
)


async def bench_web(clients: int, seconds: float, database_url: str) -> list[dict]:
    rows = []
    for variant, label, walkers, baseline in WEB_RUNS:
        process, url = start_web_server(variant, database_url)
        try:
            await wait_up(f"{url}/healthz", process)
            tag = f"load{clients}-{int(time.time())}"
            result = await web_load(url, clients, seconds, walkers=walkers, tag=tag)
        finally:
            stop(process)
        extra: dict = {"baseline": baseline} if baseline else {}
        if walkers:
            stored = await count_records(database_url, result["users"])
            extra |= {"confirmed": result["confirmed"], "lost": max(0, result["confirmed"] - stored),
                      "duplicated": max(0, stored - result["confirmed"])}
        rows.append({"channel": "web /api/chat", "server": label, "clients": clients,
                     **summarise(result["latencies"], result["elapsed"], result["errors"], **extra)})
    return rows


# ---------------------------------------------------------------------- Slack and Teams (their benches' rigs)
async def bench_slack(clients: int, seconds: float, database_url: str) -> list[dict]:
    from bench import slack_bench

    fake = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_slack.py")], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    fake_url = fake.stdout.readline().strip()  # type: ignore[union-attr]
    rows = []
    try:
        for variant, label in (("bare", "bare slack-bolt"), ("ours", "bot")):
            port = free_port()
            process = slack_bench.start(["--serve", variant, "--port", str(port), "--fake", fake_url,
                                         "--database", database_url])
            url = f"http://127.0.0.1:{port}/slack/events"
            try:
                await slack_bench.wait_up(url)
                await slack_bench.load(url, "message event", min(2.0, seconds / 5), clients, fake_url)  # warm-up
                result = await slack_bench.load(url, "message event", seconds, clients, fake_url)
            finally:
                stop(process)
            rows.append({"channel": "slack message event", "server": label, "clients": clients,
                         **summarise(result["latencies"], result["elapsed"], result["errors"]),
                         **({"baseline": "bare slack-bolt"} if variant == "ours" else {})})
    finally:
        stop(fake)
    return rows


async def bench_teams(clients: int, seconds: float, database_url: str) -> list[dict]:
    from bench import teams_bench

    os.environ.setdefault("BENCH_DATABASE_URL", database_url)
    connector, connector_port = teams_bench.spawn("--connector")
    service_url = f"http://127.0.0.1:{connector_port}/"
    rows = []
    try:
        for variant, label, text in (("stock", "bare botbuilder echo", "hello"), ("full", "bot", "help")):
            server, port = teams_bench.spawn("--serve", variant)
            try:
                result = await teams_bench.load(port, service_url, text, clients, seconds)
            finally:
                stop(server)
            rows.append({"channel": "teams message activity", "server": label, "clients": clients,
                         "requests": result["n"], "rps": result["rate"], "errors": result["failures"],
                         "p50_ms": result["p50"], "p99_ms": result["p99"],
                         **({"baseline": "bare botbuilder echo"} if variant == "full" else {})})
    finally:
        with contextlib.suppress(Exception):
            connector.stdin.close()  # type: ignore[union-attr]
        stop(connector)
    return rows


CHANNELS = {"web": bench_web, "slack": bench_slack, "teams": bench_teams}


# ---------------------------------------------------------------------- report
def machine() -> str:
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.1f}")


def print_table(rows: list[dict], seconds: float, database: str) -> None:
    print(f"\nLoad on loopback, {seconds:g} s per row, database {database}; {machine()}\n")
    print(f"{'channel':<24} {'server':<26} {'clients':>7} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'errors':>6} {'vs baseline':>26} {'records':>8} {'lost':>5}")
    for row in rows:
        versus = ""
        if row.get("baseline"):
            ratio = ratio_to_baseline(rows, row)
            versus = f"{ratio:.2f}x {row['baseline']}" if ratio is not None else ""
        records = str(row.get("confirmed", "")) if "confirmed" in row else ""
        lost = str(row["lost"] + row["duplicated"]) if "lost" in row else ""
        print(f"{row['channel']:<24} {row['server']:<26} {row['clients']:>7} {row['requests']:>9} {row['rps']:>8.0f}"
              f" {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['errors']:>6} {versus:>26} {records:>8} {lost:>5}")
    print("\n'records' = decisions confirmed by the web clients; 'lost' = confirmed but not stored exactly once.")


def ratio_to_baseline(rows: list[dict], row: dict) -> float | None:
    """The row's throughput over its baseline's, measured in the same run at the same concurrency."""
    base = next((r for r in rows if r["channel"] == row["channel"] and r["clients"] == row["clients"]
                 and r["server"] == row.get("baseline")), None)
    return row["rps"] / base["rps"] if base and base["rps"] else None


async def run(seconds: float, clients: list[int], channels: list[str], database_url: str | None) -> list[dict]:
    tmp = tempfile.mkdtemp(prefix="load-bench-")
    rows: list[dict] = []
    for channel in channels:
        for count in clients:
            url = database_url or f"sqlite:///{tmp}/{channel}-{count}.db"
            try:
                rows += await CHANNELS[channel](count, seconds, url)
            except Exception as exc:  # noqa: BLE001 - one channel's rig failing must not hide the others' figures
                print(f"{channel} at {count} clients: not measured ({type(exc).__name__}: {exc})", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per server and row")
    parser.add_argument("--clients", default="50,200", help="comma-separated concurrency levels")
    parser.add_argument("--channels", default="web,slack,teams", help="any of web, slack, teams")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="default: a temporary SQLite file per row")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare-database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.port, args.bare_database_url)
        return 0
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    unknown = set(channels) - set(CHANNELS)
    if unknown:
        parser.error(f"unknown channel(s): {', '.join(sorted(unknown))}")
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    rows = asyncio.run(run(args.seconds, clients, channels, args.database_url))
    if args.json:
        print(json.dumps({"machine": machine(), "seconds": args.seconds, "rows": rows}))
    else:
        print_table(rows, args.seconds, (args.database_url or "sqlite").split(":", 1)[0])
    failed = any(row["errors"] or row.get("lost") or row.get("duplicated") for row in rows)
    return 1 if failed or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
