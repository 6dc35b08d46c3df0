"""What every dialog (the decision walkthrough, the ISA editor) offers the dialog runner.

A dialog is pure: ``start`` and ``step`` take plain data and return a :class:`Step` (the new state,
the replies and the effects asked of the core), with no I/O, so they are trivially testable and the
state can be persisted after every step and resumed on any replica after a crash. Side effects are
the core's: the dialog runner (bot/dialog_runner.py) interprets each effect: it answers an
:class:`AnswerQuestion` before the step's replies, hands a :class:`Complete` outcome (the record to
store, the agreement to save) once to the completion registered with the dialog, and clears the state
after :class:`End` or a completion. Dialogs import only neutral types from ``bot``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from bot.identity import Identity
from bot.messages import Reply

# Dialog state is a JSON-serialisable dict, persisted while the dialog waits for the user's next input.
# Every dialog's state has at least "dialog" (its name), "phase" (one of its named phases) and
# "started_at"/"updated_at" (ISO times).
DialogState = dict[str, Any]
# The phase in which a dialog is asking the user's own name: the privacy guard's warning is not shown for it.
OWN_NAME_PHASE = "own_name"

Outcome = TypeVar("Outcome", covariant=True)  # what a dialog's confirmation hands the core (a record to store ...)


@dataclass(frozen=True, slots=True)
class AnswerQuestion:
    """The user asked a question mid-dialog: the runner answers it, then shows the step's replies (the
    step repeated), so the dialog never needs the question engine."""

    text: str


@dataclass(frozen=True, slots=True)
class Complete(Generic[Outcome]):
    """The user confirmed: the runner hands ``outcome`` to the dialog's completion once, then clears the
    state (if the completion fails the state is kept, so confirming again is safe)."""

    outcome: Outcome


@dataclass(frozen=True, slots=True)
class End:
    """Cancelled, or finished with nothing to do: the runner clears the state."""


Effect = AnswerQuestion | Complete[Outcome] | End


@dataclass(frozen=True, slots=True)
class Step(Generic[Outcome]):
    """What one ``start`` or ``step`` produced. Without a Complete or End effect the dialog carries on and
    the runner saves ``state``."""

    state: DialogState
    replies: list[Reply]
    effects: tuple[Effect[Outcome], ...] = ()


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


class Dialog(Protocol[Outcome]):
    name: str

    def start(self, args: str, inbound: Inbound) -> Step[Outcome]:
        """Begin the dialog (``args`` is whatever followed the command word)."""

    def step(self, state: DialogState, inbound: Inbound) -> Step[Outcome]:
        """Advance on one input. Pure: no I/O, no clock other than ``inbound.now``."""
