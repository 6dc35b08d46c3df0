"""The decision walkthrough and the record amendment as pure dialogs (see dialogs/base.py).

The walkthrough runs the tree in content/trees/walkthrough.yaml with the engine; the amendment
corrects the typed answers of a stored record. Storing either is the core's job when the user
confirms (bot/walkthrough.py registers the completions and the ``decide`` and ``records`` commands).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.messages import CardField, Choice, Reply, ReplyKind
from bot.strings import Strings
from bot.summary import AMENDABLE_FIELDS
from dialogs import engine
from dialogs.base import DialogState, Inbound, Status
from dialogs.tree import Node, NodeKind, Option, TextCheck, Tree

WALKTHROUGH = "walkthrough"
AMEND = "amend_record"


class WalkthroughDialog:
    """The decision tree as a Dialog: pure steps by the engine; the summary is built on confirm."""

    name = WALKTHROUGH

    def __init__(self, tree: Tree, topics: Mapping[str, Any], content_version: str):
        self.tree = tree
        self.topics = dict(topics)
        self.content_version = content_version

    def start(self, args: str, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        """Begin; ``decide CR-1234`` answers the case reference step straight away."""
        state, replies = engine.start(self.tree, inbound, dialog=self.name, content_version=self.content_version)
        reference = args.strip()
        first = self.tree.node(self.tree.start)
        if reference and first.check is TextCheck.CASE_REFERENCE and engine.looks_like_case_reference(reference) \
                and not inbound.privacy_findings:
            state, following = self.step(state, replace(inbound, text=reference, choice=None))
            replies = [*replies[:-1], *following]
        return state, replies

    def step(self, state: DialogState, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        return engine.step(self.tree, state, inbound, topics=self.topics)

    def resume(self, state: DialogState) -> list[Reply]:
        """What a user coming back (a reloaded page, a restarted terminal) sees: where they were."""
        return [Reply(self.tree.strings.get("walkthrough.resumed"), private=True), engine.current(self.tree, state)]

    def summary(self, state: DialogState) -> dict[str, Any]:
        """The decision summary of a confirmed walkthrough (what the core stores as the record)."""
        return engine.build_summary(self.tree, state)


class AmendRecordDialog:
    """Correct the typed answers of a stored record; the result is a new record that amends it."""

    name = AMEND

    def __init__(self, strings: Strings):
        self.strings = strings

    def _field_node(self, name: str) -> Node:
        check = TextCheck.CASE_REFERENCE if name == "reference" else TextCheck.FREE
        return Node(id=name, kind=NodeKind.TEXT, prompt="", line=0, field=name, check=check,
                    max_chars=40 if name == "reference" else 300)

    def _options(self, state: DialogState) -> list[Option]:
        s = self.strings
        current = {**state["original"], **state["changes"]}
        options = [Option(value=name, label=f"{s.get(f'records.field.{name}')}: {current.get(name, '')}"[:75], next=(),
                          aliases=(s.get(f"records.field.{name}"),)) for name in AMENDABLE_FIELDS]
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
            "original": {name: str(record["summary"].get(name, "")) for name in AMENDABLE_FIELDS},
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
                return state, [engine.refusal_reply(refusal, inbound, s), again]
            text = " ".join(inbound.stored_text.split())
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
