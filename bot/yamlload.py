"""YAML loading that remembers line numbers, and JSON Schema validation reported as ``file:line``.

Content authors edit YAML by hand; when they get something wrong the message must point at the
line, not at a Python traceback. Every content loader goes through :func:`load_validated`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "content" / "schemas"
# Markers of (file text, schema text, jsonschema version) combinations already validated clean: importing
# jsonschema and validating costs about half a second, too much for a cold ``python -m bot ask`` when
# nothing changed. A problem is never cached, so a broken file is always reported.
VALIDATED_DIR = Path(__file__).resolve().parent.parent / "data" / "cache" / "validated"


@dataclass(frozen=True)
class ContentProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ContentError(Exception):
    """One or more problems in content files; ``str()`` lists them one per line as file:line."""

    def __init__(self, problems: list[ContentProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:  # libyaml when present: ~10x faster start-up
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):
    """A safe loader that records the line of every mapping key and sequence item."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    lines: dict[Any, int] = {}
    seen: set[Any] = set()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
        mapping[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    result = LineDict(mapping)
    result.lines = lines
    result.line = node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> list[Any]:
    items = LineList(loader.construct_object(child, deep=True) for child in node.value)
    items.lines = [child.start_mark.line + 1 for child in node.value]
    items.line = node.start_mark.line + 1
    return items


class LineDict(dict):
    """A dict that knows the line of each key (``lines``) and of itself (``line``)."""

    lines: dict[Any, int]
    line: int


class LineList(list):
    lines: list[int]
    line: int


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def line_of(document: Any, path: list[Any] | tuple[Any, ...]) -> int:
    """The best line number for a JSON path into a loaded document (the deepest node known)."""
    line = getattr(document, "line", 1)
    node = document
    for part in path:
        if isinstance(node, LineDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line


def load_yaml(path: Path, display_name: str | None = None) -> Any:
    """Parse a YAML file keeping line numbers; syntax errors become a ContentError at their line."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError([ContentProblem(name, 1, f"cannot read file: {exc}")]) from None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or str(exc)
        raise ContentError([ContentProblem(name, line, f"YAML syntax error: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise ContentError([ContentProblem(name, 1, f"YAML error: {exc}")]) from None


@cache
def schema(name: str) -> dict[str, Any]:
    """Load a JSON Schema (written in YAML) from content/schemas/ (once per process: start-up time)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((SCHEMA_DIR / f"{name}.schema.yaml").read_text(encoding="utf-8"), Loader=loader)


def validate(document: Any, schema_name: str, display_name: str) -> list[ContentProblem]:
    """All schema violations of a loaded document, each at its line, sorted by line."""
    from jsonschema import Draft202012Validator  # imported only when something must be validated

    validator = Draft202012Validator(schema(schema_name))
    problems = []
    for error in validator.iter_errors(document):
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(
            ContentProblem(display_name, line_of(document, list(error.absolute_path)),
                           f"{where}: {_short(error.message)}")
        )
    return sorted(problems, key=lambda p: p.line)


def load_validated(path: Path, schema_name: str, root: Path | None = None) -> Any:
    """Load and schema-check one YAML file; raise ContentError listing every problem."""
    display = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    document = load_yaml(path, display)
    marker = _validated_marker(path, schema_name)
    if marker is not None and marker.exists():
        return document
    problems = validate(document, schema_name, display)
    if problems:
        raise ContentError(problems)
    if marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:  # a read-only disk only costs start-up time
            pass
    return document


def _validated_marker(path: Path, schema_name: str) -> Path | None:
    """Where the "validated clean" marker of this file's text against this schema lives."""
    from importlib import metadata

    try:
        material = [path.read_bytes(), (SCHEMA_DIR / f"{schema_name}.schema.yaml").read_bytes(),
                    metadata.version("jsonschema").encode()]
    except (OSError, metadata.PackageNotFoundError):
        return None
    return VALIDATED_DIR / hashlib.sha256(b"\0".join(material)).hexdigest()[:32]


def _short(message: str, limit: int = 200) -> str:
    message = message.replace("\n", " ")
    return message if len(message) <= limit else message[: limit - 3] + "..."


def plain(data: Any) -> Any:
    """Strip the line-tracking types (for JSON output and hashing)."""
    return json.loads(json.dumps(data, default=str))
