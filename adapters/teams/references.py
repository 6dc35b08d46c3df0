"""Where the bot may post without a user turn: Teams conversation references in ``conversation_refs``.

A reference is stored as the plain JSON Bot Framework uses (``ConversationReference.serialize()``),
keyed by conversation id; rows of a team carry its ``team_id`` so uninstalling from the team removes
them all. Engineer-facing only: nothing here is shown to users.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import utcnow
from bot.storage.tables import conversation_refs

CHANNEL = "teams"


# What Teams puts in a reference's user account beyond its ids: the staff member's name and contact details.
_PERSONAL_KEYS = ("name", "givenName", "surname", "email", "userPrincipalName")


def without_display_names(reference: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``reference`` whose user account keeps only its ids: proactive messages need no name."""
    cleaned = dict(reference)
    user = cleaned.get("user")
    if isinstance(user, dict):
        cleaned["user"] = {key: value for key, value in user.items() if key not in _PERSONAL_KEYS}
    return cleaned


class ReferenceStore:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._known: set[str] = set()  # conversations stored by this process: no write per turn

    async def save(self, conversation_id: str, reference: dict[str, Any], team_id: str | None = None) -> None:
        """Insert or refresh one reference (safe under concurrent saves of the same conversation)."""
        values = {"team_id": team_id, "reference": without_display_names(reference), "updated_at": utcnow()}
        key = (conversation_refs.c.channel == CHANNEL) & (conversation_refs.c.conversation_id == conversation_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(update(conversation_refs).where(key).values(**values))
            if result.rowcount == 0:
                try:
                    async with conn.begin_nested():
                        await conn.execute(insert(conversation_refs).values(
                            channel=CHANNEL, conversation_id=conversation_id, **values))
                except IntegrityError:
                    await conn.execute(update(conversation_refs).where(key).values(**values))
        self._known.add(conversation_id)

    async def remember(self, conversation_id: str, reference: dict[str, Any], team_id: str | None = None) -> None:
        """Save once per process: a conversation the bot already knows costs no database write."""
        if conversation_id not in self._known:
            await self.save(conversation_id, reference, team_id)

    async def get(self, conversation_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(conversation_refs.c.reference).where(
                (conversation_refs.c.channel == CHANNEL)
                & (conversation_refs.c.conversation_id == conversation_id)))).first()
        return row[0] if row else None

    async def personal_for_user(self, user_key: str) -> dict[str, Any] | None:
        """The personal chat with a user, found by AAD object id or Teams user id."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(conversation_refs.c.reference).where(
                (conversation_refs.c.channel == CHANNEL) & conversation_refs.c.team_id.is_(None)))).all()
        for (reference,) in rows:
            conversation = reference.get("conversation") or {}
            user = reference.get("user") or {}
            if conversation.get("conversationType") == "personal" and user_key in (
                    user.get("aadObjectId"), user.get("id")):
                return reference
        return None

    async def remove(self, conversation_id: str, team_id: str | None = None) -> int:
        """Forget a conversation, or every conversation of a team when ``team_id`` is given."""
        condition = conversation_refs.c.conversation_id == conversation_id
        if team_id:
            condition = condition | (conversation_refs.c.team_id == team_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(conversation_refs).where(
                (conversation_refs.c.channel == CHANNEL) & condition))
        self._known.discard(conversation_id)
        if team_id:
            self._known.clear()
        return result.rowcount or 0

    async def all(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(conversation_refs.c.reference).where(
                conversation_refs.c.channel == CHANNEL))).all()
        return [row[0] for row in rows]
