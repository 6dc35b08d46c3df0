#!/usr/bin/env python3
"""A whole walkthrough in the terminal chat, in a real pseudo-terminal 72 columns wide, from ``decide`` to a
recorded summary: prints what the user saw, the number of answers, the exit code and the longest line.

    .venv/bin/python scripts/evidence_terminal.py > docs/evidence/terminal-walkthrough/transcript.txt
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.test_terminal import PROMPT, PseudoTerminal

# What the practitioner picks where a step offers it (else option 1), and types where a step asks for words.
PICKS = ("I'm worried a child", "A child under 13", "A council")
TYPED = ["CR-2026-0412", "Phone note of the bruising I saw on the child's arm"]
MAX_ANSWERS = 30
OPTION = re.compile(r"^\s+(\d+)\) (.+)$", re.MULTILINE)


def answer_for(step: str, typed: list[str]) -> str:
    """The number of the preferred option on a step that lists options, else the next typed answer."""
    options = OPTION.findall(step.rsplit("==", 1)[-1])
    if not options:
        return typed.pop(0) if typed else "Nothing more to add"
    return next((n for n, label in options for wanted in PICKS if label.startswith(wanted)), options[0][0])


def main() -> int:
    terminal = PseudoTerminal(Path(tempfile.mkdtemp()) / "evidence.db", 72)
    shown = [terminal.read_until(PROMPT)]
    terminal.type("decide\r")
    shown.append(terminal.read_until(PROMPT))
    typed, answers = list(TYPED), 0
    while "Decision summary" not in shown[-1] and answers < MAX_ANSWERS:
        terminal.type(answer_for(shown[-1], typed) + "\r")
        shown.append(terminal.read_until(PROMPT))
        answers += 1
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
