"""``python -m bot content check``: validate everything under content/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("content", help="work with the guidance content")
    sub = parser.add_subparsers(dest="content_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate content/ (exit 1 with file:line messages on errors)")
    check.add_argument("--dir", type=Path, default=None, help="content directory (default: content/)")
    check.set_defaults(func=check_content)


def check_content(args: argparse.Namespace) -> int:
    from bot.config import PROJECT_ROOT
    from bot.content import load_content, unworded_literals
    from bot.yamlload import ContentError

    root = args.dir or PROJECT_ROOT / "content"
    try:
        content = load_content(root)
        if missing := unworded_literals(content.strings, PROJECT_ROOT):
            raise ContentError(missing)
    except ContentError as exc:
        print(str(exc), file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found.", file=sys.stderr)
        return 1
    print(f"content OK: version {content.version}, {len(content.topics)} topics, "
          f"{len(content.trees)} dialog trees")
    for tree in content.trees.values():
        proof = tree.proof
        print(f"{tree.file}: {len(tree.invariants)} invariants proven over {proof.paths:,} paths "
              f"({proof.states:,} states explored) in {proof.seconds:.2f} s; answers per path: median "
              f"{proof.median_length():g}, longest {max(proof.lengths, default=0)}")
    return 0
