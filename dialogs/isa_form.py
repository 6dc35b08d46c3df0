"""``isa add`` and ``isa edit <id>`` as a short dialog (the Dialog protocol in dialogs/base.py).

Pure: each answer is checked with the register's own field validation as it is typed, so mistakes
are caught at the step that made them. On confirm the core (bot/isa) validates the whole agreement
again, checks the user may change it, and saves it with its audit line.
"""

from __future__ import annotations

from bot.identity import Addresses
from bot.isa.model import EDITABLE_FIELDS, FieldProblem, ISAStatus, is_special_category, split_list, validate_field
from bot.messages import CardField, Choice, Reply, ReplyKind
from bot.numbers import whole_number
from bot.strings import Strings
from dialogs.base import DialogState, Inbound, Status

ADD_ORDER = ("title", "parties", "purpose", "data_categories", "lawful_basis", "article9_condition", "owner",
             "start_date", "review_date", "status", "document_url", "channels")
OPTIONAL = {"article9_condition", "document_url", "channels"}
SKIP_WORDS = {"skip", "-", "none", "no", "n/a"}
CANCEL_WORDS = {"cancel", "stop", "quit", "isa_cancel"}
SAVE, CHANGE, CANCEL = "isa_save", "isa_change", "isa_cancel"


class ISADialog:
    name = "isa"

    def __init__(self, strings: Strings, addresses: Addresses):
        self.strings = strings
        self.addresses = addresses

    # ------------------------------------------------------------------ protocol
    def start(self, args: str, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        mode, _, id_text = args.strip().partition(" ")
        now = inbound.now.isoformat()
        state: DialogState = {"dialog": self.name, "status": Status.ACTIVE, "started_at": now, "updated_at": now,
                              "mode": "edit" if mode == "edit" else "add", "values": {}, "field": None,
                              "isa_id": whole_number(id_text)}
        if state["mode"] == "edit":
            return state, [self._pick(state)]
        state["field"] = ADD_ORDER[0]
        return state, [Reply(self.strings.get("isa.dialog.intro")), self._ask(state)]

    def step(self, state: DialogState, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        state = {**state, "values": dict(state["values"]), "updated_at": inbound.now.isoformat()}
        text = inbound.input.strip()
        if text.lower() in CANCEL_WORDS:
            state["status"] = Status.ENDED
            return state, [Reply(self.strings.get("isa.dialog.cancelled"))]
        if state["field"] is None:
            return self._confirm_step(state, text)
        return self._answer(state, text, inbound)

    # ------------------------------------------------------------------ steps
    def _answer(self, state: DialogState, text: str, inbound: Inbound) -> tuple[DialogState, list[Reply]]:
        field = state["field"]
        if inbound.privacy_findings and field in {"title", "purpose"}:
            return state, [Reply(self.strings.get("isa.dialog.no_personal_data")), self._ask(state)]
        if field == "owner" and text.lower() in {"me", "myself", "i"}:
            text = inbound.user_id
        if field in OPTIONAL and text.lower() in SKIP_WORDS:
            text = ""
        try:
            value = validate_field(field, text, self.addresses, inbound.user)
        except FieldProblem as problem:
            return state, [Reply(self.strings.get("isa.dialog.invalid", reason=problem.reason(self.strings))),
                           self._ask(state)]
        state["values"][field] = "; ".join(value) if isinstance(value, list) else (
            value.isoformat() if hasattr(value, "isoformat") else str(value or ""))
        if state["mode"] == "edit":
            state["field"] = None
            return state, [self._confirm(state)]
        state["field"] = self._next_field(state, field)
        return state, [self._ask(state) if state["field"] else self._confirm(state)]

    def _next_field(self, state: DialogState, after: str) -> str | None:
        for name in ADD_ORDER[ADD_ORDER.index(after) + 1:]:
            if name == "article9_condition" and not is_special_category(
                    split_list(state["values"].get("data_categories"))):
                continue
            if name not in state["values"]:
                return name
        return None

    def _confirm_step(self, state: DialogState, text: str) -> tuple[DialogState, list[Reply]]:
        if text == SAVE and state["values"]:
            state["status"] = Status.COMPLETE
            return state, []
        if text == CHANGE:
            return state, [self._pick(state)]
        if text.startswith("field:") and text[6:] in EDITABLE_FIELDS:
            state["field"] = text[6:]
            if state["mode"] == "add":
                state["values"].pop(state["field"], None)
            return state, [self._ask(state)]
        return state, [self._confirm(state) if state["values"] else self._pick(state)]

    # ------------------------------------------------------------------ replies
    def _ask(self, state: DialogState) -> Reply:
        s = self.strings
        field = state["field"]
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
