"""Dialog routes: a dialog started in a Teams channel continues in the user's personal chat.

Teams cannot show a message to one person inside a channel, so private replies (every walkthrough step)
go to the personal chat. Buttons there carry the channel conversation's id; typed replies (a case
reference) carry nothing, so the adapter remembers, per user, which conversation's dialog their
personal chat is continuing. A route expires with the walkthrough.
"""

from __future__ import annotations

import logging

from botbuilder.schema import Activity
from sqlalchemy.exc import SQLAlchemyError

from adapters.teams import translate
from bot.identity import Identity
from bot.messages import IncomingTurn, Reply
from bot.storage.conversations import ConversationLinks

log = logging.getLogger(__name__)


class DialogRoutes(ConversationLinks):
    """The Teams use of the neutral conversation links: resolve a turn before the core, update after."""

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
