"""Dialog routes: a dialog started in a Teams channel continues in the user's personal chat.

Teams cannot show a message to one person inside a channel, so private replies (every walkthrough step)
go to the personal chat. Buttons there carry the channel conversation's id; typed replies (a case
reference) carry nothing, so the adapter remembers, per user, which conversation's dialog their
personal chat is continuing. A route expires with the walkthrough.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from botbuilder.schema import Activity
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.teams import translate
from bot.identity import Identity
from bot.messages import IncomingTurn, Reply
from bot.storage.db import utcnow
from bot.storage.tables import teams_dialog_routes as routes

log = logging.getLogger(__name__)


class DialogRoutes:
    def __init__(self, engine: AsyncEngine, max_age: timedelta):
        self.engine = engine
        self.max_age = max_age

    async def resolve(self, activity: Activity, turn: IncomingTurn) -> bool:
        """Point a personal-chat turn at the conversation whose dialog it continues; True if it does."""
        if translate.button_origin(activity):
            return True  # the button said so; ``turn`` already names that conversation
        if translate.is_shared(activity):
            return False
        try:
            dialog_conversation = await self.lookup(turn.user_id, activity.conversation.id)
        except SQLAlchemyError as exc:
            log.warning("teams dialog route not read", extra={"reason": type(exc).__name__})
            return False
        if dialog_conversation is None:
            return False
        turn.conversation = Identity(translate.CHANNEL, dialog_conversation)
        return True

    async def update(self, activity: Activity, turn: IncomingTurn, replies: list[Reply], *, routed: bool,
                     moved_to: str | None) -> None:
        """After the turn: start, refresh or end the route (a dialog's replies are always private)."""
        try:
            if moved_to:  # a shared conversation's dialog moved to this personal chat
                await self.set(turn.user_id, moved_to, activity.conversation.id)
            elif routed and any(r.private for r in replies):
                await self.set(turn.user_id, activity.conversation.id, turn.conversation.id)
            elif routed:  # the dialog is over; the personal chat is itself again
                await self.clear(turn.user_id)
        except SQLAlchemyError as exc:
            log.warning("teams dialog route not saved", extra={"reason": type(exc).__name__})

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
