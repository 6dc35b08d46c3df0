"""The layers hold: read from the source, so a new import that breaks them fails CI with its line.

* ``bot/`` (the core) and ``dialogs/`` import neither ``adapters`` nor ``app`` nor ``cli``: the core
  knows no channel, and app.py is the only composition root.
* ``dialogs/`` is pure: from ``bot`` it uses only the neutral modules (messages, identity, strings,
  wording), so dialogs never reach storage or the core, and the core depends on dialogs, not back.
* adapters do not import each other (the web chat and the terminal share adapters/local.py).
"""

from __future__ import annotations

from pathlib import Path

from scripts.import_graph import NEUTRAL, Import, project_imports, violations

ROOT = Path(__file__).resolve().parent.parent


def test_the_project_keeps_its_layers():
    assert violations(project_imports(ROOT)) == []


def test_no_dialog_imports_the_core_and_the_core_reaches_dialogs_only_through_their_modules():
    edges = project_imports(ROOT)
    assert any(e.source == "bot.dialog_runner" and e.target == "dialogs.base" for e in edges)
    assert not [e for e in edges if e.source.startswith("dialogs") and e.target.startswith("bot")
                and e.target not in NEUTRAL]


def test_the_checker_sees_lazy_and_type_only_imports(tmp_path):
    """The rule would be toothless if imports inside functions or under TYPE_CHECKING slipped past."""
    (tmp_path / "bot").mkdir()
    (tmp_path / "adapters").mkdir()
    (tmp_path / "dialogs").mkdir()
    (tmp_path / "app.py").write_text("")
    (tmp_path / "adapters" / "__init__.py").write_text("")
    (tmp_path / "adapters" / "web.py").write_text("")
    (tmp_path / "bot" / "__init__.py").write_text("")
    (tmp_path / "bot" / "core.py").write_text("")
    (tmp_path / "dialogs" / "__init__.py").write_text("")
    (tmp_path / "bot" / "cli.py").write_text("def run():\n    from adapters import web\n    import app\n")
    (tmp_path / "dialogs" / "form.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.core import X\n")
    found = violations(project_imports(tmp_path))
    assert len(found) == 3, found
    assert Import("dialogs.form", "bot.core", "type-only", 3) in project_imports(tmp_path)


# What builds SQL: statements, conditions, dialect inserts and the table definitions themselves.
SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "func", "and_", "or_", "not_", "cast", "literal"}


def test_sql_is_written_only_under_bot_storage():
    """Repositories under bot/storage/ own every statement; the rest passes engines and connections."""
    import ast

    found = []
    paths = [ROOT / "app.py"] + [p for package in ("bot", "dialogs", "adapters", "cli")
                                 for p in sorted((ROOT / package).rglob("*.py"))]
    for path in paths:
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("bot/storage/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.module is None:
                continue
            names = {alias.name for alias in node.names}
            if ((node.module == "sqlalchemy" and names & SQL_BUILDERS) or node.module.startswith("sqlalchemy.dialects")
                    or node.module.startswith("sqlalchemy.sql") or node.module == "bot.storage.tables"):
                found.append(f"{relative}:{node.lineno} from {node.module} import {', '.join(sorted(names))}")
    assert found == []
