"""SQLite statements in one trip to the driver thread each, instead of three or four.

aiosqlite runs sqlite3 on its own thread, and SQLAlchemy's adapter sends it one call per cursor step:
create the cursor, execute, fetch the rows, close. Each call is a hand-off between threads (about
0.6 ms of CPU on a loaded two-core machine, more than the statement itself), so a question turn spent
more on hand-offs than on SQL. This connection's cursor does the four steps in a single call and
hands back the rows, the row count and the last row id with them; a commit or rollback with no
transaction open (which sqlite3 would skip anyway) makes no trip at all. What SQLite executes, and when it
commits, is unchanged: transactions, pragmas and durability are exactly as before. Rows come back all
at once, as SQLAlchemy's adapter fetched them anyway; a server-side cursor (``stream``) would not stream,
and nothing here uses one.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aiosqlite


class OneTripCursor:
    """The cursor SQLAlchemy's aiosqlite adapter drives; rows are fetched with the statement."""

    def __init__(self, connection: OneTripConnection):
        self._connection = connection
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> OneTripCursor:
        return await self._run(lambda cursor: cursor.execute(sql, parameters or ()))

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> OneTripCursor:
        return await self._run(lambda cursor: cursor.executemany(sql, parameters))

    async def _run(self, statement: Callable[[sqlite3.Cursor], object]) -> OneTripCursor:
        def on_driver_thread() -> tuple[Any, list[Any], int, int | None]:
            cursor = self._connection._conn.cursor()
            try:
                statement(cursor)
                rows = cursor.fetchall() if cursor.description else []
                return cursor.description, rows, cursor.rowcount, cursor.lastrowid  # rowcount after the fetch
            finally:
                cursor.close()

        self.description, rows, self.rowcount, self.lastrowid = await self._connection._execute(on_driver_thread)
        self._rows = deque(rows)
        return self

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = min(len(self._rows), size or self.arraysize)
        return [self._rows.popleft() for _ in range(count)]

    async def fetchall(self) -> list[Any]:
        rows, self._rows = list(self._rows), deque()
        return rows

    async def close(self) -> None:
        self._rows.clear()


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors cost one thread hand-off per statement, and whose commit and
    rollback cost none when no transaction is open."""

    def cursor(self) -> OneTripCursor:  # type: ignore[override]  # no trip just to create a cursor
        return OneTripCursor(self)

    # sqlite3's commit() and rollback() do nothing outside a transaction (they check the same flag), so the
    # trip is skipped then: SQLAlchemy rolls back every connection it takes back, even after a commit or a read.
    # No statement is in flight when they are called (each is awaited), so the flag is read safely here.
    async def commit(self) -> None:
        if self.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self.in_transaction:
            await super().rollback()


def one_trip_connector(path: str, **sqlite_args: Any) -> Callable[[], OneTripConnection]:
    """The ``async_creator`` for ``create_async_engine``: a file database opened as aiosqlite would."""

    def connect() -> OneTripConnection:
        connection = OneTripConnection(lambda: sqlite3.connect(path, **sqlite_args), iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does for its own aiosqlite connections
        return connection

    return connect
