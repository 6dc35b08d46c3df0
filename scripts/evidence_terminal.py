#!/usr/bin/env python3
"""A whole walkthrough in the terminal chat, in a real pseudo-terminal 72 columns wide, from ``decide`` to a
recorded summary: prints what the user saw, the number of answers, the exit code and the longest line.

    .venv/bin/python scripts/evidence_terminal.py > docs/evidence/terminal-walkthrough/transcript.txt
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.test_terminal import PROMPT, PseudoTerminal

# The share path: a case reference, "a worry about a child", typed details, then the first option each time.
ANSWERS = ["CR-2026-0412", "2", "1", "Phone note of the bruising I saw", "1", "1", "Duty social worker",
           *["1"] * 8]


def main() -> int:
    terminal = PseudoTerminal(Path(tempfile.mkdtemp()) / "evidence.db", 72)
    shown = [terminal.read_until(PROMPT)]
    answers = 0
    for keys in ["decide", *ANSWERS]:
        terminal.type(keys + "\r")
        shown.append(terminal.read_until(PROMPT))
        answers += keys != "decide"
        if "Decision summary" in shown[-1]:
            break
    for keys in ["1", "Sam Carter, DSL"]:  # Record this; then the practitioner's own name, asked once
        terminal.type(keys + "\r")
        shown.append(terminal.read_until(PROMPT))
    terminal.type("\x04")
    code, _ = terminal.finish()
    text = "".join(shown)
    print(text)
    print(f"answers to the summary: {answers}; exit code {code}; longest line {max(map(len, text.splitlines()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
