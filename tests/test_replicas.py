"""Scale-out: two real server processes on loopback share one PostgreSQL, and any replica takes any turn.

Conversation state, idempotency keys and records live in the database, so a walkthrough whose turns
alternate between the replicas (as a round-robin load balancer would send them) ends exactly as it
would on one server, and a retried delivery that lands on the other replica does nothing twice.
"""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from bot.storage.db import create_engine
from bot.storage.tables import decision_records
from tests.servers import (
    OWN_NAME,
    RECORD_CHOICE,
    ServerProcess,
    WebChatUser,
    require_walkthrough,
    start_all,
    walk_to_summary,
)

DECISIONS = {"share", "share_partially", "do_not_share", "seek_consent", "seek_advice"}


@pytest.fixture
async def replicas(tmp_path, pg_url):
    await require_walkthrough(tmp_path)
    servers = [ServerProcess(pg_url, tmp_path / f"replica{i}.log") for i in range(2)]
    try:
        await start_all(*servers)  # at once: their migrations serialise on a database lock
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


async def test_two_replicas_share_one_database(replicas, pg_url):
    first_replica, second_replica = (server.url for server in replicas)
    async with aiohttp.ClientSession() as session:
        for url in (first_replica, second_replica):
            async with session.get(f"{url}/readyz") as response:
                assert response.status == 200
                assert (await response.json())["database"] is True

        # A delivery retried onto the other replica is recognised and dropped.
        asker = WebChatUser(session, "local:retry-user")
        assert await asker.send(first_replica, text="do I need consent to share?", message_id="same-id")
        assert await asker.send(second_replica, text="do I need consent to share?", message_id="same-id") == []

        # A walkthrough whose turns alternate between the replicas, as round-robin balancing sends them.
        user = WebChatUser(session, "local:alternating")
        turns = iter(range(1, 1000))

        async def send_alternating(**move):
            return await user.send(replicas[next(turns) % 2].url, **move)

        await user.send(first_replica, text=OWN_NAME)
        summary, steps = await walk_to_summary(send_alternating, await user.send(first_replica, text="decide"))
        assert steps >= 2, "the walkthrough really crossed replicas"
        assert summary["decision"] in DECISIONS
        confirm_on = replicas[next(turns) % 2].url
        assert await user.send(confirm_on, choice=RECORD_CHOICE, message_id="confirm")
        other = second_replica if confirm_on == first_replica else first_replica
        assert await user.send(other, choice=RECORD_CHOICE, message_id="confirm") == [], "a retried press is dropped"
        # Pressing "Record this" again (a new delivery, a double click) cannot store a second record either.
        await user.send(other, choice=RECORD_CHOICE, message_id="double-click")
    rows = await _records(pg_url, user.user)
    assert len(rows) == 1
    assert rows[0].decision == summary["decision"]
