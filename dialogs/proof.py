"""Prove a dialog tree's safety invariants over every path it can take.

A tree's ``invariants:`` section states, as data a safeguarding lead can read, what must hold on
every walk: "an urgent path ends in share or share partially", "consent is never offered once a
risk is established", "an emergency shows the act-now step in the very next reply", "no path is
longer than 20 answers". Listing paths is hopeless (one tree had over 500,000), so the prover walks
*states* instead: a node plus only the facts that can change what happens next (the facts a
condition or an invariant reads). Two paths that reach the same state have the same futures, so
each state is explored once (a breadth-first search, which also makes every counterexample the
shortest one). From the same state graph come the figures: paths, their lengths, and the expected
number of answers left at each step (the walkthrough's "step 3 of about 9").
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dialogs.tree import (
    Conditions,
    Node,
    NodeKind,
    Option,
    Tree,
    any_condition_holds,
    conditions,
    conditions_hold,
    resolve,
    state_key,
)

StateKey = tuple[str, frozenset]
_Move = tuple[Option | None, dict[str, str], str]  # the option picked (None: typed), the facts, the next node


@dataclass(frozen=True)
class Invariant:
    """One safety property. ``when``/``unless`` scope it to the states whose facts match; one check each."""

    id: str
    says: str
    when: Conditions = ()
    unless: Conditions = ()
    decision: tuple[str, ...] = ()  # at every outcome in scope, the decision is one of these
    require: Conditions = ()  # at every outcome in scope, these facts hold
    never_offered: tuple[str, ...] = ()  # "node.value" choices never offered in scope
    never_reached: tuple[str, ...] = ()  # nodes never shown in scope
    after_choosing: Conditions = ()  # an answer that sets these facts...
    next_node: tuple[str, ...] = ()  # ...is followed at once by one of these nodes
    within_answers: int | None = None  # ...and by an outcome within this many more answers
    max_answers: int | None = None  # no path from the start to an outcome in scope is longer (loops bounded)
    every_path_ends: bool = False  # every state can still reach an outcome (every loop has an exit)
    set_once: tuple[str, ...] = ()  # no answer overwrites one of these facts once set
    max_choices: int | None = None  # every choice step offers at least one and at most this many choices

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Invariant:
        def names(key: str) -> tuple[str, ...]:
            return tuple(str(v) for v in raw.get(key, ()))
        return cls(id=str(raw["id"]), says=str(raw["says"]).strip(), when=conditions(raw.get("when")),
                   unless=conditions(raw.get("unless")), decision=names("decision"),
                   require=conditions(raw.get("require")), never_offered=names("never_offered"),
                   never_reached=names("never_reached"), after_choosing=conditions(raw.get("after_choosing")),
                   next_node=names("next_node"), within_answers=raw.get("within_answers"),
                   max_answers=raw.get("max_answers"), every_path_ends=bool(raw.get("every_path_ends", False)),
                   set_once=names("set_once"), max_choices=raw.get("max_choices"))

    def fact_names(self) -> set[str]:
        used = {*self.set_once}
        for group in (self.when, self.unless, self.require, self.after_choosing):
            used |= {name for name, _ in group}
        return used

    def node_refs(self) -> tuple[str, ...]:
        return (*self.never_offered, *self.never_reached, *self.next_node)

    def applies(self, facts: Mapping[str, str]) -> bool:
        return conditions_hold(self.when, facts) and not any_condition_holds(self.unless, facts)

    def triggered_by(self, option: Option) -> bool:
        sets = dict(option.sets)
        return bool(self.after_choosing) and all(sets.get(name) in values for name, values in self.after_choosing)


@dataclass
class Proof:
    """What the search found: failures as (invariant index, message), and the figures."""

    failures: list[tuple[int, str]] = field(default_factory=list)
    states: int = 0
    paths: int = 0
    lengths: Counter = field(default_factory=Counter)  # answers on a complete path -> number of paths
    longest: list[str] = field(default_factory=list)
    live_facts: dict[str, frozenset[str]] = field(default_factory=dict)
    presence_facts: frozenset[str] = frozenset()
    remaining: dict[StateKey, float] = field(default_factory=dict)
    seconds: float = 0.0
    outcome_answers: dict[str, tuple[int, int]] = field(default_factory=dict)  # outcome -> (fewest, most) answers

    def median_length(self) -> float:
        total, seen = self.paths, 0
        for length in sorted(self.lengths):
            seen += self.lengths[length]
            if seen * 2 >= total:
                return length
        return 0


def live_facts(tree: Tree) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """The proof's state at each node: the facts that can still be read from there on (by a condition,
    an invariant, or a ``set_once`` check), and the facts where only being set matters. A fact nothing
    reads again is dropped, so paths that differ only in it merge (a live-variable analysis)."""
    once = frozenset(name for invariant in tree.invariants for name in invariant.set_once)
    read: dict[str, set[str]] = {node_id: set() for node_id in tree.nodes}
    valued: set[str] = set()
    for node in tree.nodes.values():
        for transition in (*node.next, *(t for o in node.options for t in o.next)):
            read[node.id] |= {name for name, _ in transition.when}
        for option in node.options:
            read[node.id] |= {name for name, _ in (*option.when, *option.unless)}
            read[node.id] |= {name for name, _ in option.sets if name in once}
        valued |= read[node.id] - once
    outcomes = [n.id for n in tree.nodes.values() if n.kind is NodeKind.OUTCOME]
    for invariant in tree.invariants:
        scope = {name for name, _ in (*invariant.when, *invariant.unless, *invariant.require)}
        valued |= scope
        at = [ref.partition(".")[0] for ref in (*invariant.never_offered, *invariant.never_reached)]
        if invariant.decision or invariant.require or invariant.max_answers is not None:
            at += outcomes
        for node_id in at:
            read[node_id] |= scope
    live = {node_id: set(names) for node_id, names in read.items()}
    changed = True
    while changed:
        changed = False
        for node in tree.nodes.values():
            for target in node.targets():
                if not live[target] <= live[node.id]:
                    live[node.id] |= live[target]
                    changed = True
    return {node_id: frozenset(names) for node_id, names in live.items()}, frozenset(once - valued)


def _answer(node: Node, option: Option | None) -> str:
    return f"{node.id}={option.value}" if option is not None else f"{node.id}=(typed)"


class _Search:
    """One breadth-first walk of a tree's states: the graph it finds and the failures on the way."""

    def __init__(self, tree: Tree, proof: Proof) -> None:
        self.tree, self.proof = tree, proof
        self.live, self.presence = proof.live_facts, proof.presence_facts
        invariants = tree.invariants
        self.outcome_checks = [(i, v) for i, v in enumerate(invariants) if v.decision or v.require]
        self.reached_checks: dict[str, list[int]] = {}
        self.offered_checks: dict[str, list[tuple[int, str]]] = {}
        for index, invariant in enumerate(invariants):
            for node_id in invariant.never_reached:
                self.reached_checks.setdefault(node_id, []).append(index)
            for ref in invariant.never_offered:
                node_id, _, value = ref.partition(".")
                self.offered_checks.setdefault(node_id, []).append((index, value))
        self.choice_limits = [(i, v.max_choices) for i, v in enumerate(invariants) if v.max_choices is not None]
        self.triggered = {(node.id, o.value): [i for i, v in enumerate(invariants) if v.triggered_by(o)]
                          for node in tree.nodes.values() for o in node.options}
        self.once = {name: [i for i, v in enumerate(invariants) if name in v.set_once]
                     for v in invariants for name in v.set_once}
        self.failed: set[int] = set()
        self.start, _ = self.key_of(tree.start, {})
        self.facts_of: dict[StateKey, dict[str, str]] = {self.start: {}}
        self.parent: dict[StateKey, tuple[StateKey, str] | None] = {self.start: None}
        self.edges: dict[StateKey, list[StateKey]] = {}
        self.labels: dict[tuple[StateKey, StateKey], str] = {}  # an answer that takes one state to the next
        self.triggers: list[tuple[int, StateKey, StateKey, str]] = []  # (invariant, from, to, answer)
        self.queue = deque([self.start])

    def key_of(self, node_id: str, facts: Mapping[str, str]) -> tuple[StateKey, dict[str, str]]:
        kept = {name: value for name, value in facts.items() if name in self.live[node_id]}
        return state_key(node_id, kept, self.live[node_id], self.presence), kept

    def path_to(self, key: StateKey) -> list[str]:
        steps = []
        while (step := self.parent[key]) is not None:
            key, answer = step
            steps.append(answer)
        return steps[::-1]

    def fail(self, index: int, key: StateKey, detail: str, extra: str = "", answers: list[str] | None = None) -> None:
        """Record the first (so the shortest) counterexample for an invariant: the answers that break it."""
        if index in self.failed:
            return
        self.failed.add(index)
        invariant = self.tree.invariants[index]
        kind = "counterexample" if answers is not None else "shortest counterexample"
        answers = answers if answers is not None else [*self.path_to(key), *([extra] if extra else [])]
        self.proof.failures.append((index, f"invariant {invariant.id!r} ({invariant.says}) is broken: {detail}; "
                                           f"{kind} ({len(answers)} answers): {' > '.join(answers) or '(the start)'}"))

    def run(self) -> None:
        while self.queue:
            self._visit(self.queue.popleft())

    def _visit(self, key: StateKey) -> None:
        facts = self.facts_of[key]
        node = self.tree.node(key[0])
        self.edges[key] = []
        for index in self.reached_checks.get(node.id, ()):
            if self.tree.invariants[index].applies(facts):
                self.fail(index, key, f"the path reaches {node.id!r}")
        if node.kind is NodeKind.OUTCOME:
            self._check_outcome(key, node, facts)
        elif node.kind is NodeKind.CHOICE:
            self._follow(key, node, self._choice_moves(key, node, facts))
        else:
            new = {**facts, node.field: "*"}
            self._follow(key, node, [(None, new, resolve(node.next, new))])

    def _check_outcome(self, key: StateKey, node: Node, facts: dict[str, str]) -> None:
        for index, invariant in self.outcome_checks:
            if not invariant.applies(facts):
                continue
            if invariant.decision and str(node.decision) not in invariant.decision:
                self.fail(index, key, f"it ends in {node.decision} at {node.id!r}")
            if invariant.require and not conditions_hold(invariant.require, facts):
                self.fail(index, key, f"it ends at {node.id!r} without {dict(invariant.require)}")

    def _choice_moves(self, key: StateKey, node: Node, facts: dict[str, str]) -> list[_Move]:
        """Check what a choice node offers here; the moves its options make."""
        offered = node.offered(facts)
        for index, limit in self.choice_limits:
            if not 1 <= len(offered) <= limit:
                self.fail(index, key, f"{node.id!r} offers {len(offered)} choices")
        for index, value in self.offered_checks.get(node.id, ()):
            if any(o.value == value for o in offered) and self.tree.invariants[index].applies(facts):
                self.fail(index, key, f"{node.id!r} offers {value!r}")
        if not offered:
            self.proof.failures.append((-1, f"node {node.id!r} offers no choice after: "
                                            f"{' > '.join(self.path_to(key)) or '(the start)'}"))
        moves: list[_Move] = []
        for option in offered:
            for name, _ in option.sets:
                for index in self.once.get(name, ()) if name in facts else ():
                    self.fail(index, key, f"{node.id}={option.value} overwrites {name!r}", _answer(node, option))
            new = {**facts, **{name: "*" if name in self.presence else value for name, value in option.sets}}
            moves.append((option, new, resolve(option.next, new)))
        return moves

    def _follow(self, key: StateKey, node: Node, moves: list[_Move]) -> None:
        """Add each move's edge, queue the states not seen yet and check what the answer triggers."""
        for picked, new, target in moves:
            child, kept = self.key_of(target, new)
            answer = _answer(node, picked)
            self.edges[key].append(child)
            self.labels.setdefault((key, child), answer)
            if child not in self.parent:
                self.parent[child] = (key, answer)
                self.facts_of[child] = kept
                self.queue.append(child)
            for index in self.triggered[(node.id, picked.value)] if picked is not None else ():
                invariant = self.tree.invariants[index]
                if invariant.next_node and target not in invariant.next_node:
                    self.fail(index, key, f"{answer} is followed by {target!r}", answer)
                if invariant.within_answers is not None:
                    self.triggers.append((index, key, child, answer))


