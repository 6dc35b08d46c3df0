"""Whole numbers typed by users (record and agreement ids, day counts), parsed so that no input can
overflow the database's integers or Python's date arithmetic: an absurd number gets an answer."""

from __future__ import annotations

MAX_ID = 2**31 - 1  # the largest INTEGER in PostgreSQL: no record or agreement id can be larger


def whole_number(text: str, maximum: int = MAX_ID) -> int | None:
    """``text`` as an int in 0..maximum, or None: not ASCII digits (``²`` is a digit to ``isdigit``),
    or larger than ``maximum`` (checked on the length first, so a 4,000-digit number costs nothing)."""
    word = text.strip()
    if not word or not (word.isascii() and word.isdigit()) or len(word.lstrip("0")) > len(str(maximum)):
        return None
    value = int(word)
    return value if value <= maximum else None
