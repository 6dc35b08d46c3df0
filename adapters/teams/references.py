"""Where the bot may post without a user turn: Teams conversation references.

A reference is stored as the plain JSON Bot Framework uses (``ConversationReference.serialize()``),
keyed by conversation id, in the neutral conversation store; rows of a team carry its ``team_id`` so
uninstalling from the team removes them all. Engineer-facing only: nothing here is shown to users.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.teams.identity import CHANNEL
from bot.storage.conversations import ConversationRefs

# What Teams puts in a reference's user account beyond its ids: the staff member's name and contact details.
_PERSONAL_KEYS = ("name", "givenName", "surname", "email", "userPrincipalName")


def without_display_names(reference: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``reference`` whose user account keeps only its ids: proactive messages need no name."""
    cleaned = dict(reference)
    user = cleaned.get("user")
    if isinstance(user, dict):
        cleaned["user"] = {key: value for key, value in user.items() if key not in _PERSONAL_KEYS}
    return cleaned


class ReferenceStore(ConversationRefs):
    def __init__(self, engine: AsyncEngine):
        super().__init__(engine, CHANNEL)

    async def save(self, conversation_id: str, reference: dict[str, Any], team_id: str | None = None,
                   conn: AsyncConnection | None = None) -> None:
        """Stored without the staff member's name and contact details."""
        await super().save(conversation_id, without_display_names(reference), team_id, conn)

    async def personal_for_user(self, user_key: str) -> dict[str, Any] | None:
        """The personal chat with a user, found by AAD object id or Teams user id."""
        for reference in await self.all(outside_teams=True):
            conversation = reference.get("conversation") or {}
            user = reference.get("user") or {}
            if conversation.get("conversationType") == "personal" and user_key in (
                    user.get("aadObjectId"), user.get("id")):
                return reference
        return None
