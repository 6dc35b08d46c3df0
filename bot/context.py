"""What a command handler or dialog needs to act on one turn, without knowing the channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.messages import IncomingTurn
from bot.privacy import PrivacyScan

if TYPE_CHECKING:
    from bot.core import Assistant


@dataclass(slots=True)
class TurnContext:
    turn: IncomingTurn
    scan: PrivacyScan  # the privacy guard's findings and the redacted text
    assistant: Assistant
    # The dialog runner's saved state for this user and conversation, read once per turn.
    dialog_state: dict[str, Any] | None = field(default=None)
    dialog_state_loaded: bool = False
    # Questions the guidance could not answer this turn (redacted); stored with the turn's transcript.
    unanswered: list[str] = field(default_factory=list)
    # The name (and role) this user typed for "Decided by" on their records, read with the turn.
    own_name: str | None = None
    # The turn's text is the user's own name (for their records): the privacy guard's warning is not shown.
    own_details: bool = False

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection to read with (a turn holds none while it is answered: SQLite has one)."""
        async with self.assistant.engine.connect() as conn:
            yield conn

    @property
    def user_id(self) -> str:
        return self.turn.user_id

    @property
    def conversation_id(self) -> str:
        return self.turn.conversation_id

    @property
    def redacted_text(self) -> str:
        return self.scan.redacted