def prove(tree: Tree) -> Proof:
    """Search every state from the start; check each invariant; return failures and figures."""
    began = time.perf_counter()
    live, presence = live_facts(tree)
    proof = Proof(live_facts=live, presence_facts=presence)
    search = _Search(tree, proof)
    search.run()
    proof.states = len(search.edges)
    _measure(search)
    proof.seconds = time.perf_counter() - began
    return proof


def _measure(search: _Search) -> None:
    """Loops, longest paths, path counts and the answers left, from the explored state graph."""
    tree, proof, start, edges = search.tree, search.proof, search.start, search.edges
    incoming: dict[StateKey, list[StateKey]] = {}
    for key, out in edges.items():
        for child in out:
            incoming.setdefault(child, []).append(key)
    can_finish = _can_finish(tree, edges, incoming)
    stuck = [key for key in edges if key not in can_finish]
    cycle = _find_cycle(start, edges)
    for index, invariant in enumerate(tree.invariants):
        if invariant.every_path_ends and stuck:
            search.fail(index, stuck[0], f"from {stuck[0][0]!r} no outcome can be reached (a loop without an exit)")
        if invariant.max_answers is not None and cycle:
            search.fail(index, cycle[0], f"answers can repeat forever around {' > '.join(k[0] for k in cycle)}")
    if cycle:
        return
    longest = _path_figures(proof, start, edges)
    proof.longest = _longest_answers(start, edges, search.labels, longest)
    depth = _deepest(start, edges)
    fewest = _shallowest(start, edges)
    for key, out in edges.items():
        if not out:
            low, high = proof.outcome_answers.get(key[0], (fewest[key], depth[key]))
            proof.outcome_answers[key[0]] = (min(low, fewest[key]), max(high, depth[key]))
    _check_max_answers(search, depth, incoming)
    for index, before, child, answer in search.triggers:
        if longest[child] > tree.invariants[index].within_answers:
            search.fail(index, before, f"after {answer} a path takes {longest[child]} more answers", answer)


