"""The ``isa`` chat command: read the register, change it (admins and owners), and set reminders.

``isa list [words]``, ``isa show <id>``, ``isa due [days]``, ``isa history <id>``, ``isa add`` and
``isa edit <id>`` (a short dialog when the dialog runner is available, else a one-line
``field=value | field=value`` form), ``isa reviewed <id> [YYYY-MM-DD]`` and ``isa snooze <id> [days]``
(the reminder buttons send these), ``isa remind weekly mon 09:00`` and ``isa remind off``.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.context import TurnContext
from bot.isa.model import EDITABLE_FIELDS, ISA, ISAStatus, ISAValidationError, build_isa, can_edit
from bot.isa.search import search
from bot.messages import CardField, Choice, Link, Reply, ReplyKind, Source
from bot.numbers import whole_number
from bot.reminders.message import SNOOZE_DAYS, one_year_after
from bot.reminders.schedule import WEEKDAYS, parse_time_of_day, parse_weekday
from bot.storage import subscriptions
from bot.storage.register import ISANotFound, audit, due_isas, get_isa, history, list_isas, save_isa
from bot.storage.register import snooze as snooze_isa
from bot.storage.turns import display_name
from bot.strings import Strings

log = logging.getLogger(__name__)

DUE_WITHIN_DAYS = 30
MAX_SNOOZE_DAYS = 90
MAX_DUE_DAYS = 3650  # `isa due` looks ten years ahead at most (further would overflow the date arithmetic)


class CommandError(Exception):
    """A user mistake; the message (from strings.yaml) is shown as it is."""


def isa_fields(ctx: TurnContext, isa: ISA, owner_name: str | None = None) -> list[CardField]:
    s = ctx.assistant.strings
    owner = s.get("isa.owner_named", name=owner_name, id=isa.owner) if owner_name else isa.owner
    values = [("parties", ", ".join(isa.parties)), ("purpose", isa.purpose),
              ("data_categories", ", ".join(isa.data_categories)), ("lawful_basis", isa.lawful_basis),
              ("article9_condition", isa.article9_condition or ""), ("owner", owner),
              ("start_date", isa.start_date.isoformat()), ("review_date", isa.review_date.isoformat()),
              ("status", str(isa.status)), ("channels", ", ".join(isa.channels) or s.get("isa.owner_only"))]
    return [CardField(s.get(f"isa.field.{name}"), value) for name, value in values if value]


def isa_card(ctx: TurnContext, isa: ISA, owner_name: str | None = None) -> Reply:
    """One agreement in full; the owner by name where they have one (an opaque id alone names nobody)."""
    s = ctx.assistant.strings
    links = [Link(s.get("reminders.button_document"), isa.document_url)] if isa.document_url else []
    return Reply(s.get("isa.show_text", id=isa.id, purpose=isa.purpose), kind=ReplyKind.LIST, title=isa.title,
                 fields=isa_fields(ctx, isa, owner_name), links=links,
                 sources=[Source(isa.title, s.get("isa.register_entry", id=isa.id))])


def isa_line(ctx: TurnContext, isa: ISA) -> str:
    return ctx.assistant.strings.get("isa.list_line", id=isa.id, title=isa.title, status=str(isa.status),
                                     date=isa.review_date.isoformat(), parties=", ".join(isa.parties))


def today(ctx: TurnContext) -> date:
    return ctx.assistant.clock().astimezone(ctx.assistant.settings.tz).date()


def parse_id(text: str) -> int:
    word = text.strip().lstrip("#")
    if not (word.isascii() and word.isdigit()):
        raise CommandError("isa.need_id")
    isa_id = whole_number(word)
    if isa_id is None:  # larger than any id the database can hold
        raise ISANotFound(word[:30])
    return isa_id


def parse_assignments(text: str) -> dict[str, str]:
    """``title=Police ISA | review_date=2027-09-01`` -> {"title": ..., "review_date": ...}."""
    values: dict[str, str] = {}
    for part in text.split("|"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower().replace(" ", "_")
        if not sep or name not in EDITABLE_FIELDS:
            raise CommandError("isa.form_usage")
        values[name] = value.strip()
    return values


def invalid_reply(strings: Strings, error: ISAValidationError) -> Reply:
    """Every problem with an agreement, field by field, worded by content."""
    problems = "\n".join(strings.get("isa.field_problem", field=strings.get(f"isa.field.{e.field}"),
                                     reason=e.reason(strings)) for e in error.errors)
    return Reply(strings.get("isa.invalid", problems=problems))


class ISACommand:
    """The ``isa`` command handler; ``isa add`` and ``isa edit <id>`` without fields start the form dialog."""

    def __init__(self, form_dialog: str) -> None:
        self.form_dialog = form_dialog

    async def __call__(self, ctx: TurnContext, args: str) -> list[Reply]:
        words = args.split(maxsplit=1)
        action = words[0].lower() if words else "help"
        rest = words[1] if len(words) > 1 else ""
        handler = getattr(self, f"_{action}", None) if action.isalpha() else None
        s = ctx.assistant.strings
        if handler is None:
            return [Reply(s.get("isa.usage"), kind=ReplyKind.NOTICE, title=s.get("isa.usage_title"))]
        try:
            return await handler(ctx, rest)
        except CommandError as exc:
            return [Reply(s.get(str(exc)))]
        except ISANotFound as exc:
            return [Reply(s.get("isa.not_found", id=exc.args[0]))]
        except ISAValidationError as exc:
            return [invalid_reply(s, exc)]
        except SQLAlchemyError as exc:
            log.error("isa command database error", extra={"reason": type(exc).__name__})
            return [Reply(s.get("errors.database"))]

    # ------------------------------------------------------------------ reading (everyone)
    async def _help(self, ctx: TurnContext, rest: str) -> list[Reply]:
        s = ctx.assistant.strings
        return [Reply(s.get("isa.usage"), kind=ReplyKind.NOTICE, title=s.get("isa.usage_title"))]

    async def _list(self, ctx: TurnContext, rest: str) -> list[Reply]:
        s = ctx.assistant.strings
        async with ctx.assistant.engine.connect() as conn:
            agreements = await list_isas(conn)
        if rest.strip():
            agreements = search(agreements, rest)
        if not agreements:
            return [Reply(s.get("isa.list_empty_search" if rest.strip() else "isa.list_empty"))]
        lines = [isa_line(ctx, isa) for isa in agreements]
        return [Reply("\n".join(lines), kind=ReplyKind.LIST, title=s.get("isa.list_title", count=len(lines)),
                      choices=[Choice(s.get("isa.button_show", id=isa.id), f"isa show {isa.id}")
                               for isa in agreements[:5]])]

    async def _show(self, ctx: TurnContext, rest: str) -> list[Reply]:
        async with ctx.assistant.engine.connect() as conn:
            isa = await get_isa(conn, parse_id(rest))
            owner_name = await display_name(conn, isa.owner)
        return [isa_card(ctx, isa, owner_name)]

    async def _due(self, ctx: TurnContext, rest: str) -> list[Reply]:
        s = ctx.assistant.strings
        asked = whole_number(rest)
        days = DUE_WITHIN_DAYS if asked is None else min(asked, MAX_DUE_DAYS)
        async with ctx.assistant.engine.connect() as conn:
            agreements = await due_isas(conn, today(ctx), days)
        if not agreements:
            return [Reply(s.get("isa.due_none", days=days))]
        return [Reply("\n".join(isa_line(ctx, isa) for isa in agreements), kind=ReplyKind.LIST,
                      title=s.get("isa.due_title", days=days))]

    async def _history(self, ctx: TurnContext, rest: str) -> list[Reply]:
        s = ctx.assistant.strings
        isa_id = parse_id(rest)
        async with ctx.assistant.engine.connect() as conn:
            isa = await get_isa(conn, isa_id)
            entries = await history(conn, isa_id)
        lines = []
        for entry in entries:
            changed = ", ".join(sorted(entry["details"].get("changes", {}))) or ", ".join(
                f"{k}={v}" for k, v in entry["details"].items())
            lines.append(s.get("isa.history_line", at=entry["at"].strftime("%Y-%m-%d %H:%M"),
                               actor=s.get(f"isa.actor.{actor_role(ctx, entry['actor'], isa)}"),
                               action=entry["action"], changes=changed))
        return [Reply("\n".join(lines) or s.get("isa.history_none"), kind=ReplyKind.LIST,
                      title=s.get("isa.history_title", title=isa.title))]

    # ------------------------------------------------------------------ changing (admins and owners)
    async def _add(self, ctx: TurnContext, rest: str) -> list[Reply]:
        if not can_edit(ctx.assistant.admins, ctx.user_id, None):
            return [not_allowed(ctx)]
        if not rest.strip():
            return await ctx.assistant.dialogs.start(self.form_dialog, ctx, "add")
        values = parse_assignments(rest)
        values.setdefault("owner", ctx.user_id)
        values.setdefault("status", str(ISAStatus.ACTIVE))
        return await save_from_form(ctx, None, values)

    async def _edit(self, ctx: TurnContext, rest: str) -> list[Reply]:
        id_text, _, assignments = rest.strip().partition(" ")
        isa_id = parse_id(id_text)
        async with ctx.assistant.engine.connect() as conn:
            current = await get_isa(conn, isa_id)
        if not can_edit(ctx.assistant.admins, ctx.user_id, current):
            return [not_allowed(ctx)]
        if not assignments.strip():
            return await ctx.assistant.dialogs.start(self.form_dialog, ctx, f"edit {isa_id}")
        return await save_from_form(ctx, isa_id, parse_assignments(assignments))

    async def _reviewed(self, ctx: TurnContext, rest: str) -> list[Reply]:
        s = ctx.assistant.strings
        id_text, _, date_text = rest.strip().partition(" ")
        isa_id = parse_id(id_text)
        try:
            new_date = date.fromisoformat(date_text.strip()) if date_text.strip() else None
        except ValueError:
            raise CommandError("isa.bad_date") from None
        async with ctx.assistant.engine.begin() as conn:
            isa = await get_isa(conn, isa_id)
            if not can_edit(ctx.assistant.admins, ctx.user_id, isa):
                return [not_allowed(ctx)]
            new_date = new_date or one_year_after(max(today(ctx), isa.review_date))
            if new_date <= today(ctx):
                raise CommandError("isa.review_in_past")
            isa.review_date = new_date
            if isa.status == ISAStatus.UNDER_REVIEW:
                isa.status = ISAStatus.ACTIVE
            await save_isa(conn, isa, ctx.user_id, ctx.assistant.clock(), action="isa.reviewed")
        return [Reply(s.get("isa.reviewed", title=isa.title, date=new_date.isoformat()))]

    async def _snooze(self, ctx: TurnContext, rest: str) -> list[Reply]:
        s = ctx.assistant.strings
        id_text, _, days_text = rest.strip().partition(" ")
        isa_id = parse_id(id_text)
        days = whole_number(days_text) if days_text.strip() else SNOOZE_DAYS
        if days is None or not 1 <= days <= MAX_SNOOZE_DAYS:
            raise CommandError("isa.bad_snooze")
        until = today(ctx) + timedelta(days=days)
        async with ctx.assistant.engine.begin() as conn:
            isa = await get_isa(conn, isa_id)
            if not can_edit(ctx.assistant.admins, ctx.user_id, isa):
                return [not_allowed(ctx)]
            await snooze_isa(conn, isa, until, ctx.user_id, ctx.assistant.clock())
        return [Reply(s.get("isa.snoozed", title=isa.title, date=until.isoformat()))]

    async def _remind(self, ctx: TurnContext, rest: str) -> list[Reply]:
        """``isa remind weekly mon 09:00`` / ``isa remind off`` for this conversation."""
        s = ctx.assistant.strings
        words = rest.lower().split()
        channel = ctx.conversation_id
        now = ctx.assistant.clock()
        actor = ctx.user_id
        async with ctx.assistant.engine.begin() as conn:
            current = await subscriptions.for_channel(conn, channel)
            if (words and current is not None and current.active  # replacing or stopping one in force
                    and not await may_change_reminder(conn, ctx, current.created_by, channel)):
                return [not_allowed(ctx)]
            if words == ["off"]:
                if current is None or not current.active:
                    return [Reply(s.get("isa.remind_none"))]
                await subscriptions.turn_off(conn, current.id, "off")
                await audit(conn, actor, "reminder.off", channel, {}, now)
                return [Reply(s.get("isa.remind_off"))]
            if not words:
                if current is None or not current.active:
                    return [Reply(s.get("isa.remind_none"))]
                return [Reply(s.get("isa.remind_set", day=WEEKDAYS[current.weekday], time=current.time_of_day,
                                    timezone=current.timezone))]
            if len(words) != 3 or words[0] != "weekly":
                raise CommandError("isa.remind_usage")
            try:
                weekday, at = parse_weekday(words[1]), parse_time_of_day(words[2])
            except ValueError:
                raise CommandError("isa.remind_usage") from None
            time_of_day, timezone = at.strftime("%H:%M"), ctx.assistant.settings.timezone
            await subscriptions.subscribe(conn, channel, actor, now, weekday=weekday, time_of_day=time_of_day,
                                          timezone=timezone)
            await audit(conn, actor, "reminder.set", channel, {"weekday": WEEKDAYS[weekday], "time": time_of_day}, now)
        return [Reply(s.get("isa.remind_set", day=WEEKDAYS[weekday], time=time_of_day, timezone=timezone))]


def actor_role(ctx: TurnContext, actor: str, isa: ISA) -> str:
    """Who made a change, as the reader may see it: ``you`` or a role, never another person's id."""
    if actor == ctx.user_id:
        return "you"
    if actor.startswith("cli:") or actor in ctx.assistant.admins:
        return "admin"  # the command line is run by whoever administers the server
    return "owner" if actor == isa.owner else "other"


