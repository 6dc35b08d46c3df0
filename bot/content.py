"""All of content/ loaded and validated together: wording, guidance topics, dialog trees.

The server refuses to start, and ``python -m bot content check`` exits non-zero, on any problem;
both print the same ``file:line: what is wrong`` lines. That includes a wording key the code words a
reason with (an undeliverable reminder, a malformed address, a wrong ISA field) missing from
strings.yaml: those keys are built from names, so they are declared here rather than written out.
The content check also reads the code for the keys it writes out (:func:`unworded_literals`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.delivery import DeliveryError, DeliveryFailure
from bot.identity import AddressError, AddressKind, AddressProblem
from bot.isa.model import FieldProblem, Problem
from bot.strings import Strings, load_strings
from bot.topics import EMPTY_VOCABULARY, Topic, Vocabulary, load_out_of_scope, load_topics, load_vocabulary
from bot.yamlload import ContentError, ContentProblem, load_validated
from dialogs.tree import Tree, load_trees


@dataclass(frozen=True)
class Content:
    version: str
    root: Path
    strings: Strings
    topics: list[Topic]
    trees: dict[str, Tree]
    meta: dict[str, Any]
    vocabulary: Vocabulary = EMPTY_VOCABULARY
    out_of_scope: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kind -> examples the bot abstains on

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)


def worded_keys() -> list[str]:
    """Every wording key a reason can be worded with: each failure, problem and kind the code names."""
    return [*(f"{DeliveryError.prefix}{failure}" for failure in DeliveryFailure),
            *(f"{AddressError.prefix}{problem}" for problem in AddressProblem),
            *(f"{AddressError.prefix}kind.{kind}" for kind in AddressKind),
            *(f"{FieldProblem.prefix}{problem}" for problem in Problem)]


def missing_wording(strings: Strings) -> list[ContentProblem]:
    return [ContentProblem("strings.yaml", 1, f"missing wording {key!r} (the code words a reason with it)")
            for key in worded_keys() if key not in strings]


# A key written out in a call to get on the wording (s, strings, self.strings, assistant.strings ...).
LITERAL_KEY = re.compile(
    r"""\b(?:s|strings|self\.strings|assistant\.strings|self\._strings)\.get\("""
    r"""\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']"""
)
CODE_FOLDERS = ("bot", "dialogs", "adapters")


def literal_keys(project: Path) -> dict[str, str]:
    """Every wording key written out in the code under ``project``, with where it is first asked for."""
    found: dict[str, str] = {}
    for folder in CODE_FOLDERS:
        for path in sorted((project / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for key in LITERAL_KEY.findall(line):
                    found.setdefault(key, f"{path.relative_to(project).as_posix()}:{number}")
    return found


def unworded_literals(strings: Strings, project: Path) -> list[ContentProblem]:
    """The keys the code under ``project`` asks for that ``strings`` lacks (read from the source, so the
    content check run from a checkout catches a deleted key before any user meets it)."""
    return [ContentProblem("strings.yaml", 1, f"missing wording {key!r} (asked for at {where})")
            for key, where in literal_keys(project).items() if key not in strings]


def load_content(root: Path, with_trees: bool = True) -> Content:
    """Load everything under ``root``; collect problems from every part before raising.

    ``with_trees=False`` skips the dialog trees (loading and proving them takes about a second), for a
    one-shot command such as ``python -m bot ask`` that only answers questions."""
    problems: list[ContentProblem] = []
    results: dict[str, Any] = {}
    for name, loader in (
        ("meta", lambda: load_validated(root / "meta.yaml", "meta", root)),
        ("strings", lambda: load_strings(root)),
        ("topics", lambda: load_topics(root)),
        ("vocabulary", lambda: load_vocabulary(root)),
        ("privacy", lambda: load_validated(root / "privacy.yaml", "privacy", root) if (root / "privacy.yaml").exists()
         else None),
    ):
        try:
            results[name] = loader()
        except ContentError as exc:
            problems.extend(exc.problems)
    if "strings" in results:
        problems.extend(missing_wording(results["strings"]))
    if "topics" in results:
        try:
            results["out_of_scope"] = load_out_of_scope(root, results["topics"])
        except ContentError as exc:
            problems.extend(exc.problems)
    results["trees"] = {}
    if not problems and with_trees:
        try:
            results["trees"] = load_trees(root, {t.id for t in results["topics"]}, results["strings"])
        except ContentError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ContentError(problems)
    meta = results["meta"]
    return Content(
        version=str(meta["version"]),
        root=root,
        strings=results["strings"],
        topics=results["topics"],
        trees=results["trees"],
        meta=dict(meta),
        vocabulary=results["vocabulary"],
        out_of_scope=results["out_of_scope"],
    )
