"""Each user's dialog state per conversation (``conversation_state``), written after every step.

One row per (user, conversation) holds the dialog's JSON state, so a restart (even ``kill -9``)
resumes exactly where the user was, on any replica.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import upsert
from bot.storage.tables import conversation_state as states


class DialogStates:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def load(self, user_id: str, conversation_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(states.c.state).where(
                states.c.user_id == user_id, states.c.conversation_id == conversation_id))).first()
        return dict(row.state) if row else None

    async def save(self, user_id: str, conversation_id: str, state: dict[str, Any], now: datetime) -> None:
        """Insert or replace the state in one statement (concurrent first saves cannot collide)."""
        async with self.engine.begin() as conn:
            await upsert(conn, states, {"user_id": user_id, "conversation_id": conversation_id},
                         {"state": state, "updated_at": now})

    async def clear(self, user_id: str, conversation_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(states).where(
                states.c.user_id == user_id, states.c.conversation_id == conversation_id))
