"""Scale-out: two real server processes on loopback share one PostgreSQL, and any replica takes any turn.

Conversation state, idempotency keys and records live in the database, so a walkthrough whose turns
alternate between the replicas (as a round-robin load balancer would send them) ends exactly as it
would on one server, and a retried delivery that lands on the other replica does nothing twice.
"""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.storage.db import create_engine
from bot.storage.tables import decision_records
from tests.servers import RECORD_CHOICE, ServerProcess, WebChatUser, walk_to_summary


@pytest.fixture
async def replicas(pg_url, tmp_path):
    servers = [ServerProcess(pg_url, tmp_path / f"replica{i}.log") for i in range(2)]
    try:
        for server in servers:  # one after the other: both run migrations, the second finds nothing to do
            await server.start()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{servers[0].url}/api/chat") as probe:
                if probe.status == 404:
                    pytest.skip("the local web chat API (/api/chat) is not mounted yet")
        yield servers
    finally:
        for server in servers:
            await server.stop()


async def _records(pg_url: str, user: str) -> list:
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(decision_records).where(decision_records.c.user_id == user))).all()
    finally:
        await engine.dispose()


async def test_both_replicas_ready_on_one_database(replicas):
    async with aiohttp.ClientSession() as session:
        for server in replicas:
            async with session.get(f"{server.url}/readyz") as response:
                assert response.status == 200
                assert (await response.json())["database"] is True


async def test_a_retried_message_on_the_other_replica_is_answered_once(replicas):
    async with aiohttp.ClientSession() as session:
        user = WebChatUser(session, "local:retry-user")
        first = await user.send(replicas[0].url, text="do I need consent to share?", message_id="same-id")
        again = await user.send(replicas[1].url, text="do I need consent to share?", message_id="same-id")
        assert first, "the first delivery gets an answer"
        assert again == [], "the retry on the other replica is recognised and dropped"


async def test_walkthrough_alternating_between_replicas_records_once(replicas, pg_url):
    async with aiohttp.ClientSession() as session:
        user = WebChatUser(session, "local:alternating")
        first = await user.send(replicas[0].url, text="decide")
        if not any(reply.get("choices") for reply in first) and not any(reply.get("summary") for reply in first):
            pytest.skip("the decision walkthrough (decide) is not wired in yet")
        turns = iter(range(1, 1000))

        async def send_alternating(**move):
            return await user.send(replicas[next(turns) % 2].url, **move)

        summary, steps = await walk_to_summary(send_alternating, first)
        assert steps >= 2, "the walkthrough really crossed replicas"
        assert summary["decision"] in {"share", "share_partially", "do_not_share", "seek_consent", "seek_advice"}
        confirm_on = replicas[next(turns) % 2].url
        confirmed = await user.send(confirm_on, choice=RECORD_CHOICE, message_id="confirm")
        assert confirmed, "confirming shows what was recorded"
        # The same press delivered again to the other replica (a retry) changes nothing.
        other = replicas[1].url if confirm_on == replicas[0].url else replicas[0].url
        assert await user.send(other, choice=RECORD_CHOICE, message_id="confirm") == []
    rows = await _records(pg_url, "local:alternating")
    assert len(rows) == 1
    assert rows[0].decision == summary["decision"]
