"""Every user-facing sentence lives in content/strings.yaml, keyed; code asks for it by key."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from bot.yamlload import load_validated


class Strings:
    """Keyed wording; ``get("help.intro", name=...)`` formats with ``str.format`` fields."""

    def __init__(self, table: dict[str, str]):
        self._table = table

    def get(self, key: str, **fields: Any) -> str:
        template = self._table[key]
        return template.format(**fields) if fields else template

    def __contains__(self, key: str) -> bool:
        return key in self._table

    def keys(self) -> list[str]:
        return list(self._table)


class WordedError(Exception):
    """A failure whose reason a user reads: a wording key (under ``prefix``) and its fields, worded by content.

    A field may itself be a WordedError (an ISA field's problem is a malformed address), worded in turn.
    ``str()`` is the key and the fields, for logs: the words are content's, not the code's.
    """

    prefix = ""

    def __init__(self, key: str, **fields: Any):
        super().__init__(key)
        self.key, self.fields = key, fields

    def reason(self, strings: Strings) -> str:
        fields = {name: value.reason(strings) if isinstance(value, WordedError) else value
                  for name, value in self.fields.items()}
        return strings.get(f"{self.prefix}{self.key}", **fields)

    def __str__(self) -> str:
        details = ", ".join(f"{name}={value}" for name, value in self.fields.items())
        return f"{self.prefix}{self.key}" + (f" ({details})" if details else "")


SHIPPED_CONTENT = Path(__file__).resolve().parent.parent / "content"


@cache
def shipped_strings() -> Strings:
    """The wording in this checkout's content/, for code that has no loaded content in reach (a file
    import run from the command line)."""
    return load_strings(SHIPPED_CONTENT)


def load_strings(root: Path) -> Strings:
    path = root / "strings.yaml"
    document = load_validated(path, "strings", root)
    table: dict[str, str] = {}

    def flatten(prefix: str, node: Any) -> None:
        for key, value in node.items():
            full = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                flatten(full, value)
            else:
                table[full] = str(value)

    flatten("", document)
    return Strings(table)
