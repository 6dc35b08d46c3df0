"""The dialog runner: keeps each user's dialog state in the database and drives their dialogs.

It implements the core's ``DialogDriver``. State lives in ``conversation_state``, one row per
(user, conversation), written after every step, so a restart (even ``kill -9``) resumes exactly
where the user was, on any replica. Dialogs stay pure; the runner carries out the effects a step
returns (dialogs/base.py): it answers a question asked mid-way (the dialog's replies then repeat its
step), hands a confirmed outcome once to the completion registered with the dialog, and clears the
state when the dialog ends; it also closes stale dialogs after ``walkthrough_expiry_minutes``.
Every reply a dialog produces carries case details, so the runner marks them all private.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, assert_never

from sqlalchemy.exc import SQLAlchemyError

from bot.messages import Reply
from bot.privacy import redact
from bot.storage.confirmations import count_not_people
from bot.storage.dialog_states import DialogStates
from dialogs.base import OWN_NAME_PHASE, AnswerQuestion, Complete, Dialog, DialogState, End, Inbound, Step
from dialogs.engine import NOT_A_PERSON, PRESSABLE, ReviewAction

if TYPE_CHECKING:
    from bot.context import TurnContext
    from bot.core import Assistant

log = logging.getLogger(__name__)

# Button values that only mean something inside a dialog: pressed after it ended, they get a note.
STALE_BUTTON_VALUES = frozenset(str(a) for a in ReviewAction) | {NOT_A_PERSON} | {str(c) for c in PRESSABLE}

Outcome = TypeVar("Outcome")
# The confirmed action of a dialog (store the record, save the ISA): its outcome and the turn in, replies out.
Completion = Callable[[Outcome, "TurnContext"], Awaitable[list[Reply]]]


class DialogRunner:
    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.states = DialogStates(assistant.engine)
        self.dialogs: dict[str, Dialog[Any]] = {}
        self.completions: dict[str, Completion[Any]] = {}

    def register(self, dialog: Dialog[Outcome], complete: Completion[Outcome]) -> None:
        """Make a dialog startable by name (the walkthrough, the ISA editor, ...); ``complete`` does its I/O."""
        self.dialogs[dialog.name] = dialog
        self.completions[dialog.name] = complete

    # ------------------------------------------------------------------ the DialogDriver protocol
    async def is_active(self, ctx: TurnContext) -> bool:
        await self.state_for(ctx)
        return self.is_active_in(ctx)

    def is_active_in(self, ctx: TurnContext) -> bool:
        """Whether this turn goes to the runner, from the state already read for it."""
        return ctx.dialog_state is not None or ctx.turn.choice in STALE_BUTTON_VALUES

    async def handle(self, ctx: TurnContext) -> list[Reply]:
        s = self.assistant.strings
        state = await self.state_for(ctx)
        if state is None:
            return _private([Reply(s.get("walkthrough.stale_button"))])
        if self._expired(state):
            await self.clear(ctx.user_id, ctx.conversation_id)
            log.info("dialog expired", extra={"user": ctx.user_id, "dialog": state.get("dialog")})
            note = Reply(s.get("walkthrough.expired", minutes=self.assistant.settings.walkthrough_expiry_minutes))
            return _private([note]) + await self._outside_dialog(ctx)
        if ctx.turn.choice == NOT_A_PERSON:  # under a refused answer: the next typed answer is kept as written
            await self.save(ctx.user_id, ctx.conversation_id, {**state, "not_a_person": True})
            return _private([Reply(s.get("walkthrough.not_a_person_ok"))])
        dialog = self.dialogs.get(state.get("dialog", ""))
        if dialog is None:
            log.warning("state for an unknown dialog dropped", extra={"dialog": state.get("dialog")})
            await self.clear(ctx.user_id, ctx.conversation_id)
            return _private([Reply(s.get("walkthrough.unknown_dialog"))])
        ctx.own_details = state.get("phase") == OWN_NAME_PHASE  # they are typing their own name
        inbound = self.inbound(ctx)
        try:
            step = dialog.step({k: v for k, v in state.items() if k != "not_a_person"}, inbound)
        except Exception:  # a broken state or a bug: never a traceback, never a dead end the user can't leave
            log.exception("dialog step failed; state dropped", extra={"dialog": dialog.name, "user": ctx.user_id})
            await self.clear(ctx.user_id, ctx.conversation_id)
            return _private([Reply(s.get("walkthrough.unknown_dialog"))])
        if inbound.not_a_person and inbound.privacy_findings and _changed(state, step.state):
            await remember_not_people(self.assistant, ctx.scan.words_flagged(ctx.turn.text))
        return _private(await self._after_step(ctx, dialog, step))

    async def pending(self, ctx: TurnContext) -> list[Reply]:
        """Where this user's unfinished dialog is, for a channel showing it again (a reloaded page, a
        restarted terminal); nothing when none is running, it has expired, or the dialog cannot say."""
        state = await self.state_for(ctx)
        if state is None or self._expired(state):
            return []
        resume = getattr(self.dialogs.get(state.get("dialog", "")), "resume", None)
        if resume is None:
            return []
        try:
            return _private(resume(state))
        except (LookupError, TypeError, ValueError):  # a broken state: the next turn drops it with a note
            log.warning("could not show a pending dialog", extra={"dialog": state.get("dialog")})
            return []

    # ------------------------------------------------------------------ starting
    async def start(self, name: str, ctx: TurnContext, args: str = "",
                    extra: dict[str, Any] | None = None) -> list[Reply]:
        """Begin dialog ``name`` for this user and conversation (replacing any stale state)."""
        dialog = self.dialogs[name]
        return _private(await self._after_step(ctx, dialog, dialog.start(args, self.inbound(ctx, extra))))

    def inbound(self, ctx: TurnContext, extra: dict[str, Any] | None = None) -> Inbound:
        local_now = self.assistant.clock().astimezone(self.assistant.settings.tz)  # records show local time
        confirmed = bool(ctx.dialog_state and ctx.dialog_state.get("not_a_person"))
        return Inbound(text=ctx.turn.text, choice=ctx.turn.choice, now=local_now,
                       privacy_findings=ctx.scan.warning_kinds, user_id=ctx.user_id, user=ctx.turn.user,
                       extra=extra or {}, redacted=ctx.scan.redacted, not_a_person=confirmed,
                       redacted_unsure=redact(ctx.turn.text, [f for f in ctx.scan.findings if not f.certain]),
                       decider=ctx.own_name or ctx.turn.display_name)

    # ------------------------------------------------------------------ after each step
    async def _after_step(self, ctx: TurnContext, dialog: Dialog[Any], step: Step[Any]) -> list[Reply]:
        """Carry out the step's effects in order, then save the state, or clear it once the dialog is over."""
        replies = step.replies
        over = False
        for effect in step.effects:
            match effect:
                case AnswerQuestion(text):
                    answer, _ = await self.assistant.answer_question(ctx, text)
                    replies = [replace(r, choices=[]) for r in answer] + replies
                case Complete(outcome):
                    try:
                        replies = replies + await self.completions[dialog.name](outcome, ctx)
                    except SQLAlchemyError as exc:  # keep the state: confirming again is safe (idempotent)
                        log.error("dialog completion failed",
                                  extra={"dialog": dialog.name, "reason": type(exc).__name__})
                        return [*replies, Reply(self.assistant.strings.get("walkthrough.record_failed"))]
                    over = True
                case End():
                    over = True
                case _:
                    assert_never(effect)
        if over:
            await self.clear(ctx.user_id, ctx.conversation_id)
        else:
            await self.save(ctx.user_id, ctx.conversation_id, step.state)
        return replies

    async def _outside_dialog(self, ctx: TurnContext) -> list[Reply]:
        """After an expiry note, treat the input as if no dialog had been running."""
        if ctx.turn.choice is not None:
            return []
        command, args = self.assistant.parse_command(ctx.turn.input)
        if command is not None:
            return await self.assistant.commands[command].handler(ctx, args)
        replies, _ = await self.assistant.answer_question(ctx, ctx.turn.input)
        return replies

    def _expired(self, state: DialogState) -> bool:
        try:
            updated = datetime.fromisoformat(state["updated_at"])
        except (KeyError, TypeError, ValueError):
            return True
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=UTC)
        limit = timedelta(minutes=self.assistant.settings.walkthrough_expiry_minutes)
        return self.assistant.clock() - updated > limit

    # ------------------------------------------------------------------ storage
    async def state_for(self, ctx: TurnContext) -> DialogState | None:
        """The saved state for this turn's user and conversation, read from the database once a turn."""
        if not ctx.dialog_state_loaded:
            ctx.dialog_state = await self.load(ctx.user_id, ctx.conversation_id)
            ctx.dialog_state_loaded = True
        return None if ctx.dialog_state is None else dict(ctx.dialog_state)

    async def load(self, user_id: str, conversation_id: str) -> DialogState | None:
        return await self.states.load(user_id, conversation_id)

    async def save(self, user_id: str, conversation_id: str, state: DialogState) -> None:
        await self.states.save(user_id, conversation_id, state, self.assistant.clock())

    async def clear(self, user_id: str, conversation_id: str) -> None:
        await self.states.clear(user_id, conversation_id)


def _changed(before: DialogState, after: DialogState) -> bool:
    """Whether a step took the answer (anything but the clock and the confirmation flag moved)."""
    ignored = {"updated_at", "not_a_person"}
    return {k: v for k, v in before.items() if k not in ignored} != {k: v for k, v in after.items() if k not in ignored}


async def remember_not_people(assistant: Assistant, words: tuple[str, ...]) -> None:
    """Count the words a user confirmed are not a person, for the content owner's veto list.

    Only the flagged words are kept, never the answer they came from nor who typed them
    (``python -m bot privacy confirmations`` lists them).
    """
    now = assistant.clock()
    try:
        async with assistant.engine.begin() as conn:
            await count_not_people(conn, words, now)
    except SQLAlchemyError as exc:  # the answer is kept either way; the note for the content owner is best effort
        log.warning("could not note a not-a-person confirmation", extra={"reason": type(exc).__name__})


def _private(replies: list[Reply]) -> list[Reply]:
    for reply in replies:
        reply.private = True
    return replies

