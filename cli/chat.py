"""``python -m bot chat``: the same conversation as the web chat, in the terminal.

``--json`` switches to a line protocol for scripts and benchmarks (a fixed contract): each input
line is ``{"text": "..."}`` or ``{"choice": "VALUE"}``; after each, one output line
``{"replies": [{"text", "choices": [{"label", "value"}], "summary"}], "privacy": {"kinds", "redacted"},
"done": bool}`` where ``done`` means no dialog is active and ``privacy`` describes the line just sent (the kinds
of identifying detail found, sorted, and the text as stored).
A malformed line gets ``{"error": "...", "replies": [], "done": ...}``.
"""

from __future__ import annotations

import argparse
import re
import sys

DEFAULT_USER = "local:terminal"
_USER_ID = re.compile(r"[A-Za-z0-9:_.@-]{1,100}")


def register(subparsers) -> None:
    parser = subparsers.add_parser("chat", help="chat with the assistant in the terminal")
    parser.add_argument("--json", action="store_true",
                        help='line protocol: {"text": ...} or {"choice": ...} in, one JSON result line out')
    parser.add_argument("--user", default=DEFAULT_USER, type=_user_id,
                        help=f"who is chatting (default {DEFAULT_USER}); the local: prefix is added if missing")
    parser.set_defaults(func=chat)


def _user_id(raw: str) -> str:
    user = raw if raw.startswith("local:") else f"local:{raw}"
    if not _USER_ID.fullmatch(user):
        raise argparse.ArgumentTypeError("use up to 100 letters, digits and : _ . @ -")
    return user


async def chat(args: argparse.Namespace) -> int:
    from adapters.terminal import run_interactive, run_json
    from app import build_assistant
    from bot.config import load_settings
    from bot.logs import configure_logging

    settings = load_settings()
    configure_logging("WARNING")  # keep the conversation readable; warnings still go to stderr
    assistant = await build_assistant(settings)
    try:
        run = run_json if args.json else run_interactive
        return await run(assistant, args.user, sys.stdin, sys.stdout)
    finally:
        await assistant.close()
