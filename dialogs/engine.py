"""The tree engine: a pure ``step(tree, state, inbound) -> Step`` (the state, the replies, the effects).

No I/O and no clock but ``inbound.now``, so every rule here is testable without a server and the
state (small, JSON-serialisable) can be persisted after every step and resumed anywhere.

The state keeps only the answers given, as ``[node_id, value]`` pairs; the current node, the facts
and the reasons are recomputed by replaying them through the tree (:func:`replay`). That makes
``back`` a pop, an edit a replacement, and a resumed walkthrough exactly what the user saw.

At every step ``back``, ``restart``, ``cancel``, ``help`` and ``why`` work; an option is picked by
its button value, its number or its words (typos tolerated), among only the options the path's facts
offer (consent is not offered once there is a risk; a stored answer the path would not offer is a broken
state and restarts politely); each step's title shows progress ("Step 3 of about 9", from the proof's
expected answers left); input that looks like a question comes back as an
:class:`~dialogs.base.AnswerQuestion` effect for the runner to answer before the step is repeated
(keeping this module pure); anything else re-prompts with the options. Confirming the summary is a
:class:`~dialogs.base.Complete` effect carrying the :class:`Decision` to store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rapidfuzz import fuzz, utils

from bot.messages import CardField, Choice, Reply, ReplyKind
from bot.numbers import whole_number
from bot.summary import summary_fields, summary_text
from dialogs.base import OWN_NAME_PHASE, AnswerQuestion, Complete, DialogState, End, Inbound, Step
from dialogs.tree import Node, NodeKind, Option, TextCheck, Tree, resolve


class Phase(StrEnum):
    ASK = "ask"  # answering the tree's questions
    REVIEW = "review"  # the summary is shown: record, edit or cancel
    EDIT_PICK = "edit_pick"  # choosing which free-text answer to change
    EDIT_TEXT = "edit_text"  # typing the new text
    OWN_NAME = OWN_NAME_PHASE  # Record this pressed by someone whose name we don't know: asking it once


class Command(StrEnum):
    BACK = "back"
    RESTART = "restart"
    CANCEL = "cancel"
    HELP = "help"
    WHY = "why"
    DECIDE = "decide"  # the command that starts a walkthrough, typed again inside one
    RESUME = "resume"


class ReviewAction(StrEnum):
    """Button values on the summary (distinct words, so a stale press is recognisable)."""

    RECORD = "record_decision"
    EDIT = "edit_decision"
    CANCEL = "cancel_decision"
    DONE_EDITING = "back_to_summary"


COMMAND_WORDS: dict[str, Command] = {
    "back": Command.BACK, "go back": Command.BACK, "previous": Command.BACK, "undo": Command.BACK,
    "restart": Command.RESTART, "start again": Command.RESTART, "start over": Command.RESTART,
    "decide": Command.DECIDE, "resume": Command.RESUME, "carry on": Command.RESUME, "continue": Command.RESUME,
    "cancel": Command.CANCEL, "stop": Command.CANCEL, "quit": Command.CANCEL, "exit": Command.CANCEL,
    "help": Command.HELP, "?": Command.HELP,
    "why": Command.WHY, "why?": Command.WHY, "why this": Command.WHY, "why this question": Command.WHY,
}
# The secondary buttons under every step (Back, Why, Cancel): each sends the word a user can type.
NAVIGATION: tuple[Command, ...] = (Command.BACK, Command.WHY, Command.CANCEL)
PRESSABLE: tuple[Command, ...] = (*NAVIGATION, Command.RESUME, Command.RESTART)  # also "carry on" / "start again"
OWN_NAME_CHARS = 100
_OWN_NAME = re.compile(r"[^\W\d_][^\d@<>\n\r\t]*")  # starts with a letter; no digits, @ or markup
REVIEW_ALIASES: dict[ReviewAction, tuple[str, ...]] = {
    ReviewAction.RECORD: ("record", "record it", "confirm", "save", "yes"),
    ReviewAction.EDIT: ("edit", "change", "amend"),
    ReviewAction.CANCEL: ("cancel", "discard", "no"),
    ReviewAction.DONE_EDITING: ("done", "summary"),
}
QUESTION_WORDS = frozenset({"what", "when", "who", "whom", "how", "why", "can", "could", "do", "does", "should",
                            "is", "are", "must", "may", "might", "would", "will", "which", "where", "am", "if"})
FUZZY_THRESHOLD = 80  # similarity score a typed answer needs to count as an option
FUZZY_MARGIN = 8  # ...and its lead over the runner-up, so an ambiguous word is not a guess
_CASE_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.\-]*(?: ?[A-Za-z0-9/_.\-]+){0,3}")
_PUNCTUATION = re.compile(r"[\s.!,;:]+$")


@dataclass(frozen=True, slots=True)
class Decision:
    """A confirmed walkthrough: its summary, for the core to store as a decision record."""

    summary: dict[str, Any]
    walkthrough_id: str  # the record's idempotency key: confirming twice stores it once
    typed_name: str | None = None  # the user's own name, typed at Record this: kept for their next records


WalkthroughStep = Step[Decision]


class ReplayError(ValueError):
    """Stored answers no longer fit the tree (it changed since the walkthrough began)."""


@dataclass(frozen=True, slots=True)
class Path:
    """Where the answers so far lead: the current node, the facts set and the reasons gathered."""

    node: Node
    facts: dict[str, str]
    reasons: list[str]


# ---------------------------------------------------------------------------------------- pure helpers
def walkthrough_id(user_id: str, started: str) -> str:
    """A stable id for one walkthrough (and the idempotency key of its record), without randomness."""
    return hashlib.sha256(f"{user_id}|{started}".encode()).hexdigest()[:24]


def replay(tree: Tree, answers: list[list[str]]) -> Path:
    node = tree.node(tree.start)
    facts: dict[str, str] = {}
    reasons: list[str] = []
    for node_id, value in answers:
        if node_id != node.id:
            raise ReplayError(f"answer for {node_id!r} but the path is at {node.id!r}")
        if node.kind is NodeKind.CHOICE:
            option = node.option(value)
            if option is None or not option.offered(facts):
                raise ReplayError(f"{node_id!r} offers no option {value!r} on this path")
            facts.update(option.sets)
            if option.reason:
                reasons.append(option.reason)
            node = tree.node(resolve(option.next, facts))
        elif node.kind is NodeKind.TEXT:
            facts[node.field] = value
            node = tree.node(resolve(node.next, facts))
        else:
            raise ReplayError(f"answer given at outcome {node_id!r}")
    return Path(node, facts, reasons)


def normalise(text: str) -> str:
    return " ".join(_PUNCTUATION.sub("", text.strip().lower()).split())


def parse_command(text: str) -> Command | None:
    cleaned = normalise(text)
    return COMMAND_WORDS.get(cleaned) or COMMAND_WORDS.get(text.strip().lower())


def looks_like_question(text: str) -> bool:
    words = normalise(text).split()
    return len(words) >= 3 and (text.strip().endswith("?") or words[0] in QUESTION_WORDS)


def _similarity(typed: str, candidate: str) -> float:
    """0-100: whole-string likeness, word-order-free likeness, or a typed prefix/fragment of a long label."""
    scores = [fuzz.ratio(typed, candidate, processor=utils.default_process),
              fuzz.token_sort_ratio(typed, candidate, processor=utils.default_process)]
    if 5 <= len(typed) <= len(candidate):
        scores.append(fuzz.partial_ratio(typed, candidate, processor=utils.default_process))
    return max(scores)


def match_option(options: tuple[Option, ...] | list[Option], raw: str) -> Option | None:
    """An option by value, by number (1-based), by its words, or by its words with typos."""
    text = raw.strip()
    by_value = next((o for o in options if o.value == text), None)
    if by_value:
        return by_value
    cleaned = normalise(text)
    if cleaned.isdigit():
        number = whole_number(cleaned, len(options)) or 0
        return options[number - 1] if number else None
    if not cleaned:
        return None
    for option in options:
        if cleaned in {normalise(c) for c in (option.label, option.value.replace("_", " "), *option.aliases)}:
            return option
    scored = sorted(((max(_similarity(cleaned, c) for c in (option.label, *option.aliases)), index)
                     for index, option in enumerate(options)), reverse=True)
    best, best_index = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0
    if best >= FUZZY_THRESHOLD and best - runner_up >= FUZZY_MARGIN:
        return options[best_index]
    return None


def check_text(node: Node, text: str, inbound: Inbound, strings: Any) -> str | None:
    """Why a free-text answer is refused (worded for the user), or None if it is acceptable."""
    if not text.strip():
        return strings.get("walkthrough.text_empty")
    if len(text) > node.max_chars:
        return strings.get("walkthrough.text_too_long", limit=node.max_chars)
    if inbound.privacy_findings and not (inbound.not_a_person and confirmable(inbound)):
        kinds = ", ".join(strings.get(f"privacy.kind.{k}") for k in inbound.privacy_findings
                          if f"privacy.kind.{k}" in strings) or strings.get("privacy.kind.name")
        key = "walkthrough.privacy_confirmable" if confirmable(inbound) else "walkthrough.privacy_refused"
        return strings.get(key, kinds=kinds)
    if node.check is TextCheck.CASE_REFERENCE and not looks_like_case_reference(text):
        return strings.get("walkthrough.reference_refused")
    return None


# What a user may confirm is not a person: a service or place the veto list lacks. Numbers never.
CONFIRMABLE_KINDS = frozenset({"name", "address", "institution"})
NOT_A_PERSON = "privacy:not_a_person"  # the button value under a refusal the user may override


def confirmable(inbound: Inbound) -> bool:
    return bool(inbound.privacy_findings) and set(inbound.privacy_findings) <= CONFIRMABLE_KINDS


def refusal_reply(refusal: str, inbound: Inbound, strings: Any) -> Reply:
    """A refused typed answer; when it looks like a name or a place, with the way to say it is not a person."""
    choices = [Choice(strings.get("walkthrough.choice.not_a_person"), NOT_A_PERSON)] if (
        confirmable(inbound) and not inbound.not_a_person) else []
    return _private(refusal, choices=choices)


def looks_like_case_reference(text: str) -> bool:
    """Letters and digits with at least one digit and few words: a reference, not a name."""
    cleaned = text.strip()
    return (len(cleaned) <= 40 and any(ch.isdigit() for ch in cleaned)
            and _CASE_REFERENCE.fullmatch(cleaned) is not None)


# ---------------------------------------------------------------------------------------- rendering
def _private(text: str, **kwargs: Any) -> Reply:
    return Reply(text, private=True, **kwargs)


def prompt_reply(tree: Tree, path: Path, answers_given: int) -> Reply:
    """The step as the user sees it: the prompt, the choices this path offers, and how far along they are."""
    s = tree.strings
    node = path.node
    choices = [Choice(o.label, o.value) for o in node.offered(path.facts)]
    hint = s.get("walkthrough.text_hint") if node.kind is NodeKind.TEXT else ""
    text = node.prompt + (f"\n{hint}" if hint else "")
    number = answers_given + 1
    left = tree.answers_left(node.id, path.facts)
    title = (s.get("walkthrough.step_title_progress", number=number, total=answers_given + max(1, round(left)))
             if left is not None else s.get("walkthrough.step_title", number=number))
    return _private(text, kind=ReplyKind.STEP, title=title, choices=choices,
                    actions=navigation(s, first_step=answers_given == 0))


def navigation(strings: Any, *, first_step: bool) -> list[Choice]:
    """Back (not on the first step), Why and Cancel: the values are the words the engine reads typed."""
    return [Choice(strings.get(f"walkthrough.action.{c}"), str(c)) for c in NAVIGATION
            if not (first_step and c is Command.BACK)]


def why_reply(tree: Tree, node: Node, topics: Mapping[str, Any] | None) -> Reply:
    s = tree.strings
    lines = [node.why or s.get("walkthrough.why_none")]
    sources = list(node.sources)
    related = []
    for topic_id in node.topics:
        topic = (topics or {}).get(topic_id)
        if topic is not None:
            related.append(topic.title)
            sources.extend(src for src in topic.sources if src not in sources)
    if related:
        lines.append(s.get("walkthrough.related", topics="; ".join(related)))
    return _private("\n\n".join(lines), kind=ReplyKind.ANSWER, title=s.get("walkthrough.why_title"),
                    sources=sources)


def build_summary(tree: Tree, state: DialogState) -> dict[str, Any]:
    """The decision summary: every summary field, the decision, and the reasons from the path taken."""
    path = replay(tree, state["answers"])
    outcome = path.node
    summary: dict[str, Any] = {"decision": str(outcome.decision)}
    decision_defaults = tree.defaults_by_decision.get(str(outcome.decision), {})
    for name in tree.summary_fields:
        summary[name] = (path.facts.get(name) or decision_defaults.get(name) or tree.defaults.get(name)
                         or tree.strings.get("walkthrough.not_recorded"))
    summary["reasons"] = [*path.reasons, *outcome.reasons]
    summary["next_steps"] = list(outcome.next_steps)
    summary["outcome_headline"] = outcome.prompt
    summary["decided_at"] = state.get("decided_at") or state["updated_at"]
    summary["decided_tz"] = state.get("decided_tz") or ""  # "GMT", "BST": how a reader knows the time
    summary["decided_by"] = state.get("decided_by", "")
    summary["decided_by_name"] = state.get("decided_by_name") or ""
    summary["content_version"] = state.get("content_version", "")
    summary["walkthrough_id"] = state["id"]
    return summary


def summary_reply(tree: Tree, state: DialogState) -> Reply:
    s = tree.strings
    summary = build_summary(tree, state)
    fields = [CardField(label, value) for label, value in summary_fields(summary, s, draft=True)]
    choices = [Choice(s.get("walkthrough.choice.record"), str(ReviewAction.RECORD)),
               Choice(s.get("walkthrough.choice.edit"), str(ReviewAction.EDIT)),
               Choice(s.get("walkthrough.choice.cancel"), str(ReviewAction.CANCEL))]
    return _private(summary_text(summary, s, draft=True), kind=ReplyKind.SUMMARY,
                    title=s.get("walkthrough.summary_title"),
                    fields=fields, summary=summary, choices=choices)


# ---------------------------------------------------------------------------------------- the step
def start(tree: Tree, inbound: Inbound, *, dialog: str, content_version: str = "",
          previous_id: str = "") -> WalkthroughStep:
    """A fresh walkthrough (``previous_id``: the one a restart replaces, so the two ids differ)."""
    now = inbound.now.isoformat()
    state: DialogState = {
        "dialog": dialog, "started_at": now, "updated_at": now,
        "tree": tree.name, "id": walkthrough_id(inbound.user_id, now + previous_id), "phase": str(Phase.ASK),
        "node": tree.start, "answers": [], "editing": None, "decided_at": None,
        "decided_by": inbound.user_id, "decided_by_name": inbound.decider or "", "content_version": content_version,
    }
    intro = _private(tree.strings.get("walkthrough.intro"), kind=ReplyKind.NOTICE, title=tree.title)
    return Step(state, [intro, prompt_reply(tree, replay(tree, []), 0)])


def step(tree: Tree, state: DialogState, inbound: Inbound, *,
         topics: Mapping[str, Any] | None = None) -> WalkthroughStep:
    """Advance the walkthrough by one input. Pure: the new state is a copy."""
    try:
        state = {**state, "answers": [list(a) for a in state["answers"]], "updated_at": inbound.now.isoformat()}
        if inbound.decider and not state.get("decided_by_name"):  # the summary names them before Record this
            state["decided_by_name"] = inbound.decider
        path = replay(tree, state["answers"])
    except (ReplayError, LookupError, TypeError, ValueError):
        fresh = start(tree, inbound, dialog=state["dialog"], content_version=state.get("content_version", ""))
        return Step(fresh.state, [_private(tree.strings.get("walkthrough.content_changed")), *fresh.replies[1:]])
    phase = Phase(state.get("phase", Phase.ASK))
    command = parse_command(inbound.input) if inbound.choice is None else _pressed_command(inbound.choice)
    if command is not None:
        return _command(tree, state, path, phase, command, inbound, topics)
    if phase is Phase.OWN_NAME:
        return _own_name(tree, state, inbound)
    if phase is Phase.ASK:
        return _answer(tree, state, path, inbound)
    if phase is Phase.REVIEW:
        return _review(tree, state, path, inbound)
    if phase is Phase.EDIT_PICK:
        return _edit_pick(tree, state, inbound)
    return _edit_text(tree, state, inbound)


def _pressed_command(choice: str) -> Command | None:
    """A pressed Back, Why, Cancel, Carry on or Start again button (its value is the typed word)."""
    return next((c for c in PRESSABLE if choice == c), None)


def current(tree: Tree, state: DialogState) -> Reply:
    """The step (or summary) a walkthrough is waiting on, as the user last saw it."""
    return _repeat(tree, state, replay(tree, state["answers"]))


def _repeat(tree: Tree, state: DialogState, path: Path) -> Reply:
    """What the user should see again: the current question, or the summary once decided."""
    phase = Phase(state["phase"])
    if phase is Phase.ASK:
        return prompt_reply(tree, path, len(state["answers"]))
    if phase is Phase.EDIT_PICK:
        return _edit_menu(tree, state)
    if phase is Phase.EDIT_TEXT:
        return _edit_prompt(tree, state)
    if phase is Phase.OWN_NAME:
        return own_name_prompt(tree)
    return summary_reply(tree, state)


def _command(tree: Tree, state: DialogState, path: Path, phase: Phase, command: Command, inbound: Inbound,
             topics: Mapping[str, Any] | None) -> WalkthroughStep:
    s = tree.strings
    if command is Command.CANCEL:
        return Step(state, [_private(s.get("walkthrough.cancelled"))], (End(),))
    if command is Command.RESTART:
        fresh = start(tree, inbound, dialog=state["dialog"], content_version=state.get("content_version", ""),
                      previous_id=state["id"])
        return Step(fresh.state, [_private(s.get("walkthrough.restarted")), fresh.replies[-1]])
    if command is Command.HELP:
        return Step(state, [_private(s.get("walkthrough.help"), kind=ReplyKind.NOTICE), _repeat(tree, state, path)])
    if command is Command.RESUME or (command is Command.DECIDE and not state["answers"] and phase is Phase.ASK):
        return Step(state, [_repeat(tree, state, path)])  # nothing answered yet: nothing to choose between
    if command is Command.DECIDE:  # "decide" with answers given: carry on, or start again?
        return Step(state, [_private(s.get("walkthrough.pending"), choices=[
            Choice(s.get("walkthrough.choice.resume"), str(Command.RESUME)),
            Choice(s.get("walkthrough.choice.restart"), str(Command.RESTART))])])
    if command is Command.WHY:
        return Step(state, [why_reply(tree, path.node, topics), _repeat(tree, state, path)])
    # BACK: from editing or naming to the summary; from the summary or a question to the previous question.
    if phase in (Phase.EDIT_PICK, Phase.EDIT_TEXT, Phase.OWN_NAME):
        state.update(phase=str(Phase.REVIEW), editing=None)
        return Step(state, [summary_reply(tree, state)])
    if not state["answers"]:
        return Step(state, [_private(s.get("walkthrough.first_step")), _repeat(tree, state, path)])
    state["answers"].pop()
    previous = replay(tree, state["answers"])
    state.update(phase=str(Phase.ASK), node=previous.node.id, decided_at=None)
    return Step(state, [prompt_reply(tree, previous, len(state["answers"]))])


def _answer(tree: Tree, state: DialogState, path: Path, inbound: Inbound) -> WalkthroughStep:
    s = tree.strings
    node = path.node
    raw = inbound.input
    if node.kind is NodeKind.CHOICE:
        option = match_option(node.offered(path.facts), raw)
        if option is None:
            if inbound.choice is None and looks_like_question(raw):
                return Step(state, [prompt_reply(tree, path, len(state["answers"]))], (AnswerQuestion(raw),))
            return Step(state, [_private(s.get("walkthrough.unknown")),
                                prompt_reply(tree, path, len(state["answers"]))])
        state["answers"].append([node.id, option.value])
    else:
        text = inbound.text.strip()
        if text.endswith("?") and looks_like_question(text):
            return Step(state, [prompt_reply(tree, path, len(state["answers"]))], (AnswerQuestion(text),))
        refusal = check_text(node, text, inbound, s)
        if refusal:
            return Step(state, [refusal_reply(refusal, inbound, s), prompt_reply(tree, path, len(state["answers"]))])
        state["answers"].append([node.id, " ".join(inbound.stored_text.split())])
    following = replay(tree, state["answers"])
    state["node"] = following.node.id
    if following.node.kind is NodeKind.OUTCOME:
        state.update(phase=str(Phase.REVIEW), decided_at=inbound.now.isoformat(), decided_tz=inbound.now.tzname())
        return Step(state, [summary_reply(tree, state)])
    return Step(state, [prompt_reply(tree, following, len(state["answers"]))])


def _review_options(tree: Tree, actions: tuple[ReviewAction, ...]) -> list[Option]:
    s = tree.strings
    labels = {ReviewAction.RECORD: "record", ReviewAction.EDIT: "edit", ReviewAction.CANCEL: "cancel",
              ReviewAction.DONE_EDITING: "done"}
    return [Option(value=str(a), label=s.get(f"walkthrough.choice.{labels[a]}"), next=(),
                   aliases=REVIEW_ALIASES[a]) for a in actions]


def _review(tree: Tree, state: DialogState, path: Path, inbound: Inbound) -> WalkthroughStep:
    s = tree.strings
    option = match_option(_review_options(tree, (ReviewAction.RECORD, ReviewAction.EDIT, ReviewAction.CANCEL)),
                          inbound.input)
    if option is None:
        if inbound.choice is None and looks_like_question(inbound.input):
            return Step(state, [summary_reply(tree, state)], (AnswerQuestion(inbound.input),))
        return Step(state, [_private(s.get("walkthrough.review_unknown")), summary_reply(tree, state)])
    action = ReviewAction(option.value)
    if action is ReviewAction.RECORD:
        if not inbound.decider:  # ask once; the core remembers the answer for this user's next records
            state["phase"] = str(Phase.OWN_NAME)
            return Step(state, [own_name_prompt(tree)])
        return _confirmed(tree, {**state, "decided_by_name": inbound.decider})
    if action is ReviewAction.CANCEL:
        return Step(state, [_private(s.get("walkthrough.cancelled"))], (End(),))
    if not _editable(tree, state):
        return Step(state, [_private(s.get("walkthrough.edit_nothing")), summary_reply(tree, state)])
    state["phase"] = str(Phase.EDIT_PICK)
    return Step(state, [_edit_menu(tree, state)])


def _confirmed(tree: Tree, state: DialogState, typed_name: str | None = None) -> WalkthroughStep:
    """Record this: the decision summary, for the core to store."""
    return Step(state, [], (Complete(Decision(build_summary(tree, state), state["id"], typed_name)),))


def _editable(tree: Tree, state: DialogState) -> list[Option]:
    s = tree.strings
    options = []
    for node_id, value in state["answers"]:
        node = tree.node(node_id)
        if node.kind is NodeKind.TEXT:
            label = s.get(f"records.field.{node.field}")
            options.append(Option(value=node_id, label=f"{label}: {value}"[:75], next=(), aliases=(label,)))
    return options


def _edit_menu(tree: Tree, state: DialogState) -> Reply:
    s = tree.strings
    options = [*_editable(tree, state), *_review_options(tree, (ReviewAction.DONE_EDITING,))]
    return _private(s.get("walkthrough.edit_pick"), kind=ReplyKind.STEP,
                    choices=[Choice(o.label, o.value) for o in options])


def _edit_prompt(tree: Tree, state: DialogState) -> Reply:
    node = tree.node(state["editing"])
    current = next(value for node_id, value in state["answers"] if node_id == node.id)
    return _private(tree.strings.get("walkthrough.edit_text", field=tree.strings.get(f"records.field.{node.field}"),
                                     current=current), kind=ReplyKind.STEP)


def _edit_pick(tree: Tree, state: DialogState, inbound: Inbound) -> WalkthroughStep:
    options = [*_editable(tree, state), *_review_options(tree, (ReviewAction.DONE_EDITING,))]
    option = match_option(options, inbound.input)
    if option is None:
        return Step(state, [_private(tree.strings.get("walkthrough.unknown")), _edit_menu(tree, state)])
    if option.value == ReviewAction.DONE_EDITING:
        state["phase"] = str(Phase.REVIEW)
        return Step(state, [summary_reply(tree, state)])
    state.update(phase=str(Phase.EDIT_TEXT), editing=option.value)
    return Step(state, [_edit_prompt(tree, state)])


def _edit_text(tree: Tree, state: DialogState, inbound: Inbound) -> WalkthroughStep:
    node = tree.node(state["editing"])
    text = inbound.text.strip()
    refusal = check_text(node, text, inbound, tree.strings)
    if refusal:
        return Step(state, [refusal_reply(refusal, inbound, tree.strings), _edit_prompt(tree, state)])
    state["answers"] = [[node_id, " ".join(inbound.stored_text.split()) if node_id == node.id else value]
                        for node_id, value in state["answers"]]
    state.update(phase=str(Phase.REVIEW), editing=None)
    return Step(state, [summary_reply(tree, state)])


def own_name_prompt(tree: Tree) -> Reply:
    return _private(tree.strings.get("walkthrough.own_name"), kind=ReplyKind.STEP,
                    title=tree.strings.get("walkthrough.own_name_title"))


def own_name(text: str) -> str | None:
    """The practitioner's own name (and role) as typed, tidied; None if it cannot be a name."""
    cleaned = " ".join(text.split()).strip(" ,")
    if not cleaned or len(cleaned) > OWN_NAME_CHARS or not _OWN_NAME.fullmatch(cleaned):
        return None
    return cleaned


def _own_name(tree: Tree, state: DialogState, inbound: Inbound) -> WalkthroughStep:
    """Their own name is kept as typed: it is the one name a record should hold (who decided)."""
    name = own_name(inbound.text)
    if name is None:
        return Step(state, [_private(tree.strings.get("walkthrough.own_name_refused", limit=OWN_NAME_CHARS)),
                            own_name_prompt(tree)])
    return _confirmed(tree, {**state, "decided_by_name": name}, typed_name=name)
