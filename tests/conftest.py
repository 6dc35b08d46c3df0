"""Shared fixtures: settings on a throwaway database, a built assistant, and PostgreSQL when reachable.

PostgreSQL tests use ``TEST_DATABASE_URL`` (``.ci/run`` sets it to the machine's server); each test
gets a fresh database created on that server and dropped afterwards. Without a reachable server
those tests are skipped with the reason; SQLite is always tested.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.identity import Addresses, AddressKind
from bot.messages import IncomingTurn

PG_URL = os.environ.get("TEST_DATABASE_URL", "")


def make_settings(tmp_path: Path, **overrides) -> Settings:
    """Settings isolated from the developer's environment and .env, on a temp SQLite file."""
    base = load_settings(environ={}, env_file=tmp_path / "no.env")
    values = {"database_url": f"sqlite:///{tmp_path / 'test.db'}", "scheduler_enabled": False}
    values.update(overrides)
    return replace(base, **values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


async def _pg_admin(url: str):
    import asyncpg

    return await asyncio.wait_for(asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://")), 5)


def _pg_reason() -> str | None:
    if not PG_URL:
        return "PostgreSQL tests skipped: TEST_DATABASE_URL is not set (.ci/run sets it)"
    try:
        async def probe() -> None:
            conn = await _pg_admin(PG_URL)
            await conn.close()

        # Fixtures call this from inside a running loop: probe on a thread with its own loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, probe()).result()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "skip the PostgreSQL tests, with the reason"
        return f"PostgreSQL tests skipped: cannot reach TEST_DATABASE_URL ({type(exc).__name__}: {exc})"
    return None


_PG_SKIP: list[str | None] = []


def pg_skip_reason() -> str | None:
    if not _PG_SKIP:
        _PG_SKIP.append(_pg_reason())
    return _PG_SKIP[0]


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """Create an empty database on the TEST_DATABASE_URL server; drop it afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await _pg_admin(PG_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await _pg_admin(PG_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database URL (skips with the reason when none is reachable)."""
    reason = pg_skip_reason()
    if reason:
        pytest.skip(reason)
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request, tmp_path: Path) -> AsyncIterator[str]:
    """Run a test on both databases."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'param.db'}"
        return
    reason = pg_skip_reason()
    if reason:
        pytest.skip(reason)
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def assistant(settings: Settings):
    """The fully wired assistant (as app.py builds it) on a temp SQLite database."""
    from app import build_assistant

    built = await build_assistant(settings)
    yield built
    await built.close()


def turn(text: str = "", *, user: str = "local:tester", conversation: str = "local:tester",
         choice: str | None = None, message_id: str | None = None, display_name: str | None = None) -> IncomingTurn:
    """A turn as an adapter would issue it; ``user`` and ``conversation`` are canonical keys of any channel."""
    from app import CHANNELS

    addresses = Addresses()
    for channel in CHANNELS:
        addresses.register(channel.addresses)
    return IncomingTurn(user=addresses.parse(user, AddressKind.USER),
                        conversation=addresses.parse(conversation, AddressKind.CONVERSATION), text=text,
                        choice=choice, message_id=message_id, display_name=display_name)
