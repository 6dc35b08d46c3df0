"""``python -m bot ask``: answer one question, or a stream of them, from the guidance.

The JSON form is a fixed contract used by benchmarks and other tools::

    python -m bot ask --json "QUESTION"        -> one JSON object
    python -m bot ask --json < questions.txt   -> one JSON object per input line, flushed as it goes

Each object carries ``"privacy": {"kinds": [...], "redacted": "..."}``: the kinds of identifying detail
found (sorted, never the values) and the question exactly as it would be stored.

Only the content loader and the question engine are imported, so it starts quickly.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("ask", help="answer a question from the guidance (with its sources)")
    parser.add_argument("question", nargs="*", help="the question (omit it to read one question per line from stdin)")
    parser.add_argument("--json", action="store_true",
                        help='print {"answered", "answer", "sources", "confidence", "topic", "privacy"} per question')
    parser.set_defaults(func=ask)


def ask(args: argparse.Namespace) -> int:
    from bot import privacy
    from bot.config import load_settings
    from bot.content import load_content
    from bot.qa import QuestionEngine

    content = load_content(load_settings().content_dir, with_trees=False)
    privacy.use_content(content.root)
    engine = QuestionEngine(content)
    show = _print_json if args.json else _print_human
    questions = [" ".join(args.question)] if args.question else (line.strip() for line in sys.stdin)
    for question in questions:
        scan = privacy.scan(question)
        # As in a chat: the engine reads the question without the details, which never carry meaning.
        show(engine.answer(privacy.without_details(question, scan.certain)), scan)
    return 0


def _print_json(answer, scan) -> None:
    print(json.dumps({**answer.to_json(), "privacy": scan.to_json()}, ensure_ascii=False), flush=True)


def _print_human(answer, scan) -> None:
    lines = [answer.answer]
    if answer.sources:
        lines.append("Sources:")
        lines += [f"  - {source.title}: {source.ref}" for source in answer.sources]
    if answer.options:
        lines += [f"  - {topic_id}" for topic_id in answer.options]
    if answer.answered and not answer.smalltalk:
        lines.append(f"(topic {answer.topic}, confidence {answer.confidence:.2f})")
    if scan.kinds:
        lines.append(f"(identifying details removed: {', '.join(scan.kinds)}; stored as: {scan.redacted})")
    print("\n".join(lines) + "\n", flush=True)
