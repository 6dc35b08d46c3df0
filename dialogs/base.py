"""What every dialog (the decision walkthrough, the ISA editor) offers the dialog runner.

A dialog is pure: ``start`` and ``step`` take plain data and return the new state and the replies,
with no I/O, so they are trivially testable and the state can be persisted after every step and
resumed on any replica after a crash. Side effects (storing a confirmed record, saving an ISA) are
the core's: the dialog runner (bot/dialog_runner.py) calls the completion registered with the
dialog once, when a step reports ``Status.COMPLETE``. Dialogs import only neutral types from ``bot``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.identity import Identity
from bot.messages import Reply

# Dialog state is a JSON-serialisable dict. Every dialog's state has at least:
#   "dialog": the dialog's name, "status": a Status value, "started_at"/"updated_at": ISO times.
DialogState = dict[str, Any]
# The phase in which a dialog is asking the user's own name: the privacy guard's warning is not shown for it.
OWN_NAME_PHASE = "own_name"


class Status(StrEnum):
    ACTIVE = "active"  # waiting for the user's next input
    COMPLETE = "complete"  # the user confirmed; the runner calls ``complete`` then clears the state
    ENDED = "ended"  # cancelled or finished with nothing to do; the runner clears the state


@dataclass(frozen=True, slots=True)
class Inbound:
    """The user's input as a dialog sees it."""

    text: str
    choice: str | None
    now: datetime
    privacy_findings: tuple[str, ...] = ()  # kinds of identifying detail the guard is sure of in ``text``
    user_id: str = ""
    user: Identity | None = None  # who typed it, for addresses they type (``slack:C2`` is in their workspace)
    extra: dict[str, Any] = field(default_factory=dict)
    redacted: str | None = None  # ``text`` with everything the guard found (sure or not) redacted
    redacted_unsure: str | None = None  # ``text`` with only what the guard was unsure of redacted
    not_a_person: bool = False  # the user pressed "It is not a person" for their last refused answer
    decider: str | None = None  # the user's own name (and role), as they typed it or their platform knows it

    @property
    def input(self) -> str:
        return self.choice if self.choice is not None else self.text

    @property
    def stored_text(self) -> str:
        """What a typed answer is kept as: redacted; once the user confirmed the sure findings name no person,
        only the unsure ones are."""
        kept = self.redacted_unsure if self.not_a_person else self.redacted
        return self.text if kept is None else kept


class Dialog(Protocol):
    name: str

    def start(self, args: str, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        """Begin the dialog (``args`` is whatever followed the command word)."""

    def step(self, state: DialogState, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        """Advance on one input. Pure: no I/O, no clock other than ``inbound.now``."""