def _check_max_answers(search: _Search, depth: dict[StateKey, int], incoming: dict[StateKey, list[StateKey]]) -> None:
    """No path an invariant covers takes more than its ``max_answers``; the counterexample is the deepest."""
    for index, invariant in enumerate(search.tree.invariants):
        if invariant.max_answers is None:
            continue
        over = [key for key, out in search.edges.items() if not out and invariant.applies(search.facts_of[key])
                and depth[key] > invariant.max_answers]
        if over:
            worst = max(over, key=lambda k: depth[k])
            search.fail(index, search.start, f"a path takes {depth[worst]} answers to {worst[0]!r}",
                        answers=_deepest_path(worst, depth, incoming, search.labels))


def _can_finish(tree: Tree, edges: dict[StateKey, list[StateKey]],
                incoming: dict[StateKey, list[StateKey]]) -> set[StateKey]:
    """The states from which some outcome can still be reached."""
    can_finish = {key for key in edges if tree.node(key[0]).kind is NodeKind.OUTCOME}
    pending = list(can_finish)
    while pending:
        for before in incoming.get(pending.pop(), ()):
            if before not in can_finish:
                can_finish.add(before)
                pending.append(before)
    return can_finish


def _path_figures(proof: Proof, start: StateKey, edges: dict[StateKey, list[StateKey]]) -> dict[StateKey, int]:
    """Path lengths and counts and the expected answers left (on ``proof``); the longest path from each state."""
    longest: dict[StateKey, int] = {}
    lengths: dict[StateKey, Counter] = {}
    remaining: dict[StateKey, float] = {}
    for key in _post_order(start, edges):
        out = edges[key]
        if not out:
            longest[key], lengths[key], remaining[key] = 0, Counter({0: 1}), 0.0
            continue
        longest[key] = 1 + max(longest[child] for child in out)
        counts: Counter = Counter()
        for child in out:
            for length, number in lengths[child].items():
                counts[length + 1] += number
        lengths[key] = counts
        remaining[key] = 1 + sum(remaining[child] for child in out) / len(out)
    proof.lengths = lengths[start]
    proof.paths = sum(proof.lengths.values())
    proof.remaining = {key: value for key, value in remaining.items() if edges[key]}
    return longest


