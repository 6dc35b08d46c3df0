"""Messages for the local channel (web chat, terminal) that arrive without a user turn (``local_outbox``).

Addressed to one local user or to ``local`` (every local user); read in id order after a cursor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.tables import local_outbox as outbox


class LocalOutbox:
    def __init__(self, engine: AsyncEngine, broadcast: str):
        self.engine = engine
        self.broadcast = broadcast  # the address every local user reads

    async def add(self, address: str, replies: list[dict[str, Any]], now: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(outbox), [
                {"conversation_id": address, "reply": reply, "created_at": now} for reply in replies])

    async def latest_id(self) -> int:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.max(outbox.c.id)))).scalar() or 0

    async def after(self, address: str, cursor: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """(id, reply) for ``address`` and broadcasts after ``cursor``, oldest first."""
        query = (select(outbox.c.id, outbox.c.reply)
                 .where(or_(outbox.c.conversation_id == address, outbox.c.conversation_id == self.broadcast))
                 .where(outbox.c.id > cursor).order_by(outbox.c.id).limit(limit))
        async with self.engine.connect() as conn:
            return [(row.id, row.reply) for row in await conn.execute(query)]
