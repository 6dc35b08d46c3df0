"""``isa add`` and ``isa edit <id>`` as a short dialog (the Dialog protocol in dialogs/base.py).

Pure: each answer is checked with the register's own field validation as it is typed, so mistakes
are caught at the step that made them. Saving is a :class:`~dialogs.base.Complete` effect carrying the
:class:`ISAForm`; the core (bot/isa) validates the whole agreement again, checks the user may change
it, and saves it with its audit line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.identity import Addresses
from bot.isa.model import EDITABLE_FIELDS, FieldProblem, ISAStatus, is_special_category, split_list, validate_field
from bot.messages import CardField, Choice, Reply, ReplyKind
from bot.numbers import whole_number
from bot.strings import Strings
from dialogs.base import Complete, DialogState, End, Inbound, Step

ADD_ORDER = ("title", "parties", "purpose", "data_categories", "lawful_basis", "article9_condition", "owner",
             "start_date", "review_date", "status", "document_url", "channels")
OPTIONAL = {"article9_condition", "document_url", "channels"}
SKIP_WORDS = {"skip", "-", "none", "no", "n/a"}
CANCEL_WORDS = {"cancel", "stop", "quit", "isa_cancel"}
SAVE, CHANGE, CANCEL = "isa_save", "isa_change", "isa_cancel"


class ISAMode(StrEnum):
    ADD = "add"  # every field in ADD_ORDER, one after another
    EDIT = "edit"  # the fields the user picks, of an agreement that exists


class ISAPhase(StrEnum):
    """What the form is waiting for."""

    ASK = "ask"  # the value of ``field``
    PICK = "pick"  # which field to change (or save, or cancel)
    CONFIRM = "confirm"  # the values are shown: save, change a field, or cancel


@dataclass(frozen=True, slots=True)
class ISAForm:
    """A saved form: the agreement's values as typed (checked field by field), for the core to save."""

    isa_id: int | None  # the agreement edited; None adds one
    values: dict[str, str]


ISAStep = Step[ISAForm]


