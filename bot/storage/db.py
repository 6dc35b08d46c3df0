"""The database: one async SQLAlchemy engine, the same code path for SQLite and PostgreSQL.

``DATABASE_URL`` is accepted in its usual forms and mapped to the async driver here, so nothing
else in the code knows which database it is talking to. Migrations (Alembic) run on start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.storage.sqlite_trips import one_trip_connector
from bot.storage.tables import processed_events

log = logging.getLogger(__name__)
if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; callers tell the user to try again, nothing is lost."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def async_url(url: str) -> str:
    """Map ``sqlite:///x.db`` / ``postgresql://...`` to their async drivers."""
    if url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://"):
        return url
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://"):]
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise ValueError(f"unsupported DATABASE_URL scheme: {url.split(':', 1)[0]}")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def private_sqlite_file(path: Path) -> None:
    """Create the database file 0600 in a 0700 folder: it holds case records and transcripts.

    A folder we did not create is tightened only when it is ours and not a shared one (sticky, as /tmp is).
    SQLite gives its -wal and -shm files the database file's permissions.
    """
    folder = path.parent
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
    info = folder.stat()
    if info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX and info.st_mode & 0o077:
        folder.chmod(0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        path.chmod(0o600)
    for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists() and companion.stat().st_uid == os.getuid():
            companion.chmod(0o600)


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and foreign keys for crash safety.

    PostgreSQL connections are not pinged on checkout (a round trip per transaction): a connection
    broken by an outage fails its turn with the clear database message, and the pool then replaces
    every connection from before the outage.
    """
    aurl = async_url(url)
    if is_sqlite(aurl):
        path = aurl.split(":///", 1)[1] if ":///" in aurl else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            private_sqlite_file(Path(path))
        # One connection: SQLite has one writer, and queueing turns in the pool is fairer and faster than
        # several connections sleeping in SQLite's busy handler (p99 at 50 concurrent turns: 1.5 s -> 0.6 s).
        pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30}
        if path and path != ":memory:" and not path.startswith("file:") and "?" not in path:
            # A file: each statement is one hand-off to the driver thread, not three or four (sqlite_trips).
            engine = create_async_engine(aurl, async_creator=one_trip_connector(path, timeout=30), **pool)
        else:
            engine = create_async_engine(aurl, connect_args={"timeout": 30}, **pool)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # crash-safe in WAL; records use FULL
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(aurl, pool_size=10, max_overflow=20, pool_recycle=1800)


@asynccontextmanager
async def durable_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that is on disk when it commits, even if the machine loses power next.

    SQLite runs in WAL mode with ``synchronous=NORMAL``: every commit survives a crash of the
    process (kill -9), and turns stay fast. Confirmed decision records are worth an fsync more, so
    their transaction runs with ``synchronous=FULL``. PostgreSQL commits durably anyway.
    """
    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            await conn.exec_driver_sql("PRAGMA synchronous=FULL")
            await conn.commit()
        try:
            async with conn.begin():
                yield conn
        finally:
            if sqlite:
                await conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                await conn.commit()


_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)


def script_heads() -> frozenset[str]:
    """The newest migrations (revisions no other migration builds on), read from the scripts themselves."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        script = path.read_text(encoding="utf-8")
        if revision := _REVISION.search(script):
            revisions.add(revision.group(1))
        if down := _DOWN_REVISION.search(script):
            parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    return frozenset(revisions - parents)


def _stored_heads(connection) -> frozenset[str]:
    if not inspect(connection).has_table("alembic_version"):
        return frozenset()
    return frozenset(row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version")))


def alembic_config(connection) -> Config:
    """Alembic's configuration for our migrations, on ``connection``.

    Alembic is imported only when there is something to migrate: it brings mako and pygments, about 12 MB
    that a server restarting on an up-to-date schema (every start but the first) never needs."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "heads")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema up to date (idempotent; safe for several replicas starting at once)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Serialise concurrent replicas' migrations with a transaction-scoped advisory lock.
            await conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        if await conn.run_sync(_stored_heads) != script_heads():
            await conn.run_sync(_upgrade)


def _dialect_insert(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which knows ON CONFLICT (the same SQL on both databases)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(conn: AsyncConnection, table: Table):
    """An INSERT that silently skips rows whose unique key exists (SQLite and PostgreSQL alike)."""
    return _dialect_insert(conn, table).on_conflict_do_nothing()


async def upsert(conn: AsyncConnection, table: Table, keys: dict[str, Any], values: dict[str, Any],
                 new_only: dict[str, Any] | None = None, update_only: dict[str, Any] | None = None) -> None:
    """Insert the row, or update ``values`` on the row with these ``keys`` (its primary or unique key);
    ``new_only`` values (a creation time) are written only when the row is new, ``update_only`` ones
    (an expression on the stored row, such as a count plus one) only when it exists.

    One statement (``ON CONFLICT DO UPDATE``) on SQLite and PostgreSQL alike, so two concurrent first
    writes of the same key cannot fail or lose either write: the later one wins.
    """
    statement = _dialect_insert(conn, table).values(**keys, **values, **(new_only or {}))
    await conn.execute(statement.on_conflict_do_update(index_elements=list(keys),
                                                       set_={**values, **(update_only or {})}))


async def claim_once(conn: AsyncConnection, key: str) -> bool:
    """Record an idempotency key; False if it was already there (a retry or a replay).

    Runs inside the caller's transaction so the key and the work it guards commit together.
    """
    result = await conn.execute(insert_ignore(conn, processed_events).values(key=key, created_at=utcnow()))
    return result.rowcount == 1


async def ping(engine: AsyncEngine, within: float = 2.0) -> bool:
    """True if the database answers a trivial query within ``within`` seconds."""

    async def _ping() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(_ping(), within)
        return True
    except Exception as exc:  # noqa: BLE001 - any driver error means "not ready"
        log.warning("database ping failed", extra={"reason": type(exc).__name__})
        return False
