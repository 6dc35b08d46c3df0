"""CSV cells that a spreadsheet cannot run: formula injection (OWASP "CSV injection") neutralised.

Exports are opened in Excel or LibreOffice by an administrator (a subject access request, an audit),
and any chat user can put text in a record. A cell starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return would be read as a formula, so it is written with a leading ``'``, which spreadsheets
show as text; :func:`restore_cell` undoes it when our own export is imported again.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will show it as text; numbers and empty cells unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """The text :func:`safe_cell` was given (only a quote it added is removed)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value