def _longest_answers(start: StateKey, edges: dict[StateKey, list[StateKey]],
                     labels: dict[tuple[StateKey, StateKey], str], longest: dict[StateKey, int]) -> list[str]:
    """The answers along one longest path (written as in counterexamples)."""
    answers, key = [], start
    while edges[key]:
        child = max(edges[key], key=lambda k: longest[k])
        answers.append(labels[(key, child)])
        key = child
    return answers


def _deepest(start: StateKey, edges: dict[StateKey, list[StateKey]]) -> dict[StateKey, int]:
    """The most answers any path takes from the start to each state (the graph is acyclic here)."""
    depth = {start: 0}
    for key in reversed(_post_order(start, edges)):
        for child in edges[key]:
            depth[child] = max(depth.get(child, 0), depth[key] + 1)
    return depth


def _shallowest(start: StateKey, edges: dict[StateKey, list[StateKey]]) -> dict[StateKey, int]:
    """The fewest answers any path takes from the start to each state (breadth first)."""
    fewest, queue = {start: 0}, deque([start])
    while queue:
        key = queue.popleft()
        for child in edges[key]:
            if child not in fewest:
                fewest[child] = fewest[key] + 1
                queue.append(child)
    return fewest


def _deepest_path(key: StateKey, depth: dict[StateKey, int], incoming: dict[StateKey, list[StateKey]],
                  labels: dict[tuple[StateKey, StateKey], str]) -> list[str]:
    answers = []
    while depth[key]:
        before = next(b for b in incoming[key] if depth[b] == depth[key] - 1)
        answers.append(labels[(before, key)])
        key = before
    return answers[::-1]


def _find_cycle(start: StateKey, edges: dict[StateKey, list[StateKey]]) -> list[StateKey]:
    """One cycle reachable from the start (the states on it), or [] if the state graph is acyclic."""
    colour: dict[StateKey, int] = {}
    stack: list[tuple[StateKey, int]] = [(start, 0)]
    trail: list[StateKey] = []
    while stack:
        key, index = stack.pop()
        if index == 0:
            colour[key] = 1
            trail.append(key)
        out = edges.get(key, [])
        if index < len(out):
            stack.append((key, index + 1))
            child = out[index]
            if colour.get(child) == 1:
                return trail[trail.index(child):]
            if child not in colour:
                stack.append((child, 0))
        else:
            colour[key] = 2
            trail.pop()
    return []


def _post_order(start: StateKey, edges: dict[StateKey, list[StateKey]]) -> list[StateKey]:
    order, seen, stack = [], {start}, [(start, iter(edges[start]))]
    while stack:
        key, children = stack[-1]
        child = next(children, None)
        if child is None:
            order.append(key)
            stack.pop()
        elif child not in seen:
            seen.add(child)
            stack.append((child, iter(edges[child])))
    return order
