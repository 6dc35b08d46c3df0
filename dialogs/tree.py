"""Dialog trees as data: content/trees/*.yaml loaded, schema-checked and proved sound.

A safeguarding lead edits a tree without touching Python, so the loader is the safety net: every
problem is reported as ``file:line: what is wrong`` and the server refuses to start. Beyond the
schema, :func:`check_tree` proves each tree sound: every transition target exists, every node is
reachable from the start, every node can still reach an outcome (so no path is a dead end and no
cycle lacks an exit), every referenced topic exists and every routing fact is set somewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.messages import Source
from bot.yamlload import ContentError, ContentProblem, line_of, load_validated


class NodeKind(StrEnum):
    CHOICE = "choice"  # the user picks one option (a button, its number or its words)
    TEXT = "text"  # the user types a short free-text answer stored in a summary field
    OUTCOME = "outcome"  # the end: sets the decision and the closing reasons


class TextCheck(StrEnum):
    """How a free-text answer is checked before it is accepted."""

    FREE = "free"  # any short text without identifying details
    CASE_REFERENCE = "case_reference"  # a case reference, never a name


class Decision(StrEnum):
    SHARE = "share"
    SHARE_PARTIALLY = "share_partially"
    DO_NOT_SHARE = "do_not_share"
    SEEK_CONSENT = "seek_consent"
    SEEK_ADVICE = "seek_advice"


# Words that mean something at every step, so no option may use them as its value.
RESERVED_WORDS = frozenset({"back", "restart", "cancel", "help", "why"})


@dataclass(frozen=True, slots=True)
class Transition:
    """Go to ``goto`` when every fact in ``when`` has the given value (an empty ``when`` always matches)."""

    goto: str
    when: tuple[tuple[str, str], ...] = ()

    def matches(self, facts: Mapping[str, str]) -> bool:
        return all(facts.get(name) == value for name, value in self.when)


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str
    next: tuple[Transition, ...]
    aliases: tuple[str, ...] = ()
    sets: tuple[tuple[str, str], ...] = ()  # facts this answer records (summary fields, routing flags)
    reason: str | None = None  # a reason this answer adds to the decision


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: NodeKind
    prompt: str
    line: int
    why: str = ""
    topics: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    options: tuple[Option, ...] = ()
    field: str | None = None  # TEXT: the summary field the answer fills
    check: TextCheck = TextCheck.FREE
    max_chars: int = 300
    next: tuple[Transition, ...] = ()  # TEXT
    decision: Decision | None = None  # OUTCOME
    reasons: tuple[str, ...] = ()  # OUTCOME
    next_steps: tuple[str, ...] = ()  # OUTCOME

    def option(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)

    def targets(self) -> list[str]:
        transitions = [t for o in self.options for t in o.next] + list(self.next)
        return [t.goto for t in transitions]


@dataclass(frozen=True)
class Tree:
    name: str
    title: str
    start: str
    nodes: dict[str, Node]
    summary_fields: tuple[str, ...]  # the summary keys the tree fills, in display order
    defaults: dict[str, str]  # wording for a summary field the path did not fill
    file: str
    strings: Any = field(default=None, repr=False, compare=False)  # bot.strings.Strings

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


def resolve(transitions: tuple[Transition, ...], facts: Mapping[str, str]) -> str:
    """The first transition whose conditions hold (the loader guarantees a final unconditional one)."""
    for transition in transitions:
        if transition.matches(facts):
            return transition.goto
    raise LookupError("no transition matched")  # unreachable for a checked tree


# ---------------------------------------------------------------------------------------- loading
def load_trees(root: Path, topic_ids: set[str], strings: Any) -> dict[str, Tree]:
    """Load and check every ``content/trees/*.yaml``; raise ContentError listing every problem."""
    problems: list[ContentProblem] = []
    trees: dict[str, Tree] = {}
    for path in sorted((root / "trees").glob("*.yaml")):
        try:
            document = load_validated(path, "tree", root)
        except ContentError as exc:
            problems.extend(exc.problems)
            continue
        display = str(path.relative_to(root))
        shape = _shape_problems(document, display)
        if shape:
            problems.extend(shape)
            continue
        tree = _build(document, display, strings)
        found = check_tree(tree, document, topic_ids, strings)
        if tree.name in trees:
            found.append(ContentProblem(display, line_of(document, ["name"]), f"duplicate tree name {tree.name!r}"))
        problems.extend(found)
        trees[tree.name] = tree
    if problems:
        raise ContentError(problems)
    return trees


_KIND_KEYS = {"choices": NodeKind.CHOICE, "text": NodeKind.TEXT, "outcome": NodeKind.OUTCOME}


def _shape_problems(document: Any, display: str) -> list[ContentProblem]:
    """Each node is exactly one kind, with the keys that kind needs (the schema cannot say this clearly)."""
    problems = []
    for node_id, raw in document["nodes"].items():
        where = line_of(document, ["nodes", node_id])
        kinds = [key for key in _KIND_KEYS if key in raw]
        if len(kinds) != 1:
            problems.append(ContentProblem(display, where, f"node {node_id!r} must have exactly one of choices, "
                                           f"text or outcome (found {', '.join(kinds) or 'none'})"))
            continue
        kind = _KIND_KEYS[kinds[0]]
        if kind is NodeKind.TEXT and "next" not in raw:
            problems.append(ContentProblem(display, where, f"text node {node_id!r} needs `next`"))
        if kind is not NodeKind.TEXT and "next" in raw:
            problems.append(ContentProblem(display, where, f"node {node_id!r}: `next` belongs on each choice "
                                           "(choices) or nowhere (outcome)"))
        if kind is not NodeKind.OUTCOME and "why" not in raw:
            problems.append(ContentProblem(display, where, f"node {node_id!r} needs `why` (the guidance shown "
                                           "when the user asks why)"))
        if kind is not NodeKind.OUTCOME and ({"reasons", "next_steps"} & set(raw)):
            problems.append(ContentProblem(display, where, f"node {node_id!r}: reasons and next_steps belong "
                                           "on outcomes; a choice adds a `reason`"))
    return problems


def _transitions(raw: Any) -> tuple[Transition, ...]:
    if isinstance(raw, str):
        return (Transition(raw),)
    return tuple(Transition(item["goto"], tuple((str(k), str(v)) for k, v in (item.get("when") or {}).items()))
                 for item in raw)


def _build(document: Mapping[str, Any], display: str, strings: Any) -> Tree:
    nodes: dict[str, Node] = {}
    for node_id, raw in document["nodes"].items():
        common = dict(
            id=str(node_id),
            prompt=str(raw.get("prompt", "")).strip(),
            line=line_of(document, ["nodes", node_id]),
            why=str(raw.get("why", "")).strip(),
            topics=tuple(raw.get("topics", ())),
            sources=tuple(Source(s["title"], s["ref"]) for s in raw.get("sources", ())),
        )
        if "choices" in raw:
            options = tuple(Option(
                value=str(o["value"]), label=str(o["label"]), next=_transitions(o["next"]),
                aliases=tuple(str(a) for a in o.get("aliases", ())),
                sets=tuple((str(k), str(v)) for k, v in (o.get("set") or {}).items()),
                reason=o.get("reason"),
            ) for o in raw["choices"])
            nodes[node_id] = Node(kind=NodeKind.CHOICE, options=options, **common)
        elif "text" in raw:
            spec = raw["text"]
            nodes[node_id] = Node(kind=NodeKind.TEXT, field=spec["field"], check=TextCheck(spec.get("check", "free")),
                                  max_chars=int(spec.get("max_chars", 300)), next=_transitions(raw["next"]), **common)
        else:
            nodes[node_id] = Node(kind=NodeKind.OUTCOME, decision=Decision(raw["outcome"]),
                                  reasons=tuple(raw.get("reasons", ())), next_steps=tuple(raw.get("next_steps", ())),
                                  **common)
    summary = document["summary"]
    return Tree(name=document["name"], title=document["title"], start=document["start"], nodes=nodes,
                summary_fields=tuple(summary["fields"]), defaults=dict(summary.get("defaults", {})),
                file=display, strings=strings)


# ---------------------------------------------------------------------------------------- soundness
def check_tree(tree: Tree, document: Any, topic_ids: set[str], strings: Any = None) -> list[ContentProblem]:
    """Every way a schema-valid tree can still be wrong, each at its file:line."""
    problems: list[ContentProblem] = []

    def problem(path: list[Any], message: str) -> None:
        problems.append(ContentProblem(tree.file, line_of(document, path), message))

    if tree.start not in tree.nodes:
        problem(["start"], f"start node {tree.start!r} does not exist")
    set_facts = {name for n in tree.nodes.values() for o in n.options for name, _ in o.sets}
    set_facts |= {n.field for n in tree.nodes.values() if n.field}
    for node in tree.nodes.values():
        base = ["nodes", node.id]
        for topic in node.topics:
            if topic not in topic_ids:
                problem([*base, "topics"], f"node {node.id!r}: topic {topic!r} does not exist in content/topics")
        seen_values: set[str] = set()
        for index, option in enumerate(node.options):
            where = [*base, "choices", index]
            if option.value in seen_values:
                problem(where, f"node {node.id!r}: duplicate choice value {option.value!r}")
            seen_values.add(option.value)
            if option.value.lower() in RESERVED_WORDS:
                problem(where, f"node {node.id!r}: choice value {option.value!r} is reserved for a command")
            problems.extend(_check_transitions(tree, document, [*where, "next"], option.next, set_facts))
        if node.kind is NodeKind.TEXT:
            problems.extend(_check_transitions(tree, document, [*base, "next"], node.next, set_facts))
            if node.field not in tree.summary_fields:
                problem([*base, "text", "field"], f"node {node.id!r}: field {node.field!r} is not in summary.fields")
        for name, _ in (s for o in node.options for s in o.sets):
            if name in {"decision", "reasons"}:
                problem(base, f"node {node.id!r}: {name!r} is set by outcomes, not by choices")
    if strings is not None:
        for name in tree.summary_fields:
            if f"records.field.{name}" not in strings:
                problem(["summary", "fields"], f"summary field {name!r} has no label records.field.{name} "
                        "in strings.yaml")
    if problems or tree.start not in tree.nodes:
        return problems
    problems.extend(_check_graph(tree, document))
    return problems


def _check_transitions(tree: Tree, document: Any, path: list[Any], transitions: tuple[Transition, ...],
                       set_facts: set[str]) -> list[ContentProblem]:
    problems = []
    for transition in transitions:
        if transition.goto not in tree.nodes:
            problems.append(ContentProblem(tree.file, line_of(document, path),
                                           f"transition to {transition.goto!r}, which does not exist"))
        for name, _ in transition.when:
            if name not in set_facts:
                problems.append(ContentProblem(tree.file, line_of(document, path),
                                               f"condition on fact {name!r}, which no choice sets"))
    if not transitions or transitions[-1].when:
        problems.append(ContentProblem(tree.file, line_of(document, path),
                                       "the last transition must have no `when` (the default)"))
    return problems


def _check_graph(tree: Tree, document: Any) -> list[ContentProblem]:
    """Reachability from the start, and an outcome reachable from every node (no trap cycles)."""
    problems = []
    reachable: set[str] = set()
    pending = [tree.start]
    while pending:
        node_id = pending.pop()
        if node_id in reachable:
            continue
        reachable.add(node_id)
        pending.extend(tree.nodes[node_id].targets())
    for node_id in tree.nodes:
        if node_id not in reachable:
            problems.append(ContentProblem(tree.file, line_of(document, ["nodes", node_id]),
                                           f"node {node_id!r} cannot be reached from the start"))
    can_finish = {n.id for n in tree.nodes.values() if n.kind is NodeKind.OUTCOME}
    changed = True
    while changed:
        changed = False
        for node in tree.nodes.values():
            if node.id not in can_finish and any(t in can_finish for t in node.targets()):
                can_finish.add(node.id)
                changed = True
    for node_id in reachable - can_finish:
        problems.append(ContentProblem(tree.file, line_of(document, ["nodes", node_id]),
                                       f"node {node_id!r} never leads to an outcome (a dead end or a cycle "
                                       "without an exit)"))
    return sorted(problems, key=lambda p: p.line)