class ISADialog:
    name = "isa"

    def __init__(self, strings: Strings, addresses: Addresses):
        self.strings = strings
        self.addresses = addresses
        self._steps: dict[ISAPhase, Callable[[DialogState, str, Inbound], ISAStep]] = {
            ISAPhase.ASK: self._answer, ISAPhase.PICK: self._choose, ISAPhase.CONFIRM: self._choose}

    # ------------------------------------------------------------------ protocol
    def start(self, args: str, inbound: Inbound) -> ISAStep:
        mode, _, id_text = args.strip().partition(" ")
        now = inbound.now.isoformat()
        state: DialogState = {"dialog": self.name, "started_at": now, "updated_at": now,
                              "mode": str(ISAMode.EDIT if mode == "edit" else ISAMode.ADD), "values": {},
                              "isa_id": whole_number(id_text)}
        if state["mode"] == ISAMode.EDIT:
            return self._picking(state)
        return self._asking(state, ADD_ORDER[0], Reply(self.strings.get("isa.dialog.intro")))

    def step(self, state: DialogState, inbound: Inbound) -> ISAStep:
        state = {**state, "values": dict(state["values"]), "updated_at": inbound.now.isoformat()}
        text = inbound.input.strip()
        if text.lower() in CANCEL_WORDS:
            return Step(state, [Reply(self.strings.get("isa.dialog.cancelled"))], (End(),))
        return self._steps[ISAPhase(state["phase"])](state, text, inbound)

    # ------------------------------------------------------------------ the phases
    def _asking(self, state: DialogState, field: str, *before: Reply) -> ISAStep:
        return Step({**state, "phase": str(ISAPhase.ASK), "field": field}, [*before, self._ask(field)])

    def _picking(self, state: DialogState) -> ISAStep:
        return Step({**state, "phase": str(ISAPhase.PICK), "field": None}, [self._pick(state)])

    def _confirming(self, state: DialogState) -> ISAStep:
        return Step({**state, "phase": str(ISAPhase.CONFIRM), "field": None}, [self._confirm(state)])

    def _answer(self, state: DialogState, text: str, inbound: Inbound) -> ISAStep:
        field = state["field"]
        if inbound.privacy_findings and field in {"title", "purpose"}:
            return self._asking(state, field, Reply(self.strings.get("isa.dialog.no_personal_data")))
        if field == "owner" and text.lower() in {"me", "myself", "i"}:
            text = inbound.user_id
        if field in OPTIONAL and text.lower() in SKIP_WORDS:
            text = ""
        try:
            value = validate_field(field, text, self.addresses, inbound.user)
        except FieldProblem as problem:
            reason = problem.reason(self.strings)
            return self._asking(state, field, Reply(self.strings.get("isa.dialog.invalid", reason=reason)))
        state["values"][field] = _stored(value)
        following = self._next_field(state, field) if state["mode"] == ISAMode.ADD else None
        return self._asking(state, following) if following else self._confirming(state)

    def _next_field(self, state: DialogState, after: str) -> str | None:
        for name in ADD_ORDER[ADD_ORDER.index(after) + 1:]:
            if name == "article9_condition" and not is_special_category(
                    split_list(state["values"].get("data_categories"))):
                continue
            if name not in state["values"]:
                return name
        return None

    def _choose(self, state: DialogState, text: str, inbound: Inbound) -> ISAStep:
        """On the summary or the list of fields: save, change, or a field to (re)type."""
        if text == SAVE and state["values"]:
            return Step(state, [], (Complete(ISAForm(state["isa_id"], state["values"])),))
        if text == CHANGE:
            return self._picking(state)
        if text.startswith("field:") and text[6:] in EDITABLE_FIELDS:
            field = text[6:]
            if state["mode"] == ISAMode.ADD:
                state["values"].pop(field, None)
            return self._asking(state, field)
        return self._confirming(state) if state["values"] else self._picking(state)

    # ------------------------------------------------------------------ replies
    def _ask(self, field: str) -> Reply:
        s = self.strings
        choices = []
        if field == "status":
            choices = [Choice(str(status), str(status)) for status in ISAStatus]
        elif field == "owner":
            choices = [Choice(s.get("isa.dialog.me"), "me")]
        elif field in OPTIONAL:
            choices = [Choice(s.get("isa.dialog.skip"), "skip")]
        return Reply(s.get(f"isa.dialog.ask.{field}"), kind=ReplyKind.STEP, title=s.get(f"isa.field.{field}"),
                     choices=[*choices, Choice(s.get("isa.dialog.cancel"), CANCEL)])

    def _pick(self, state: DialogState) -> Reply:
        s = self.strings
        return Reply(s.get("isa.dialog.pick", id=state["isa_id"] or ""), kind=ReplyKind.STEP,
                     choices=[Choice(s.get(f"isa.field.{name}"), f"field:{name}") for name in EDITABLE_FIELDS]
                     + [Choice(s.get("isa.dialog.cancel"), CANCEL)])

    def _confirm(self, state: DialogState) -> Reply:
        s = self.strings
        fields = [CardField(s.get(f"isa.field.{name}"), value or "-") for name, value in state["values"].items()]
        return Reply(s.get("isa.dialog.confirm"), kind=ReplyKind.SUMMARY, title=s.get("isa.dialog.confirm_title"),
                     fields=fields, choices=[Choice(s.get("isa.dialog.save"), SAVE),
                                             Choice(s.get("isa.dialog.change"), CHANGE),
                                             Choice(s.get("isa.dialog.cancel"), CANCEL)])


def _stored(value: Any) -> str:
    """A validated value as the form keeps it: lists joined with "; ", dates in ISO form."""
    if isinstance(value, list):
        return "; ".join(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")
