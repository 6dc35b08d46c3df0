"""Group commit: the durable writes of concurrent question turns, committed together in one transaction.

A question turn changes nothing but what it leaves behind (its idempotency key, the "met this user" row,
its transcript lines, the questions it could not answer). Committed one turn at a time, each turn pays
for a connection check-out, its statements and a commit; on SQLite, which has one writer, the turns
queue for that. Here turns hand their rows to one writer task, which commits whatever has arrived while
the previous commit was in flight as one transaction of a few statements (one per table, every turn's
rows in it), and only then resolves each turn's future: a reply is still sent only once its lines are
on disk, and each turn's writes are still in exactly one transaction. No timer: a turn alone is written
at once, and under load the batches grow by themselves.

If the batch's transaction fails, nothing in it was written; each turn is then tried alone, so one bad
row cannot fail its neighbours, and a turn that still fails gets the database error (the user is told
to try again; nothing was half-written). :meth:`TurnWriter.close` writes everything queued before it
returns, so a server shutting down loses no turn it has answered.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.db import insert_ignore
from bot.storage.tables import processed_events, transcripts, unanswered_questions, users
from bot.storage.turns import KEY_CHARS, TRANSCRIPT_CHARS, seen_long_ago

log = logging.getLogger(__name__)


class WriterClosed(RuntimeError):
    """A turn arrived after shutdown began; the caller answers it with the database error (try again)."""


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """Everything a question turn leaves behind, as the turn computed it."""

    user_id: str
    conversation_id: str
    key: str | None  # the turn's idempotency key; None for a channel without message ids
    now: datetime
    last_seen: datetime | None  # what the turn read: None means we had not met this user
    incoming: str  # what the user typed, redacted
    outgoing: tuple[str, ...]  # the replies shown in the conversation, in order
    greeting: str | None = None  # shown (and kept) before the replies if this turn is the user's first
    unanswered: tuple[str, ...] = ()  # redacted questions the guidance could not answer


@dataclass(frozen=True, slots=True)
class Written:
    claimed: bool  # False: another delivery of the same message was written first (a retry)
    first_contact: bool  # this turn created the user's row: its greeting was kept


@dataclass(frozen=True, slots=True)
class _Pending:
    record: TurnRecord
    done: asyncio.Future[Written]


_STATEMENTS: dict[str, tuple[Any, Any]] = {}  # dialect -> (claim keys, meet users), each RETURNING what it inserted
_TOUCH = update(users).where(users.c.user_id == bindparam("who")).values(last_seen=bindparam("seen"))
_LINES = insert(transcripts)
_UNANSWERED = insert(unanswered_questions)


def _statements(conn: AsyncConnection) -> tuple[Any, Any]:
    name = conn.dialect.name
    if name not in _STATEMENTS:
        _STATEMENTS[name] = (insert_ignore(conn, processed_events).returning(processed_events.c.key),
                             insert_ignore(conn, users).returning(users.c.user_id))
    return _STATEMENTS[name]


async def write_batch(conn: AsyncConnection, records: list[TurnRecord]) -> list[Written]:
    """Write the turns' rows in ``conn``'s transaction, one statement per table; what each turn got.

    Of several turns with one key (concurrent deliveries of one message) the first is written and the
    others are duplicates; of several first turns by one new user, the first gets the greeting.
    """
    claim, meet = _statements(conn)
    by_key: dict[str, int] = {}
    for index, record in enumerate(records):
        if record.key is not None:
            by_key.setdefault(record.key[:KEY_CHARS], index)
    claimed = {index for index, record in enumerate(records) if record.key is None}
    if by_key:
        now = records[0].now
        won = (await conn.execute(claim, [{"key": key, "created_at": now} for key in by_key])).scalars()
        claimed |= {by_key[key] for key in won}
    new_users: dict[str, int] = {}
    touched: dict[str, datetime] = {}
    for index in sorted(claimed):
        record = records[index]
        if record.last_seen is None:
            new_users.setdefault(record.user_id, index)
        elif seen_long_ago(record.now, record.last_seen):
            touched[record.user_id] = record.now
    greeted: set[int] = set()
    if new_users:
        rows = [{"user_id": user, "first_seen": records[i].now, "last_seen": records[i].now}
                for user, i in new_users.items()]
        greeted = {new_users[user] for user in (await conn.execute(meet, rows)).scalars()}
    if touched:
        await conn.execute(_TOUCH, [{"who": user, "seen": seen} for user, seen in touched.items()])
    lines: list[dict[str, Any]] = []
    unanswered: list[dict[str, Any]] = []
    for index in sorted(claimed):
        record = records[index]
        line = {"user_id": record.user_id, "conversation_id": record.conversation_id, "created_at": record.now}
        lines.append({**line, "direction": "in", "text": record.incoming[:TRANSCRIPT_CHARS]})
        shown = ((record.greeting,) if index in greeted and record.greeting else ()) + record.outgoing
        lines += [{**line, "direction": "out", "text": text[:TRANSCRIPT_CHARS]} for text in shown]
        unanswered += [{"question": q[:2000], "normalised": " ".join(q.lower().split())[:500], "created_at": record.now}
                       for q in record.unanswered]
    if lines:
        await conn.execute(_LINES, lines)
    if unanswered:
        await conn.execute(_UNANSWERED, unanswered)
    return [Written(index in claimed, index in greeted) for index in range(len(records))]


class TurnWriter:
    """The writer of one engine; :meth:`write` returns once the turn's rows are committed.

    Its task runs only while turns are queued, so an idle writer leaves nothing running to clean up.
    """

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._queue: list[_Pending] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def write(self, record: TurnRecord) -> Written:
        """Queue the turn's rows and wait for their commit; raises what the commit raised."""
        if self._closing:
            raise WriterClosed("the server is shutting down")
        pending = _Pending(record, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        if self._task is None:  # turns queued before the task first runs share its first batch
            self._task = asyncio.create_task(self._run(), name="turn-writer")
        return await asyncio.shield(pending.done)  # a cancelled turn's rows are still written

    async def close(self) -> None:
        """Write everything queued, then refuse new turns (:class:`WriterClosed`)."""
        self._closing = True
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        """Commit what has queued, batch after batch, until the queue is empty."""
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._commit(batch)
        finally:
            self._task = None

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            async with self.engine.begin() as conn:
                results = await write_batch(conn, [pending.record for pending in batch])
        except Exception as exc:  # noqa: BLE001 - any failure: nothing of the batch was written
            if len(batch) > 1:
                log.warning("turn batch not written; writing its turns one by one",
                            extra={"reason": type(exc).__name__, "turns": len(batch)})
                for pending in batch:
                    await self._commit([pending])
            elif not batch[0].done.done():
                batch[0].done.set_exception(exc)
            return
        for pending, written in zip(batch, results, strict=True):
            if not pending.done.done():
                pending.done.set_result(written)
