"""Resident memory of the running server (target: under 150 MB), beside a bare aiohttp server.

Starts ``python app.py`` on a free loopback port with a throwaway SQLite database, reads its RSS
when idle, drives questions and walkthrough steps from many users through the local web chat API,
and reads RSS again; then restarts it on the same, now up-to-date, database (as every start after the
first does) and measures again: the target is read on the restarted server, and the first start, which
also loads the migration tool, is shown beside it. The baseline is a bare aiohttp "hello" process started
the same way, in the same run. Usage: ``.venv/bin/python bench/server_memory.py [--requests 600]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.servers import session_token  # noqa: E402  (after the path: run as a script)

TARGET_MB = 150
BARE_APP = """
from aiohttp import web
async def hello(request):
    return web.json_response({"replies": [{"text": "hello"}]})
app = web.Application()
app.router.add_get("/healthz", hello)
app.router.add_post("/api/chat", hello)
web.run_app(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), print=None)
"""
QUESTIONS = ["do I need consent to refer?", "what is an ISA?", "can I share health information?",
             "what are the seven golden rules?", "should I tell the family?"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


async def drive(url: str, requests: int) -> None:
    async with aiohttp.ClientSession() as session:
        async def one(i: int) -> None:
            cookie = {"Cookie": f"infoshare_session={session_token(f'bench{i % 50}')}"}
            text = "decide" if i % 10 == 0 else QUESTIONS[i % len(QUESTIONS)]
            async with session.post(f"{url}/api/chat", json={"text": text}, headers=cookie) as response:
                await response.read()

        for start in range(0, requests, 25):
            await asyncio.gather(*(one(i) for i in range(start, min(start + 25, requests))))


async def measure(command: list[str], port: int, env: dict[str, str], requests: int) -> tuple[float, float]:
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url)
        idle = rss_mb(process.pid)
        await drive(url, requests)
        return idle, rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {**os.environ, "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
               "SCHEDULER_ENABLED": "false", "LOG_LEVEL": "WARNING"}
        first_idle, first_loaded = await measure([sys.executable, "app.py"], port, env, args.requests)
        bot_idle, bot_loaded = await measure([sys.executable, "app.py"], port, env, args.requests)
        bare_port = free_port()
        bare_idle, bare_loaded = await measure([sys.executable, "-c", BARE_APP, str(bare_port)], bare_port,
                                               dict(os.environ), args.requests)
    print(f"{'server':<22}{'idle RSS MB':>14}{'after ' + str(args.requests) + ' requests':>24}")
    print(f"{'bare aiohttp':<22}{bare_idle:>14.1f}{bare_loaded:>24.1f}")
    print(f"{'bot, first start':<22}{first_idle:>14.1f}{first_loaded:>24.1f}  (migrates the new database)")
    print(f"{'bot (SQLite)':<22}{bot_idle:>14.1f}{bot_loaded:>24.1f}  (restarted: the steady state)")
    verdict = "OK" if bot_loaded < TARGET_MB else "OVER"
    print(f"target: bot RSS under load < {TARGET_MB} MB -> {verdict} ({bot_loaded:.0f} MB)")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
