"""The decision walkthrough and the record amendment as pure dialogs (see dialogs/base.py).

The walkthrough runs the tree in content/trees/walkthrough.yaml with the engine; the amendment
corrects the typed answers of a stored record. Each confirms with a :class:`~dialogs.base.Complete`
effect (a :class:`~dialogs.engine.Decision` or an :class:`Amendment`); storing it is the core's job
(bot/walkthrough.py registers the completions and the ``decide`` and ``records`` commands).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bot.messages import CardField, Choice, Reply, ReplyKind
from bot.strings import Strings
from bot.summary import AMENDABLE_FIELDS
from dialogs import engine
from dialogs.base import Complete, DialogState, End, Inbound, Step
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

    def start(self, args: str, inbound: Inbound) -> engine.WalkthroughStep:
        """Begin; ``decide CR-1234`` answers the case reference step straight away."""
        begun = engine.start(self.tree, inbound, dialog=self.name, content_version=self.content_version)
        reference = args.strip()
        first = self.tree.node(self.tree.start)
        if reference and first.check is TextCheck.CASE_REFERENCE and engine.looks_like_case_reference(reference) \
                and not inbound.privacy_findings:
            following = self.step(begun.state, replace(inbound, text=reference, choice=None))
            return replace(following, replies=[*begun.replies[:-1], *following.replies])
        return begun

    def step(self, state: DialogState, inbound: Inbound) -> engine.WalkthroughStep:
        return engine.step(self.tree, state, inbound, topics=self.topics)

    def resume(self, state: DialogState) -> list[Reply]:
        """What a user coming back (a reloaded page, a restarted terminal) sees: where they were."""
        return [Reply(self.tree.strings.get("walkthrough.resumed"), private=True), engine.current(self.tree, state)]


class AmendPhase(StrEnum):
    """Where an amendment is: the menu of fields, a field's new text, the note saying why, the review."""

    PICK = "pick"  # choosing a field to correct, or Done
    TEXT = "text"  # typing the corrected value of ``editing``
    NOTE = "note"  # typing why the record is amended
    REVIEW = "review"  # the changes are shown: record or cancel


@dataclass(frozen=True, slots=True)
class Amendment:
    """A confirmed amendment: the corrected fields and the note, for the core to store as a new record."""

    record_id: int
    changes: dict[str, str]
    note: str
    amendment_id: str  # the new record's idempotency key: confirming twice stores it once


AmendStep = Step[Amendment]


class AmendRecordDialog:
    """Correct the typed answers of a stored record; the result is a new record that amends it."""

    name = AMEND

    def __init__(self, strings: Strings):
        self.strings = strings
        self._steps: dict[AmendPhase, Callable[[DialogState, Inbound], AmendStep]] = {
            AmendPhase.PICK: self._pick, AmendPhase.TEXT: self._typed, AmendPhase.NOTE: self._typed,
            AmendPhase.REVIEW: self._confirm}

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

    def start(self, args: str, inbound: Inbound) -> AmendStep:
        record = inbound.extra["record"]
        now = inbound.now.isoformat()
        state: DialogState = {
            "dialog": self.name, "started_at": now, "updated_at": now,
            "id": engine.walkthrough_id(inbound.user_id, now), "record_id": record["id"],
            "original": {name: str(record["summary"].get(name, "")) for name in AMENDABLE_FIELDS},
            "changes": {}, "phase": str(AmendPhase.PICK), "editing": None, "note": "",
        }
        return Step(state, [self._menu(state)])

    def step(self, state: DialogState, inbound: Inbound) -> AmendStep:
        state = {**state, "changes": dict(state["changes"]), "updated_at": inbound.now.isoformat()}
        command = engine.parse_command(inbound.input) if inbound.choice is None else None
        if command is engine.Command.CANCEL or inbound.choice == engine.ReviewAction.CANCEL:
            return self._cancelled(state)
        return self._steps[AmendPhase(state["phase"])](state, inbound)

    def _cancelled(self, state: DialogState) -> AmendStep:
        return Step(state, [Reply(self.strings.get("records.amend_cancelled"))], (End(),))

    def _pick(self, state: DialogState, inbound: Inbound) -> AmendStep:
        option = engine.match_option(self._options(state), inbound.input)
        if option is None:
            return Step(state, [Reply(self.strings.get("walkthrough.unknown")), self._menu(state)])
        if option.value == engine.ReviewAction.DONE_EDITING:
            if not state["changes"]:
                return self._cancelled(state)
            state["phase"] = str(AmendPhase.NOTE)
            return Step(state, [Reply(self.strings.get("records.amend_note"), kind=ReplyKind.STEP)])
        state.update(phase=str(AmendPhase.TEXT), editing=option.value)
        return Step(state, [self._text_prompt(state)])

    def _typed(self, state: DialogState, inbound: Inbound) -> AmendStep:
        """A corrected value (TEXT) or the note (NOTE), checked like any typed answer."""
        s = self.strings
        correcting = AmendPhase(state["phase"]) is AmendPhase.TEXT
        node = self._field_node(state["editing"] if correcting else "amendment_note")
        refusal = engine.check_text(node, inbound.text.strip(), inbound, s)
        if refusal:
            again = self._text_prompt(state) if correcting else Reply(s.get("records.amend_note"))
            return Step(state, [engine.refusal_reply(refusal, inbound, s), again])
        text = " ".join(inbound.stored_text.split())
        if correcting:
            state["changes"][state["editing"]] = text
            state.update(phase=str(AmendPhase.PICK), editing=None)
            return Step(state, [self._menu(state)])
        state.update(phase=str(AmendPhase.REVIEW), note=text)
        return Step(state, [self._review(state)])

    def _confirm(self, state: DialogState, inbound: Inbound) -> AmendStep:
        s = self.strings
        option = engine.match_option([Option(str(engine.ReviewAction.RECORD), s.get("walkthrough.choice.record"), (),
                                             aliases=engine.REVIEW_ALIASES[engine.ReviewAction.RECORD])],
                                     inbound.input)
        if option is None:
            return Step(state, [Reply(s.get("walkthrough.review_unknown")), self._review(state)])
        amendment = Amendment(state["record_id"], state["changes"], state["note"], state["id"])
        return Step(state, [], (Complete(amendment),))

    def _text_prompt(self, state: DialogState) -> Reply:
        name = state["editing"]
        current = {**state["original"], **state["changes"]}.get(name, "")
        return Reply(self.strings.get("records.amend_text", field=self.strings.get(f"records.field.{name}"),
                                      current=current), kind=ReplyKind.STEP)
