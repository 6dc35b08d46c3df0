"""Faults, for real: kill -9 a replica mid-walkthrough, and lose the database for 10 seconds.

The database outage is staged with a TCP proxy on loopback that this test owns (the machine's
PostgreSQL is never stopped): the server talks to PostgreSQL through it, the proxy drops every
connection and refuses new ones for 10 s, then comes back. The user sees the clear "can't reach my
records" message, never an error page; once the database is back the bot answers within seconds;
no confirmed record is lost or stored twice.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
import yaml
from sqlalchemy import func, select

from bot.storage.db import create_engine
from bot.storage.tables import decision_records
from tests.servers import (
    OWN_NAME,
    RECORD_CHOICE,
    CuttableProxy,
    ServerProcess,
    WebChatUser,
    next_move,
    require_walkthrough,
    start_all,
    walk_to_summary,
)

ROOT = Path(__file__).resolve().parent.parent
OUTAGE_SECONDS = 10
RECOVERY_LIMIT_SECONDS = 5


def _database_message() -> str:
    strings = yaml.safe_load((ROOT / "content" / "strings.yaml").read_text())
    return " ".join(strings["errors"]["database"].split())


async def _count_records(url: str, user: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(decision_records).where(decision_records.c.user_id == user)
            return (await conn.execute(query)).scalar_one()
    finally:
        await engine.dispose()


async def _require_chat(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}/api/chat") as probe:
        if probe.status == 404:
            pytest.skip("the local web chat API (/api/chat) is not mounted yet")


async def test_kill_9_mid_walkthrough_resumes_on_the_other_replica(pg_url, tmp_path):
    await require_walkthrough(tmp_path)
    doomed = ServerProcess(pg_url, tmp_path / "doomed.log")
    survivor = ServerProcess(pg_url, tmp_path / "survivor.log")
    try:
        await start_all(doomed, survivor)
        async with aiohttp.ClientSession() as session:
            user = WebChatUser(session, "local:killed-mid-way")
            await user.send(doomed.url, text=OWN_NAME)
            replies = await user.send(doomed.url, text="decide")
            replies = await user.send(doomed.url, **next_move(replies))  # one answer in, then the crash
            doomed.kill()
            summary, _steps = await walk_to_summary(lambda **move: user.send(survivor.url, **move), replies)
            assert summary["decision"]
            await user.send(survivor.url, choice=RECORD_CHOICE, message_id="confirm")
        assert await _count_records(pg_url, user.user) == 1
    finally:
        doomed.kill()
        await survivor.stop()


async def test_database_outage_gives_a_clear_message_then_recovers_without_loss(pg_url, tmp_path):
    target = urlsplit(pg_url)
    proxy = await CuttableProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    via_proxy = urlunsplit(target._replace(netloc=f"{target.username}@127.0.0.1:{proxy.port}"
                                           if target.username else f"127.0.0.1:{proxy.port}"))
    server = ServerProcess(via_proxy, tmp_path / "outage.log")
    database_message = _database_message()
    try:
        await server.start()
        await _require_chat(server)
        async with aiohttp.ClientSession() as session:
            user = WebChatUser(session, "local:outage")
            assert await user.send(server.url, text="do I need consent to share with the police?")
            walkthrough = None
            await user.send(server.url, text=OWN_NAME)
            if any(r.get("choices") for r in await user.send(server.url, text="decide")):
                # A decision confirmed before the outage must survive it.
                walkthrough, _ = await walk_to_summary(lambda **m: user.send(server.url, **m),
                                                       await user.send(server.url, text="restart"))
                await user.send(server.url, choice=RECORD_CHOICE, message_id="before-outage")

            await proxy.cut()
            outage_started = time.monotonic()
            seen_during_outage: list[str] = []
            while time.monotonic() - outage_started < OUTAGE_SECONDS:
                replies = await user.send(server.url, text="what is the lawful basis for sharing?")
                seen_during_outage += [" ".join(r["text"].split()) for r in replies]
                async with session.get(f"{server.url}/readyz") as ready:
                    assert ready.status == 503
                async with session.get(f"{server.url}/healthz") as live:
                    assert live.status == 200  # alive, just not ready: the orchestrator must not kill it
                await asyncio.sleep(1)
            assert seen_during_outage
            assert all(text == database_message for text in seen_during_outage), seen_during_outage

            await proxy.restore()
            restored = time.monotonic()
            while True:
                replies = await user.send(server.url, text="what is the lawful basis for sharing?")
                if replies and all(" ".join(r["text"].split()) != database_message for r in replies):
                    break
                assert time.monotonic() - restored < RECOVERY_LIMIT_SECONDS, "the bot did not recover in time"
                await asyncio.sleep(0.2)
            async with session.get(f"{server.url}/readyz") as ready:
                assert ready.status == 200
        if walkthrough is not None:
            assert await _count_records(pg_url, user.user) == 1
        assert "Traceback" not in server.log()
    finally:
        assert await server.stop() == 0, "graceful shutdown after the outage"
        await proxy.close()
