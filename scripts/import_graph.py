#!/usr/bin/env python3
"""The project's import graph between its layers, read from the source (nothing is imported).

``python3 scripts/import_graph.py [ROOT]`` prints one line per edge between packages
(``bot -> dialogs  runtime 2, lazy 1, type-only 0``) and then the imports that break the layering
rules in ``tests/test_layers.py``. Lazy means inside a function; type-only means under
``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("app", "cli", "bot", "dialogs", "adapters")
# Modules of bot/ that hold only neutral types and wording: what the pure dialogs may use.
NEUTRAL = frozenset({"bot.messages", "bot.identity", "bot.strings", "bot.yamlload", "bot.summary", "bot.topics",
                     "bot.numbers", "bot.isa.model"})


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. "bot.core"
    target: str  # the imported module, e.g. "dialogs.base"
    how: str  # "runtime", "lazy" or "type-only"
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, source: str, is_package: bool, modules: set[str]) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, how: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for inner in child.body:
                    visit_one(inner, "type-only")
                for inner in child.orelse:
                    visit_one(inner, how)
                continue
            visit_one(child, how)

    def visit_one(node: ast.AST, how: str) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(source, alias.name, how, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = source.split(".")[: len(source.split(".")) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # ``from bot import records`` imports the module bot.records; ``from bot.core import X`` bot.core.
            found.extend(Import(source, f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module,
                                how, node.lineno) for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            visit(node, "lazy" if how == "runtime" else how)
        else:
            visit(node, how)

    visit(tree, "runtime")
    return found


def project_imports(root: Path) -> list[Import]:
    """Every import between the project's own modules (``from bot import privacy`` names bot.privacy)."""
    files = [root / "app.py"] + [p for package in PACKAGES[1:] for p in sorted((root / package).rglob("*.py"))]
    modules = {module_name(root, p) for p in files if p.exists()}
    edges = []
    for path in files:
        if not path.exists():
            continue
        source = module_name(root, path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges.extend(found for found in _imports(tree, source, path.name == "__init__.py", modules)
                     if found.target in modules)
    return sorted(set(edges), key=lambda e: (e.source, e.line, e.target))


def package(module: str) -> str:
    return module.split(".", 1)[0]


def violations(edges: list[Import]) -> list[str]:
    """Imports that break the layering (see tests/test_layers.py for why each rule exists)."""
    problems = []
    for edge in edges:
        src, dst = package(edge.source), package(edge.target)
        where = f"{edge.source}:{edge.line} imports {edge.target} ({edge.how})"
        if edge.source.endswith("__main__"):
            continue  # ``python -m bot`` is a script that starts the CLI; nothing imports it
        if src in {"bot", "dialogs"} and dst in {"adapters", "app", "cli"}:
            problems.append(f"the core knows no channel and no composition root: {where}")
        if src == "dialogs" and dst == "bot" and edge.target not in NEUTRAL:
            problems.append(f"pure dialogs use only neutral types from bot: {where}")
        if edge.source in NEUTRAL and not (edge.target in NEUTRAL or package(edge.target) not in PACKAGES):
            problems.append(f"a neutral module imports only neutral modules: {where}")
        if src == "adapters" and dst == "adapters":
            own, other = edge.source.split("."), edge.target.split(".")
            shared = other[:2] == ["adapters", "local"] or other == ["adapters"]
            if len(own) > 1 and len(other) > 1 and own[1] != other[1] and not shared:
                problems.append(f"adapters do not import each other: {where}")
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[0]).resolve() if argv else Path(__file__).resolve().parent.parent
    edges = project_imports(root)
    counts = Counter((package(e.source), package(e.target), e.how) for e in edges
                     if package(e.source) != package(e.target))
    pairs = sorted({(src, dst) for src, dst, _ in counts})
    for src, dst in pairs:
        detail = ", ".join(f"{how} {counts[src, dst, how]}" for how in ("runtime", "lazy", "type-only"))
        print(f"{src:>8} -> {dst:<8} {detail}")
    problems = violations(edges)
    print(f"\n{len(problems)} layering violation(s)")
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
