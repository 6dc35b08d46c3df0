"""The command line. Each ``cli.<name>`` module adds its subcommands with ``register``.

A subcommand sets ``func`` (sync or async, taking the parsed args, returning an exit code). It may
let ConfigError and ContentError propagate: they are reported here, with exit code 2.
Start-up stays fast because a module imports its heavy dependencies inside its functions.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys

COMMAND_MODULES = [
    "cli.ask",
    "cli.unanswered",
    "cli.content",
    "cli.chat",
    "cli.records",
    "cli.retention",
    "cli.isa",
    "cli.reminders",
    "cli.teams",
    "cli.privacy",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Information sharing assistant")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
        if inspect.iscoroutine(result):
            import asyncio  # only async commands pay for it (start-up time of `ask`)

            result = asyncio.run(result)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # configuration and content problems get their message, never a traceback
        message = _setup_problem(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 2
    sys.stdout.flush()
    return int(result or 0)


def _setup_problem(exc: Exception) -> str | None:
    from bot.config import ConfigError
    from bot.yamlload import ContentError

    if isinstance(exc, ConfigError):
        return f"Configuration error: {exc}"
    if isinstance(exc, ContentError):
        return f"Content is invalid; fix these and start again:\n{exc}"
    return None
