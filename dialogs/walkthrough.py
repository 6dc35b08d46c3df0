"""The decision walkthrough and the decision records, as the user meets them in chat.

``decide`` starts the walkthrough (the tree in content/trees/walkthrough.yaml run by the engine);
"Record this" stores the summary as a decision record. ``records`` lists the user's own records,
``records show N`` shows one, and ``records amend N`` corrects a typed answer by storing a new
record linked to the original. :func:`install_walkthrough` wires all of it into the assistant.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot import records
from bot.messages import CardField, Choice, Reply, ReplyKind
from bot.numbers import whole_number
from dialogs import engine
from dialogs.base import DialogState, Inbound, Status
from dialogs.runner import ensure_runner
from dialogs.tree import Node, NodeKind, Option, TextCheck

if TYPE_CHECKING:
    from bot.content import Content
    from bot.context import TurnContext
    from bot.core import Assistant

log = logging.getLogger(__name__)

WALKTHROUGH = "walkthrough"
AMEND = "amend_record"
RECENT_RECORDS = 10


class WalkthroughDialog:
    """The decision tree as a Dialog: pure steps by the engine; storing the record on confirm."""

    name = WALKTHROUGH

    def __init__(self, content: Content, tree_name: str = WALKTHROUGH):
        self.content = content
        self.tree = content.trees[tree_name]
        self.topics = {topic.id: topic for topic in content.topics}

    def start(self, args: str, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        """Begin; ``decide CR-1234`` answers the case reference step straight away."""
        state, replies = engine.start(self.tree, inbound, dialog=self.name, content_version=self.content.version)
        reference = args.strip()
        first = self.tree.node(self.tree.start)
        if reference and first.check is TextCheck.CASE_REFERENCE and engine.looks_like_case_reference(reference) \
                and not inbound.privacy_findings:
            state, following = self.step(state, replace(inbound, text=reference, choice=None))
            replies = [*replies[:-1], *following]
        return state, replies

    def step(self, state: DialogState, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        return engine.step(self.tree, state, inbound, topics=self.topics)

    async def complete(self, state: DialogState, ctx: TurnContext) -> list[Reply]:
        summary = engine.build_summary(self.tree, state)
        assistant = ctx.assistant
        record, created = await records.store(assistant.engine, ctx.user_id, summary, f"decision:{state['id']}",
                                              assistant.clock())
        log.info("decision recorded", extra={"record": record.id, "decision": record.decision, "new": created})
        key = "walkthrough.recorded" if created else "walkthrough.already_recorded"
        return [Reply(assistant.strings.get(key, id=record.id), choices=[
            Choice(assistant.strings.get("choices.records"), "records")])]


class AmendRecordDialog:
    """Correct the typed answers of a stored record; the result is a new record that amends it."""

    name = AMEND

    def __init__(self, content: Content):
        self.strings = content.strings

    def _field_node(self, name: str) -> Node:
        check = TextCheck.CASE_REFERENCE if name == "reference" else TextCheck.FREE
        return Node(id=name, kind=NodeKind.TEXT, prompt="", line=0, field=name, check=check,
                    max_chars=40 if name == "reference" else 300)

    def _options(self, state: DialogState) -> list[Option]:
        s = self.strings
        current = {**state["original"], **state["changes"]}
        options = [Option(value=name, label=f"{s.get(f'records.field.{name}')}: {current.get(name, '')}"[:75], next=(),
                          aliases=(s.get(f"records.field.{name}"),)) for name in records.AMENDABLE_FIELDS]
        options.append(Option(value=str(engine.ReviewAction.DONE_EDITING), label=s.get("walkthrough.choice.done"),
                              next=(), aliases=("done", "finished")))
        return options

    def _menu(self, state: DialogState) -> Reply:
        return Reply(self.strings.get("records.amend_pick", id=state["record_id"]), kind=ReplyKind.STEP,
                     choices=[Choice(o.label, o.value) for o in self._options(state)])

    def _review(self, state: DialogState) -> Reply:
        s = self.strings
        fields = [CardField(s.get(f"records.field.{name}"), value) for name, value in state["changes"].items()]
        fields.append(CardField(s.get("records.field.amendment_note"), state["note"]))
        lines = [s.get("records.amend_review", id=state["record_id"])] + [f"{f.label}: {f.value}" for f in fields]
        return Reply("\n".join(lines), kind=ReplyKind.SUMMARY, fields=fields, choices=[
            Choice(s.get("walkthrough.choice.record"), str(engine.ReviewAction.RECORD)),
            Choice(s.get("walkthrough.choice.cancel"), str(engine.ReviewAction.CANCEL))])

    def start(self, args: str, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        record = inbound.extra["record"]
        now = inbound.now.isoformat()
        state: DialogState = {
            "dialog": self.name, "status": str(Status.ACTIVE), "started_at": now, "updated_at": now,
            "id": engine.walkthrough_id(inbound.user_id, now), "record_id": record["id"],
            "original": {name: str(record["summary"].get(name, "")) for name in records.AMENDABLE_FIELDS},
            "changes": {}, "phase": "pick", "editing": None, "note": "",
        }
        return state, [self._menu(state)]

    def step(self, state: DialogState, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        s = self.strings
        state = {**state, "changes": dict(state["changes"]), "updated_at": inbound.now.isoformat()}
        command = engine.parse_command(inbound.input) if inbound.choice is None else None
        if command is engine.Command.CANCEL or inbound.choice == engine.ReviewAction.CANCEL:
            return {**state, "status": str(Status.ENDED)}, [Reply(s.get("records.amend_cancelled"))]
        phase = state["phase"]
        if phase == "pick":
            option = engine.match_option(self._options(state), inbound.input)
            if option is None:
                return state, [Reply(s.get("walkthrough.unknown")), self._menu(state)]
            if option.value == engine.ReviewAction.DONE_EDITING:
                if not state["changes"]:
                    return {**state, "status": str(Status.ENDED)}, [Reply(s.get("records.amend_cancelled"))]
                state["phase"] = "note"
                return state, [Reply(s.get("records.amend_note"), kind=ReplyKind.STEP)]
            state.update(phase="text", editing=option.value)
            return state, [self._text_prompt(state)]
        if phase in ("text", "note"):
            node = self._field_node(state["editing"]) if phase == "text" else self._field_node("amendment_note")
            refusal = engine.check_text(node, inbound.text.strip(), inbound, s)
            if refusal:
                again = self._text_prompt(state) if phase == "text" else Reply(s.get("records.amend_note"))
                return state, [Reply(refusal), again]
            text = " ".join(inbound.text.split())
            if phase == "text":
                state["changes"][state["editing"]] = text
                state.update(phase="pick", editing=None)
                return state, [self._menu(state)]
            state.update(phase="review", note=text)
            return state, [self._review(state)]
        option = engine.match_option([Option(str(engine.ReviewAction.RECORD), s.get("walkthrough.choice.record"), (),
                                             aliases=engine.REVIEW_ALIASES[engine.ReviewAction.RECORD])],
                                     inbound.input)
        if option is None:
            return state, [Reply(s.get("walkthrough.review_unknown")), self._review(state)]
        return {**state, "status": str(Status.COMPLETE)}, []

    def _text_prompt(self, state: DialogState) -> Reply:
        name = state["editing"]
        current = {**state["original"], **state["changes"]}.get(name, "")
        return Reply(self.strings.get("records.amend_text", field=self.strings.get(f"records.field.{name}"),
                                      current=current), kind=ReplyKind.STEP)

    async def complete(self, state: DialogState, ctx: TurnContext) -> list[Reply]:
        assistant = ctx.assistant
        record = await records.amend(assistant.engine, ctx.user_id, state["record_id"], state["changes"],
                                     state["note"], assistant.clock(), idempotency_key=f"amend:{state['id']}")
        return [Reply(assistant.strings.get("records.amended", id=record.id, original=state["record_id"]))]


# ---------------------------------------------------------------------------------------- commands
def _record_reply(record: records.DecisionRecord, strings: Any) -> Reply:
    fields = [CardField(label, value) for label, value in records.summary_fields(record.summary, strings)]
    return Reply(records.summary_text(record.summary, strings, record.id), kind=ReplyKind.SUMMARY,
                 title=strings.get("records.record_number", id=record.id), fields=fields,
                 summary=record.summary, private=True)


def install_walkthrough(assistant: Assistant) -> None:
    """Register the walkthrough and record dialogs and the ``decide`` and ``records`` commands."""
    runner = ensure_runner(assistant)
    runner.register(AmendRecordDialog(assistant.content))

    async def decide(ctx: TurnContext, args: str) -> list[Reply]:
        return await runner.start(WALKTHROUGH, ctx, args)

    async def records_command(ctx: TurnContext, args: str) -> list[Reply]:
        s = assistant.strings
        words = args.lower().replace("#", " ").split()
        if words and words[0] == "list":
            words = words[1:]
        if not words:
            found = await records.list_records(assistant.engine, ctx.user_id, RECENT_RECORDS)
            if not found:
                return [Reply(s.get("records.none"), kind=ReplyKind.LIST, private=True,
                              choices=[Choice(s.get("choices.decide"), "decide")])]
            lines = [records.list_line(r, s) for r in found] + ["", s.get("records.list_hint")]
            return [Reply("\n".join(lines), kind=ReplyKind.LIST, title=s.get("records.list_title"), private=True,
                          choices=[Choice(f"#{r.id} {r.reference}", f"records show {r.id}") for r in found[:5]])]
        action, number = (words[0], words[1:]) if not words[0].isdigit() else ("show", words)
        if action not in {"show", "amend"} or len(number) != 1 or not (number[0].isascii() and number[0].isdigit()):
            return [Reply(s.get("records.usage"), private=True)]
        record_id = whole_number(number[0])
        if record_id is None:  # larger than any id the database can hold
            return [Reply(s.get("records.not_found", id=number[0][:30]), private=True)]
        try:
            record = await records.get_record(assistant.engine, ctx.user_id, record_id)
        except records.RecordNotFound:
            return [Reply(s.get("records.not_found", id=record_id), private=True)]
        if action == "show":
            return [_record_reply(record, s)]
        return await runner.start(AMEND, ctx, args, extra={"record": {"id": record.id, "summary": record.summary}})

    if WALKTHROUGH in assistant.content.trees:
        runner.register(WalkthroughDialog(assistant.content))
        assistant.register_command("decide", decide, "walkthrough.command_help")
    else:
        log.warning("no content/trees/walkthrough.yaml: the decide command is not available")
    assistant.register_command("records", records_command, "records.command_help")
