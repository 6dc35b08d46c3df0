#!/usr/bin/env python3
"""Reminder delivery throughput on PostgreSQL: occurrences claimed + sent + marked per second by two
scheduler replicas, against a bare INSERT + UPDATE baseline (the least database work one occurrence
can cost) measured in the same run on the same server.

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/reminders_bench.py [--rows 2000]

Creates a throwaway database on that server and drops it afterwards. Sending is a no-op, so the numbers
are the scheduler's own cost (claim with a lease, compose from the register, mark sent).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from sqlalchemy import insert, update

from bot.config import load_settings
from bot.content import load_content
from bot.core import Assistant
from bot.isa.model import ISA
from bot.qa import QuestionEngine
from bot.reminders.scheduler import ReminderScheduler
from bot.storage.db import create_engine, migrate
from bot.storage.register import save_isa
from bot.storage.tables import reminder_occurrences

NOW = datetime(2027, 3, 29, 8, 0, tzinfo=UTC)


class NullSender:
    async def send(self, address, replies) -> None:
        return None


async def seed(engine, rows: int, isa_id: int, tag: str) -> None:
    values = [dict(key=f"bench:{tag}:{i}", kind="review_due", isa_id=isa_id, channel=f"local:team-{i % 50}",
                   due_at=NOW - timedelta(minutes=1), status="pending", attempts=0,
                   payload={"isa_id": isa_id, "title": "Bench ISA", "review_date": "2027-04-28"}) for i in range(rows)]
    async with engine.begin() as conn:
        await conn.execute(insert(reminder_occurrences), values)


async def scheduler_rate(assistant: Assistant, rows: int, isa_id: int) -> float:
    await seed(assistant.engine, rows, isa_id, "sched")
    workers = [ReminderScheduler(assistant, worker_id=f"bench-{n}") for n in range(2)]
    started = time.perf_counter()
    reports = await asyncio.gather(*(w.deliver_due(NOW) for w in workers))
    elapsed = time.perf_counter() - started
    sent = sum(len(r.sent) for r in reports)
    assert sent == rows, f"sent {sent} of {rows}"
    return rows / elapsed


async def baseline_rate(engine, rows: int) -> float:
    """Two workers, each INSERTs an occurrence row then UPDATEs it to sent: one commit each."""

    async def worker(offset: int) -> None:
        for i in range(offset, rows, 2):
            async with engine.begin() as conn:
                result = await conn.execute(insert(reminder_occurrences).values(
                    key=f"bench:base:{i}", kind="review_due", channel="local", due_at=NOW, status="pending",
                    attempts=0))
            async with engine.begin() as conn:
                await conn.execute(update(reminder_occurrences)
                                   .where(reminder_occurrences.c.id == result.inserted_primary_key[0])
                                   .values(status="sent", sent_at=NOW))

    started = time.perf_counter()
    await asyncio.gather(worker(0), worker(1))
    return rows / (time.perf_counter() - started)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"{server.rpartition('/')[0]}/{name}"
    engine = create_engine(url)
    try:
        await migrate(engine)
        settings = load_settings(environ={"DATABASE_URL": url}, env_file=Path("/nonexistent"))
        content = load_content(settings.content_dir)
        assistant = Assistant(settings, engine, content, QuestionEngine(content))
        assistant.delivery.register("local", NullSender())
        async with engine.begin() as conn:
            isa = await save_isa(conn, ISA("Bench ISA", ["Police", "Schools"], "Bench", ["Contact details"],
                                           "Article 6(1)(e)", "local:owner", date(2026, 1, 1), date(2027, 4, 28),
                                           channels=["local"]), "bench", NOW)
        baseline = await baseline_rate(engine, args.rows)
        scheduler = await scheduler_rate(assistant, args.rows, isa.id)
    finally:
        await engine.dispose()
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print(f"{'PostgreSQL, 2 workers, ' + str(args.rows) + ' occurrences':<52} {'per second':>12}")
    print(f"{'bare INSERT + UPDATE (baseline)':<52} {baseline:>12.0f}")
    print(f"{'scheduler: claim (lease) + compose + send + mark':<52} {scheduler:>12.0f}")
    print(f"{'scheduler / baseline':<52} {scheduler / baseline:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
