"""Conversations the bot knows: where it may post proactively, and where a dialog continues.

``conversation_refs`` holds, per channel and conversation id, what the channel needs to post there
later (a Teams conversation reference, a Slack team and channel), so reminders reach it without a
user turn. ``teams_dialog_routes`` (:class:`ConversationLinks`) points a user's personal chat at the
shared conversation whose dialog it continues (Teams has no private messages inside a channel).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.db import upsert, utcnow
from bot.storage.tables import conversation_refs as refs
from bot.storage.tables import teams_dialog_routes as links


class ConversationRefs:
    """One channel's stored conversations; a conversation saved by this process costs no further write."""

    def __init__(self, engine: AsyncEngine, channel: str):
        self.engine = engine
        self.channel = channel
        self._known: set[str] = set()

    async def save(self, conversation_id: str, reference: dict[str, Any], team_id: str | None = None,
                   conn: AsyncConnection | None = None) -> None:
        """Insert or refresh one conversation (one statement, safe under concurrent saves), in ``conn``'s
        transaction when given."""
        if conn is None:
            async with self.engine.begin() as own:
                await self.save(conversation_id, reference, team_id, own)
            return
        await upsert(conn, refs, {"channel": self.channel, "conversation_id": conversation_id},
                     {"team_id": team_id, "reference": reference, "updated_at": utcnow()})
        self._known.add(conversation_id)

    async def remember(self, conversation_id: str, reference: dict[str, Any], team_id: str | None = None,
                       conn: AsyncConnection | None = None) -> None:
        """Save once per process: a conversation this process already stored costs no database write."""
        if conversation_id not in self._known:
            await self.save(conversation_id, reference, team_id, conn)

    async def get(self, conversation_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(refs.c.reference).where(
                refs.c.channel == self.channel, refs.c.conversation_id == conversation_id))).first()
        return row[0] if row else None

    async def all(self, *, outside_teams: bool = False) -> list[dict[str, Any]]:
        """Every stored reference; ``outside_teams`` keeps only those that belong to no team (personal chats)."""
        query = select(refs.c.reference).where(refs.c.channel == self.channel)
        if outside_teams:
            query = query.where(refs.c.team_id.is_(None))
        async with self.engine.connect() as conn:
            return [row[0] for row in await conn.execute(query)]

    async def remove(self, conversation_id: str, team_id: str | None = None) -> int:
        """Forget a conversation, or every conversation of a team when ``team_id`` is given."""
        condition = refs.c.conversation_id == conversation_id
        if team_id:
            condition = condition | (refs.c.team_id == team_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(refs).where((refs.c.channel == self.channel) & condition))
        self._known.discard(conversation_id)
        if team_id:
            self._known.clear()
        return result.rowcount or 0


class ConversationLinks:
    """A user's personal chat continuing a shared conversation's dialog; stale after ``max_age``."""

    def __init__(self, engine: AsyncEngine, max_age: timedelta):
        self.engine = engine
        self.max_age = max_age

    async def lookup(self, user_id: str, personal_conversation_id: str, now: datetime | None = None) -> str | None:
        """The conversation whose dialog this personal chat continues, if any and still fresh."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(links.c.personal_conversation_id, links.c.dialog_conversation_id,
                                             links.c.updated_at).where(links.c.user_id == user_id))).first()
        if row is None or row.personal_conversation_id != personal_conversation_id:
            return None
        return row.dialog_conversation_id if (now or utcnow()) - row.updated_at <= self.max_age else None

    async def set(self, user_id: str, personal_conversation_id: str, dialog_conversation_id: str) -> None:
        async with self.engine.begin() as conn:
            await upsert(conn, links, {"user_id": user_id},
                         {"personal_conversation_id": personal_conversation_id,
                          "dialog_conversation_id": dialog_conversation_id, "updated_at": utcnow()})

    async def clear(self, user_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(links).where(links.c.user_id == user_id))
