"""Dialog trees as data: content/trees/*.yaml loaded, schema-checked and proved sound.

A safeguarding lead edits a tree without touching Python, so the loader is the safety net: every
problem is reported as ``file:line: what is wrong`` and the server refuses to start. Beyond the
schema, :func:`check_tree` proves each tree sound: every transition target exists, every node is
reachable from the start, every node can still reach an outcome (so no path is a dead end and no
cycle lacks an exit), every referenced topic exists and every routing fact is set somewhere. Then
:mod:`dialogs.proof` proves the tree's own ``invariants:`` (its safety properties, written as data)
over every path, and a broken one is a content error like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypedDict

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
    RECORD_AND_INFORM = "record_and_inform"  # recorded in one's own system (the EHM), the family told; no sharing


# A condition: each named fact must have one of the listed values (a missing fact has none).
Conditions = tuple[tuple[str, tuple[str, ...]], ...]


def conditions_hold(conditions: Conditions, facts: Mapping[str, str]) -> bool:
    """Every listed fact has one of its values (``when``)."""
    return all(facts.get(name) in values for name, values in conditions)


def any_condition_holds(conditions: Conditions, facts: Mapping[str, str]) -> bool:
    """Some listed fact has one of its values (``unless``: "unless urgent, or the child agreed")."""
    return any(facts.get(name) in values for name, values in conditions)


# Words that mean something at every step, so no option may use them as its value.
RESERVED_WORDS = frozenset({"back", "restart", "cancel", "help", "why"})


@dataclass(frozen=True, slots=True)
class Transition:
    """Go to ``goto`` when every fact in ``when`` has the given value (an empty ``when`` always matches)."""

    goto: str
    when: Conditions = ()

    def matches(self, facts: Mapping[str, str]) -> bool:
        return conditions_hold(self.when, facts)


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str
    next: tuple[Transition, ...]
    aliases: tuple[str, ...] = ()
    sets: tuple[tuple[str, str], ...] = ()  # facts this answer records (summary fields, routing flags)
    reason: str | None = None  # a reason this answer adds to the decision
    when: Conditions = ()  # offered only when all of these facts hold...
    unless: Conditions = ()  # ...and none of these does

    def offered(self, facts: Mapping[str, str]) -> bool:
        return conditions_hold(self.when, facts) and not any_condition_holds(self.unless, facts)


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
    field: str = ""  # TEXT: the summary field the answer fills (empty for the other kinds)
    check: TextCheck = TextCheck.FREE
    max_chars: int = 300
    next: tuple[Transition, ...] = ()  # TEXT
    decision: Decision | None = None  # OUTCOME
    reasons: tuple[str, ...] = ()  # OUTCOME
    next_steps: tuple[str, ...] = ()  # OUTCOME

    def option(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)

    def offered(self, facts: Mapping[str, str]) -> tuple[Option, ...]:
        """The choices this path may pick from (the tree can hide some, for example consent once urgent)."""
        return tuple(o for o in self.options if o.offered(facts))

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
    # ...and where a decision shares nothing, its own wording: "relies on the lawful basis recorded here"
    # would misstate a "seek advice" or "do not share" record.
    defaults_by_decision: dict[str, dict[str, str]] = field(default_factory=dict)
    strings: Any = field(default=None, repr=False, compare=False)  # bot.strings.Strings
    invariants: tuple[Any, ...] = ()  # dialogs.proof.Invariant: the safety properties the tree promises
    # Filled by dialogs.proof once the tree is proved: the facts that still matter at each node, and
    # for each (node, those facts) the expected number of answers still to give ("step 3 of about 9").
    live_facts: dict[str, frozenset[str]] = field(default_factory=dict, compare=False)
    presence_facts: frozenset[str] = field(default=frozenset(), compare=False)  # only whether set matters
    remaining: dict[Any, float] = field(default_factory=dict, repr=False, compare=False)
    proof: Any = field(default=None, repr=False, compare=False)  # dialogs.proof.Proof: the figures

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def answers_left(self, node_id: str, facts: Mapping[str, str]) -> float | None:
        """Expected answers from here to an outcome (this one included), or None before the proof."""
        live = self.live_facts.get(node_id, frozenset())
        return self.remaining.get(state_key(node_id, facts, live, self.presence_facts))


def state_key(node_id: str, facts: Mapping[str, str], live: frozenset[str],
              presence_facts: frozenset[str] = frozenset()) -> tuple[str, frozenset]:
    """A walkthrough's position for the proof: its node and only the facts that can still matter from
    there (for ``presence_facts``, only whether they are set)."""
    return node_id, frozenset((name, "*" if name in presence_facts else value) for name, value in facts.items()
                              if name in live)


def resolve(transitions: tuple[Transition, ...], facts: Mapping[str, str]) -> str:
    """The first transition whose conditions hold (the loader guarantees a final unconditional one)."""
    for transition in transitions:
        if transition.matches(facts):
            return transition.goto
    raise LookupError("no transition matched")  # unreachable for a checked tree


# ---------------------------------------------------------------------------------------- loading
def load_trees(root: Path, topic_ids: set[str], strings: Any) -> dict[str, Tree]:
    """Load, check and prove every ``content/trees/*.yaml``; raise ContentError listing every problem."""
    from dialogs.proof import prove  # the prover walks Trees, so it imports this module

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
        if not found:
            proof = prove(tree)
            found = [ContentProblem(display, line_of(document, ["invariants", index] if index >= 0 else ["nodes"]),
                                    message) for index, message in proof.failures]
            if not found:
                tree = replace(tree, live_facts=proof.live_facts, presence_facts=proof.presence_facts,
                               remaining=proof.remaining, proof=proof)
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


def conditions(raw: Any) -> Conditions:
    """``{fact: value}`` or ``{fact: [value, ...]}`` (any of them) as Conditions."""
    return tuple((str(name), tuple(str(v) for v in value) if isinstance(value, list) else (str(value),))
                 for name, value in (raw or {}).items())


def _transitions(raw: Any) -> tuple[Transition, ...]:
    if isinstance(raw, str):
        return (Transition(raw),)
    return tuple(Transition(item["goto"], conditions(item.get("when"))) for item in raw)


class _NodeCommon(TypedDict):
    """The fields every kind of node reads from its YAML the same way."""

    id: str
    prompt: str
    line: int
    why: str
    topics: tuple[str, ...]
    sources: tuple[Source, ...]


def _build(document: Mapping[str, Any], display: str, strings: Any) -> Tree:
    from dialogs.proof import Invariant

    nodes: dict[str, Node] = {}
    for node_id, raw in document["nodes"].items():
        common = _NodeCommon(
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
                reason=o.get("reason"), when=conditions(o.get("when")), unless=conditions(o.get("unless")),
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
                defaults_by_decision={str(decision): dict(wording)
                                      for decision, wording in summary.get("defaults_by_decision", {}).items()},
                file=display, strings=strings,
                invariants=tuple(Invariant.parse(raw) for raw in document.get("invariants", ())))


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
    _check_invariant_refs(tree, set_facts, problem)
    for node in tree.nodes.values():
        _check_node(tree, document, node, topic_ids, set_facts, problems)
    if strings is not None:
        for name in tree.summary_fields:
            if f"records.field.{name}" not in strings:
                problem(["summary", "fields"], f"summary field {name!r} has no label records.field.{name} "
                        "in strings.yaml")
    if problems or tree.start not in tree.nodes:
        return problems
    problems.extend(_check_graph(tree, document))
    return problems


_Report = Callable[[list[Any], str], None]  # a problem at a path in the tree's document


def _check_invariant_refs(tree: Tree, set_facts: set[str], problem: _Report) -> None:
    """Each invariant reads only facts some choice sets and names only nodes and choices that exist."""
    for index, invariant in enumerate(tree.invariants):
        for name in invariant.fact_names() - set_facts:
            problem(["invariants", index], f"invariant {invariant.id!r}: fact {name!r} is never set")
        for ref in invariant.node_refs():
            node_id, _, value = ref.partition(".")
            if node_id not in tree.nodes or (value and tree.nodes[node_id].option(value) is None):
                problem(["invariants", index], f"invariant {invariant.id!r}: {ref!r} is not a node or choice")


def _check_node(tree: Tree, document: Any, node: Node, topic_ids: set[str], set_facts: set[str],
                problems: list[ContentProblem]) -> None:
    """One node's topics, choices, transitions and field, in the order an author reads them."""
    base = ["nodes", node.id]

    def problem(path: list[Any], message: str) -> None:
        problems.append(ContentProblem(tree.file, line_of(document, path), message))

    for topic in node.topics:
        if topic not in topic_ids:
            problem([*base, "topics"], f"node {node.id!r}: topic {topic!r} does not exist in content/topics")
    _check_options(tree, document, node, set_facts, problems)
    if node.kind is NodeKind.TEXT:
        problems.extend(_check_transitions(tree, document, [*base, "next"], node.next, set_facts))
        if node.field not in tree.summary_fields:
            problem([*base, "text", "field"], f"node {node.id!r}: field {node.field!r} is not in summary.fields")
    for name, _ in (s for o in node.options for s in o.sets):
        if name in {"decision", "reasons"}:
            problem(base, f"node {node.id!r}: {name!r} is set by outcomes, not by choices")


def _check_options(tree: Tree, document: Any, node: Node, set_facts: set[str],
                   problems: list[ContentProblem]) -> None:
    """A choice node's options: unique, not a command word, going somewhere, shown on facts that are set."""
    seen_values: set[str] = set()
    for index, option in enumerate(node.options):
        where = ["nodes", node.id, "choices", index]
        line = line_of(document, where)
        if option.value in seen_values:
            problems.append(ContentProblem(tree.file, line, f"node {node.id!r}: duplicate choice value "
                                                            f"{option.value!r}"))
        seen_values.add(option.value)
        if option.value.lower() in RESERVED_WORDS:
            problems.append(ContentProblem(tree.file, line, f"node {node.id!r}: choice value {option.value!r} "
                                                            "is reserved for a command"))
        problems.extend(_check_transitions(tree, document, [*where, "next"], option.next, set_facts))
        problems.extend(ContentProblem(tree.file, line, f"node {node.id!r}: choice {option.value!r} depends on "
                                                        f"fact {name!r}, which no choice sets")
                        for name, _ in (*option.when, *option.unless) if name not in set_facts)


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