async def may_change_reminder(conn, ctx: TurnContext, created_by: str, channel: str) -> bool:
    """The ISA edit rule for a reminder in force: admins, whoever set it, or the owner of an agreement
    that reminds this conversation. Anyone may set one where none is in force (it takes nothing away)."""
    admins, user = ctx.assistant.admins, ctx.user_id
    if can_edit(admins, user, None) or user == created_by:
        return True
    return any(can_edit(admins, user, isa) for isa in await list_isas(conn) if channel in isa.channels)


def not_allowed(ctx: TurnContext) -> Reply:
    log.info("isa change refused", extra={"user": ctx.user_id})
    # Private: pressing Snooze or Mark reviewed on a channel's reminder must not post a refusal to the channel.
    return Reply(ctx.assistant.strings.get("isa.not_allowed"), private=True)


async def save_from_form(ctx: TurnContext, isa_id: int | None, values: dict[str, str]) -> list[Reply]:
    """Validate the whole agreement with ``values`` applied, check permission, save and audit."""
    s = ctx.assistant.strings
    async with ctx.assistant.engine.begin() as conn:
        current = await get_isa(conn, isa_id) if isa_id is not None else None
        merged = current.comparable() if current else {}
        merged.update(values)
        isa = build_isa(merged, ctx.assistant.addresses, isa_id, within=ctx.turn.user)
        # Admins add agreements (the register is what others rely on); an owner may change, or hand over, theirs.
        if not can_edit(ctx.assistant.admins, ctx.user_id, current):
            return [not_allowed(ctx)]
        await save_isa(conn, isa, ctx.user_id, ctx.assistant.clock())
        owner_name = await display_name(conn, isa.owner)
    key = "isa.added" if isa_id is None else "isa.updated"
    return [Reply(s.get(key, id=isa.id, title=isa.title)), isa_card(ctx, isa, owner_name)]
