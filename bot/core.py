"""The channel-neutral core: one turn in, replies out.

Every adapter calls :meth:`Assistant.handle`. The order of a turn is fixed here and nowhere else:
drop duplicates, run the privacy guard, continue an active dialog or run a command, otherwise answer
the question; then add the one-time disclaimer and any privacy warning, and keep a redacted
transcript line. Commands (``decide``, ``records``, ``isa`` ...) are registered by the composition
root, so the core knows no feature by name except ``help`` and ``ask``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import privacy
from bot.config import Settings
from bot.content import Content
from bot.context import TurnContext
from bot.delivery import Delivery
from bot.dialog_runner import DialogRunner
from bot.identity import Addresses, Identity
from bot.messages import Choice, IncomingTurn, Reply, ReplyKind
from bot.qa import Answer
from bot.storage import turns
from bot.storage.db import utcnow
from bot.storage.group_commit import TurnRecord, TurnWriter, WriterClosed

log = logging.getLogger(__name__)

# What a database outage looks like from here: driver errors, refused connections, timeouts.
DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError, WriterClosed)

CommandHandler = Callable[[TurnContext, str], Awaitable[list[Reply]]]
# The value of a "one of these" topic button: pressing it answers that topic ("topic consent_refused").
TOPIC_CHOICE = "topic "


class QuestionAnswerer(Protocol):
    def answer(self, question: str) -> Answer: ...

    def topic_answer(self, topic_id: str) -> Answer | None: ...

    def command_for(self, text: str) -> str | None: ...


@dataclass(frozen=True)
class Command:
    name: str
    handler: CommandHandler
    help_key: str  # key in strings.yaml: one line saying what the command does
    changes_nothing: bool = False  # only reads and answers (help, ask): its turn is written once, at the end


TurnObserver = Callable[[str, float], None]  # (outcome, seconds) for metrics
# A feature that can answer some questions itself (e.g. from the ISA register): replies, or None to pass.
QuestionHook = Callable[[TurnContext, str], Awaitable[list[Reply] | None]]


def without_nul(turn: IncomingTurn) -> IncomingTurn:
    """NUL characters removed from everything a channel sent: no one types them, and PostgreSQL
    refuses them in text (which would lose the transcript or look like a database outage)."""
    def clean(value: str | None) -> str | None:
        return value.replace("\x00", "") if value else value

    def identity(who: Identity) -> Identity:
        return replace(who, id=clean(who.id) or "", scope=clean(who.scope))

    parts = (turn.text, turn.choice, turn.message_id, turn.user.id, turn.user.scope, turn.conversation.id,
             turn.conversation.scope)
    if not any(part and "\x00" in part for part in parts):
        return turn
    return replace(turn, text=clean(turn.text) or "", choice=clean(turn.choice), message_id=clean(turn.message_id),
                   user=identity(turn.user), conversation=identity(turn.conversation))


class Assistant:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        content: Content,
        qa: QuestionAnswerer,
        clock: Callable[[], datetime] = utcnow,
        addresses: Addresses | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.turn_writer = TurnWriter(engine)  # question turns' rows, committed together (group commit)
        self.content = content
        self.qa = qa
        self.clock = clock
        self.commands: dict[str, Command] = {}
        self.dialogs = DialogRunner(self)  # features register their dialogs on it
        self.delivery = Delivery()  # adapters register their proactive senders here
        self.addresses = addresses or Addresses()  # the channels' address parsers (see app.address_book)
        self.admins: frozenset[str] = frozenset()  # canonical keys of ADMINS, set by the composition root
        self.observers: list[TurnObserver] = []
        self.question_hooks: list[QuestionHook] = []  # tried in order before the guidance
        privacy.use_content(content.root)  # the veto list a safeguarding lead keeps in content/privacy.yaml
        self.register_command("help", self._help, "help.command", changes_nothing=True)
        self.register_command("ask", self._ask_command, "help.ask", changes_nothing=True)

    async def close(self) -> None:
        """Write the question turns still queued, then close the database (a server's or a CLI's last step)."""
        await self.turn_writer.close()
        await self.engine.dispose()

    @property
    def strings(self):
        return self.content.strings

    def register_command(self, name: str, handler: CommandHandler, help_key: str, *,
                         changes_nothing: bool = False) -> None:
        self.commands[name] = Command(name, handler, help_key, changes_nothing)

    # ------------------------------------------------------------------ the turn
    async def handle(self, turn: IncomingTurn) -> list[Reply]:
        started = time.perf_counter()
        outcome = "error"
        try:
            replies, outcome = await self._handle(turn)
            return replies
        finally:
            elapsed = time.perf_counter() - started
            for observer in self.observers:
                observer(outcome, elapsed)

    async def _handle(self, turn: IncomingTurn) -> tuple[list[Reply], str]:
        s = self.strings
        turn = without_nul(turn)
        if (chars := max(len(turn.text), len(turn.choice or ""))) > self.settings.max_message_chars:
            log.info("message too long", extra={"user": turn.user_id, "chars": chars})
            return [Reply(s.get("errors.too_long", limit=self.settings.max_message_chars))], "rejected"
        ctx = TurnContext(turn, privacy.scan(turn.text), self)
        key = f"turn:{turn.channel}:{turn.message_id}" if turn.message_id else None
        try:
            async with self.engine.connect() as conn:
                start = await turns.read_turn(conn, turn.user_id, turn.conversation_id, key)
            if not start.claimed:
                return self._duplicate(turn)
            ctx.dialog_state, ctx.dialog_state_loaded = start.dialog_state, True
            ctx.own_name = start.display_name
            if self._changes_nothing(ctx):  # answered with no connection held; written with other turns
                return await self._answer_and_write(ctx, key, start.last_seen)
            async with self.engine.begin() as conn:  # a dialog step or a command commits its key first,
                start = await turns.begin_turn(conn, turn.user_id, turn.conversation_id, key, self.clock())
                if not start.claimed:  # so it runs at most once
                    return self._duplicate(turn)
                ctx.dialog_state = start.dialog_state
                first_contact = await turns.touch_user(conn, turn.user_id, self.clock(), start.last_seen)
            replies, outcome = await self._route(ctx)
        except DATABASE_ERRORS as exc:
            log.error("database error during turn", extra={"reason": type(exc).__name__, "user": turn.user_id})
            return [Reply(s.get("errors.database"))], "error"
        replies = self._with_notices(ctx, replies, first_contact)
        try:  # the work is done and committed (key claimed, user touched); the transcript joins other turns'
            await self.turn_writer.write(self._record(ctx, replies, key=None, last_seen=self.clock()))
        except DATABASE_ERRORS as exc:  # only the transcript is lost
            log.warning("could not write transcript", extra={"reason": type(exc).__name__})
        return replies, outcome

    async def _answer_and_write(self, ctx: TurnContext, key: str | None,
                                last_seen: datetime | None) -> tuple[list[Reply], str]:
        """A question or a read-only command: answer, then hand the turn's key, user row, transcript and
        unanswered questions to the group commit; the replies go out once those are committed."""
        replies, outcome = await self._route(ctx)
        replies = self._with_notices(ctx, replies, first_contact=False)
        greeting = Reply(self.strings.get("disclaimer"), kind=ReplyKind.NOTICE) if last_seen is None else None
        written = await self.turn_writer.write(self._record(ctx, replies, key, last_seen, greeting))
        if not written.claimed:  # another delivery of this message was written first
            return self._duplicate(ctx.turn)
        return ([greeting] if written.first_contact and greeting else []) + replies, outcome

    def _record(self, ctx: TurnContext, replies: list[Reply], key: str | None, last_seen: datetime | None,
                greeting: Reply | None = None) -> TurnRecord:
        """What the turn leaves behind: redacted transcript lines (purged by retention), unanswered questions."""
        return TurnRecord(ctx.user_id, ctx.conversation_id, key, self.clock(), last_seen, ctx.redacted_text,
                          tuple(r.text for r in replies if not r.private), greeting.text if greeting else None,
                          tuple(ctx.unanswered))

    async def pending(self, turn: IncomingTurn) -> list[Reply]:
        """The user's unfinished walkthrough (or other dialog) in this conversation, shown again; [] if none.

        Channels that lose what was on screen (a reloaded web page, a restarted terminal) call it."""
        try:
            return await self.dialogs.pending(TurnContext(without_nul(turn), privacy.scan(""), self))
        except DATABASE_ERRORS as exc:
            log.warning("could not read a pending dialog", extra={"reason": type(exc).__name__})
            return []

    def _changes_nothing(self, ctx: TurnContext) -> bool:
        """A question or a read-only command, outside any dialog: nothing happens but the answer."""
        if self.dialogs.is_active_in(ctx):
            return False
        command, _ = self.parse_command(ctx.turn.input)
        return command is None or self.commands[command].changes_nothing

    def _duplicate(self, turn: IncomingTurn) -> tuple[list[Reply], str]:
        log.info("duplicate turn dropped", extra={"message_id": turn.message_id})
        return [], "duplicate"

    def _with_notices(self, ctx: TurnContext, replies: list[Reply], first_contact: bool) -> list[Reply]:
        """The one-time disclaimer and the privacy guard's warning go before the answer."""
        s = self.strings
        prefix: list[Reply] = []
        if first_contact:
            prefix.append(Reply(s.get("disclaimer"), kind=ReplyKind.NOTICE))
        if ctx.scan.certain and not ctx.own_details:  # the precision tier warns; all found is redacted either way
            kinds = ", ".join(s.get(f"privacy.kind.{k}") for k in ctx.scan.warning_kinds)
            prefix.append(Reply(s.get("privacy.warning", kinds=kinds), kind=ReplyKind.NOTICE))
            log.info("privacy guard fired", extra={"user": ctx.user_id, "kinds": list(ctx.scan.warning_kinds)})
        return prefix + replies

    async def _route(self, ctx: TurnContext) -> tuple[list[Reply], str]:
        if await self.dialogs.is_active(ctx):
            return await self.dialogs.handle(ctx), "dialog"
        command, args = self.parse_command(ctx.turn.input)
        if command is not None:
            return await self.commands[command].handler(ctx, args), f"command:{command}"
        return await self.answer_question(ctx, ctx.turn.input)

    def parse_command(self, text: str) -> tuple[str | None, str]:
        """``"/infoshare decide"``, ``"decide"``, ``"Decide please"`` -> ("decide", "please"); a whole message
        that is one of the vocabulary's command phrases ("walk me through a decision") -> ("decide", "")."""
        words = text.strip().lstrip("/").split(maxsplit=1)
        if words and words[0].lower() in {"infoshare", "@infoshare"}:
            words = words[1].split(maxsplit=1) if len(words) > 1 else []
        if not words:
            return None, ""
        meant = self.qa.command_for(" ".join(words))  # "walk me through a decision": what the button says
        if meant in self.commands:  # first, so "my records" is the records, not the "my" command
            return meant, ""
        name = words[0].lower().rstrip("!.?:")
        if name in self.commands:
            return name, words[1].strip() if len(words) > 1 else ""
        return None, ""

    # ------------------------------------------------------------------ questions
    async def answer_question(self, ctx: TurnContext, question: str) -> tuple[list[Reply], str]:
        """Answer from the guidance, or abstain and signpost a human; log what we could not answer."""
        if not question.strip():
            return [self.help_reply()], "smalltalk"
        for hook in self.question_hooks:
            hooked = await hook(ctx, question)
            if hooked is not None:
                return hooked, "answer"
        scan = ctx.scan if question == ctx.turn.text else privacy.scan(question)
        pressed = question.startswith(TOPIC_CHOICE) and self.qa.topic_answer(question[len(TOPIC_CHOICE):].strip())
        answer = pressed or self.qa.answer(privacy.without_details(question, scan.certain))
        if answer.smalltalk:
            return [Reply(answer.answer, kind=ReplyKind.SMALLTALK, choices=self.starter_choices())], "smalltalk"
        if answer.options:  # in scope, but which topic is not clear: offer the likely ones as buttons
            choices = [Choice(topic.title, TOPIC_CHOICE + topic.id)
                       for topic in map(self.content.topic, answer.options) if topic is not None]
            self._not_answered(ctx, scan.redacted)
            return [Reply(answer.answer, kind=ReplyKind.ABSTAIN, choices=choices)], "options"
        if not answer.answered:
            self._not_answered(ctx, scan.redacted)
            return [Reply(answer.answer, kind=ReplyKind.ABSTAIN, sources=list(answer.sources))], "abstain"
        topic = self.content.topic(answer.topic) if answer.topic else None
        choices = [Choice(self.strings.get("choices.start_walkthrough"), "decide")] if (
            topic and topic.offer_walkthrough and "decide" in self.commands) else []
        return [Reply(answer.answer, kind=ReplyKind.ANSWER, title=topic.title if topic else None,
                      sources=list(answer.sources), choices=choices)], "answer"

    def _not_answered(self, ctx: TurnContext, redacted_question: str) -> None:
        """Stored with the turn's transcript, so a content owner sees what the guidance is missing."""
        ctx.unanswered.append(redacted_question)
        log.info("unanswered question", extra={"question": redacted_question[:300]})

    async def _ask_command(self, ctx: TurnContext, args: str) -> list[Reply]:
        if not args.strip():
            return [Reply(self.strings.get("help.ask_usage"))]
        replies, _ = await self.answer_question(ctx, args)
        return replies

    async def _help(self, ctx: TurnContext, args: str) -> list[Reply]:
        return [self.help_reply()]

    def help_reply(self) -> Reply:
        s = self.strings
        lines = [s.get("help.intro")]
        lines += [f"• `{c.name}` – {s.get(c.help_key)}" for c in self.commands.values()]
        lines.append(s.get("help.outro"))
        return Reply("\n".join(lines), kind=ReplyKind.SMALLTALK, title=s.get("help.title"),
                     choices=self.starter_choices())

    def starter_choices(self) -> list[Choice]:
        return [Choice(self.strings.get(f"choices.{name}"), name)
                for name in ("decide", "records") if name in self.commands]
