"""``python -m bot ask``: answer one question (or a stream of them) from the guidance."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("ask", help="answer a question from the guidance")
    parser.add_argument("question", nargs="*")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=lambda args: 0)
