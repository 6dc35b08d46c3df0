"""What a command handler or dialog needs to act on one turn, without knowing the channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.messages import IncomingTurn
from bot.privacy import PrivacyScan

if TYPE_CHECKING:
    from bot.core import Assistant


@dataclass(slots=True)
class TurnContext:
    turn: IncomingTurn
    scan: PrivacyScan  # the privacy guard's findings and the redacted text
    assistant: Assistant

    @property
    def user_id(self) -> str:
        return self.turn.user_id

    @property
    def conversation_id(self) -> str:
        return self.turn.conversation_id

    @property
    def redacted_text(self) -> str:
        return self.scan.redacted
