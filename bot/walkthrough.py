"""The decision walkthrough and the decision records, as the user meets them in chat.

``decide`` starts the walkthrough (the pure dialog in dialogs/walkthrough.py); "Record this" stores
the summary as a decision record. ``records`` lists the user's own records, ``records show N`` shows
one, and ``records amend N`` corrects a typed answer by storing a new record linked to the original.
:func:`install_walkthrough` registers the dialogs, their completions and the commands.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot import records
from bot.context import TurnContext
from bot.messages import CardField, Choice, Reply, ReplyKind
from bot.numbers import whole_number
from bot.storage import records as record_store
from bot.storage import turns
from bot.strings import Strings
from bot.summary import summary_fields, summary_text
from dialogs.engine import OWN_NAME_CHARS, Decision, own_name
from dialogs.walkthrough import AMEND, WALKTHROUGH, Amendment, AmendRecordDialog, WalkthroughDialog

if TYPE_CHECKING:
    from bot.core import Assistant

log = logging.getLogger(__name__)

RECENT_RECORDS = 10


def record_reply(record: records.DecisionRecord, strings: Strings) -> Reply:
    fields = [CardField(label, value) for label, value in summary_fields(record.summary, strings)]
    return Reply(summary_text(record.summary, strings, record.id), kind=ReplyKind.SUMMARY,
                 title=strings.get("records.record_number", id=record.id), fields=fields,
                 summary=record.summary, private=True)


async def recent_records(assistant: Assistant, user_id: str) -> Reply:
    """``records``: the user's recent decision records, each a button, or how to make the first."""
    s = assistant.strings
    found = await record_store.list_records(assistant.engine, user_id, RECENT_RECORDS)
    if not found:
        return Reply(s.get("records.none"), kind=ReplyKind.LIST, private=True,
                     choices=[Choice(s.get("choices.decide"), "decide")])
    lines = [records.list_line(r, s) for r in found] + ["", s.get("records.list_hint")]
    return Reply("\n".join(lines), kind=ReplyKind.LIST, title=s.get("records.list_title"), private=True,
                 choices=[Choice(f"#{r.id} {r.reference}", f"records show {r.id}") for r in found[:5]])


async def remember_own_name(assistant: Assistant, ctx: TurnContext, name: str) -> None:
    async with assistant.engine.begin() as conn:
        await turns.set_display_name(conn, ctx.user_id, name)


async def my_name(assistant: Assistant, ctx: TurnContext, args: str) -> list[Reply]:
    """``my name Jane Smith, DSL``: the name (and role) the user's next records show as who decided."""
    s = assistant.strings
    word, _, rest = args.partition(" ")
    if word.lower() != "name":
        return [Reply(s.get("records.my_name_usage"), private=True)]
    if not rest.strip():
        current = ctx.own_name or ctx.turn.display_name
        key = "records.my_name_current" if current else "records.my_name_usage"
        return [Reply(s.get(key, name=current or ""), private=True)]
    name = own_name(rest)
    if name is None:
        return [Reply(s.get("walkthrough.own_name_refused", limit=OWN_NAME_CHARS), private=True)]
    ctx.own_details = True
    await remember_own_name(assistant, ctx, name)
    return [Reply(s.get("records.my_name_saved", name=name), private=True)]


async def show_or_amend_records(assistant: Assistant, ctx: TurnContext, args: str) -> list[Reply]:
    """``records`` (the recent ones), ``records 12`` / ``records show 12``, ``records amend 12``."""
    s = assistant.strings
    words = args.lower().replace("#", " ").split()
    if words and words[0] == "list":
        words = words[1:]
    if not words:
        return [await recent_records(assistant, ctx.user_id)]
    action, number = (words[0], words[1:]) if not words[0].isdigit() else ("show", words)
    if action not in {"show", "amend"} or len(number) != 1 or not (number[0].isascii() and number[0].isdigit()):
        return [Reply(s.get("records.usage"), private=True)]
    record_id = whole_number(number[0])
    if record_id is None:  # larger than any id the database can hold
        return [Reply(s.get("records.not_found", id=number[0][:30]), private=True)]
    try:
        record = await record_store.get_record(assistant.engine, ctx.user_id, record_id)
    except records.RecordNotFound:
        return [Reply(s.get("records.not_found", id=record_id), private=True)]
    if action == "show":
        return [record_reply(record, s)]
    return await assistant.dialogs.start(AMEND, ctx, args,
                                         extra={"record": {"id": record.id, "summary": record.summary}})


def install_walkthrough(assistant: Assistant) -> None:
    """Register the walkthrough and record dialogs and the ``decide`` and ``records`` commands."""
    runner = assistant.dialogs
    content = assistant.content

    async def store_decision(decision: Decision, ctx: TurnContext) -> list[Reply]:
        now = assistant.clock()
        # The record's time is the summary's: the moment it was confirmed, in the local zone it is shown in.
        local = now.astimezone(assistant.settings.tz)
        summary = {**decision.summary, "decided_at": local.isoformat(), "decided_tz": local.tzname() or ""}
        if decision.typed_name:
            await remember_own_name(assistant, ctx, decision.typed_name)
        record, created = await record_store.store(assistant.engine, ctx.user_id, summary,
                                                   f"decision:{decision.walkthrough_id}", now)
        log.info("decision recorded", extra={"record": record.id, "decision": record.decision, "new": created})
        key = "walkthrough.recorded" if created else "walkthrough.already_recorded"
        return [Reply(assistant.strings.get(key, id=record.id), choices=[
            Choice(assistant.strings.get("choices.records"), "records")])]

    async def store_amendment(amendment: Amendment, ctx: TurnContext) -> list[Reply]:
        record = await record_store.amend(assistant.engine, ctx.user_id, amendment.record_id, amendment.changes,
                                          amendment.note, assistant.clock(),
                                          idempotency_key=f"amend:{amendment.amendment_id}")
        return [Reply(assistant.strings.get("records.amended", id=record.id, original=amendment.record_id))]

    async def my_command(ctx: TurnContext, args: str) -> list[Reply]:
        return await my_name(assistant, ctx, args)

    async def decide(ctx: TurnContext, args: str) -> list[Reply]:
        return await runner.start(WALKTHROUGH, ctx, args)

    async def records_command(ctx: TurnContext, args: str) -> list[Reply]:
        return await show_or_amend_records(assistant, ctx, args)

    runner.register(AmendRecordDialog(content.strings), store_amendment)
    if WALKTHROUGH in content.trees:
        walkthrough = WalkthroughDialog(content.trees[WALKTHROUGH], {t.id: t for t in content.topics},
                                        content.version)
        runner.register(walkthrough, store_decision)
        assistant.register_command("decide", decide, "walkthrough.command_help")
    else:
        log.warning("no content/trees/walkthrough.yaml: the decide command is not available")
    assistant.register_command("records", records_command, "records.command_help")
    assistant.register_command("my", my_command, "records.my_name_help")
