"""Dialog routes: a dialog started in a Teams channel continues in the user's personal chat.

Teams cannot show a message to one person inside a channel, so private replies (every walkthrough step)
go to the personal chat. Buttons there carry the channel conversation's id; typed replies (a case
reference) carry nothing, so the adapter remembers, per user, which conversation's dialog their
personal chat is continuing. A route expires with the walkthrough.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import utcnow
from bot.storage.tables import teams_dialog_routes as routes


class DialogRoutes:
    def __init__(self, engine: AsyncEngine, max_age: timedelta):
        self.engine = engine
        self.max_age = max_age

    async def lookup(self, user_id: str, personal_conversation_id: str, now: datetime | None = None) -> str | None:
        """The conversation whose dialog this user's personal chat continues, if any and still fresh."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(routes.c.personal_conversation_id, routes.c.dialog_conversation_id,
                                             routes.c.updated_at).where(routes.c.user_id == user_id))).first()
        if row is None or row.personal_conversation_id != personal_conversation_id:
            return None
        updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=(now or utcnow()).tzinfo)
        return row.dialog_conversation_id if (now or utcnow()) - updated <= self.max_age else None

    async def set(self, user_id: str, personal_conversation_id: str, dialog_conversation_id: str) -> None:
        values = {"personal_conversation_id": personal_conversation_id,
                  "dialog_conversation_id": dialog_conversation_id, "updated_at": utcnow()}
        async with self.engine.begin() as conn:
            result = await conn.execute(update(routes).where(routes.c.user_id == user_id).values(**values))
            if result.rowcount == 0:
                try:
                    async with conn.begin_nested():
                        await conn.execute(insert(routes).values(user_id=user_id, **values))
                except IntegrityError:
                    await conn.execute(update(routes).where(routes.c.user_id == user_id).values(**values))

    async def clear(self, user_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(routes).where(routes.c.user_id == user_id))
