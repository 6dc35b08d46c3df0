"""Dialog trees loaded from content/trees/*.yaml (placeholder until the walkthrough lands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Tree = dict[str, Any]


def load_trees(root: Path, topic_ids: set[str], strings: Any) -> dict[str, Tree]:
    return {}
