"""Storage on both databases: migrations, URL forms, idempotency keys."""

import subprocess
import sys

import pytest
from sqlalchemy import inspect, select

from bot.config import PROJECT_ROOT
from bot.storage.db import async_url, claim_once, create_engine, migrate, ping
from bot.storage.tables import metadata, processed_events


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_url_forms_map_to_async_drivers(given, expected):
    assert async_url(given) == expected


async def test_migrations_create_every_table_and_are_idempotent(db_url):
    engine = create_engine(db_url)
    try:
        await migrate(engine)
        await migrate(engine)  # a second replica starting must be harmless
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert set(metadata.tables) <= names
        assert await ping(engine)
    finally:
        await engine.dispose()


def test_a_restart_on_an_up_to_date_schema_never_loads_the_migration_tool(tmp_path):
    """Alembic (with mako and pygments) costs about 12 MB of resident memory: only a start that has
    something to migrate pays it."""
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    probe = ("import asyncio, sys\n"
             "from bot.storage.db import create_engine, migrate\n"
             "async def main():\n"
             f"    engine = create_engine({url!r})\n"
             "    await migrate(engine)\n"
             "    await engine.dispose()\n"
             "asyncio.run(main())\n"
             "print('alembic' in sys.modules)\n")
    run = [sys.executable, "-c", probe]
    first = subprocess.run(run, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=True)
    again = subprocess.run(run, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert first.stdout.split() == ["True"]  # the first start creates the schema
    assert again.stdout.split() == ["False"]


async def test_idempotency_key_claimed_once(db_url):
    engine = create_engine(db_url)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            assert await claim_once(conn, "slack:event:Ev1")
            assert not await claim_once(conn, "slack:event:Ev1")
        async with engine.begin() as conn:
            assert not await claim_once(conn, "slack:event:Ev1")
            assert await claim_once(conn, "slack:event:Ev2")
    finally:
        await engine.dispose()


async def test_commit_keeps_rollback_undoes_and_an_unfinished_transaction_is_dropped(db_url):
    """Commits and rollbacks still end transactions (SQLite skips the trip only when none is open)."""
    engine = create_engine(db_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            await claim_once(conn, "kept")
            await conn.commit()
            await conn.rollback()  # nothing open: a no-op
            await claim_once(conn, "undone")
            await conn.rollback()
            await claim_once(conn, "left open")  # the pool rolls it back when the connection goes back
        async with engine.connect() as conn:
            keys = set((await conn.execute(select(processed_events.c.key))).scalars())
        assert keys == {"kept"}
    finally:
        await engine.dispose()


async def test_unreachable_database_is_reported_not_raised():
    engine = create_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        assert not await ping(engine, within=2)
    finally:
        await engine.dispose()


async def test_the_frozen_migrations_build_exactly_the_tables_the_code_declares(db_url):
    """Migrations no longer read the live tables, so a table changed without a new revision shows here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(db_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            differences = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), metadata))
        assert differences == []
    finally:
        await engine.dispose()


async def test_times_come_back_aware_and_in_utc_on_both_databases(db_url):
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import insert, select

    from bot.storage.tables import processed_events

    engine = create_engine(db_url)
    try:
        await migrate(engine)
        summer = datetime(2027, 7, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))  # 09:00 UTC
        async with engine.begin() as conn:
            await conn.execute(insert(processed_events).values(key="k", created_at=summer))
            stored = (await conn.execute(select(processed_events.c.created_at))).scalar_one()
        assert stored == summer
        assert stored.utcoffset() == timedelta(0)
        assert stored.hour == 9
        with pytest.raises(Exception, match="naive datetime"):
            async with engine.begin() as conn:
                await conn.execute(insert(processed_events).values(key="n", created_at=datetime(2027, 7, 1)))  # noqa: DTZ001 - the naive value under test
    finally:
        await engine.dispose()


async def test_not_a_person_confirmations_count_up_and_keep_their_first_time(db_url):
    from datetime import UTC, datetime, timedelta

    from bot.storage.confirmations import count_not_people, most_confirmed

    engine = create_engine(db_url)
    first = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await count_not_people(conn, ["Florence", "Grace"], first)
        async with engine.begin() as conn:
            await count_not_people(conn, ["Florence"], first + timedelta(hours=1))
        async with engine.connect() as conn:
            rows = await most_confirmed(conn, 10)
    finally:
        await engine.dispose()
    assert [(row.word, row.times) for row in rows] == [("Florence", 2), ("Grace", 1)]
    assert rows[0].first_confirmed == first
    assert rows[0].last_confirmed == first + timedelta(hours=1)
