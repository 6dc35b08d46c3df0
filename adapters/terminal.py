"""The terminal chat: renders neutral replies as plain text and runs an interactive loop on stdin.

Buttons become numbered options; typing the number presses the button, anything else is sent as
text. A step's secondary actions (Back, Why, Cancel) are shown after the options as the words to
type, since typing them is what pressing them does. At a terminal, text is wrapped to its width,
Ctrl+C clears the line being typed (twice in a row, or Ctrl+D, leaves) and a walkthrough left
unfinished is shown again on start. Only the rendering and the number-to-choice mapping live here;
the conversation is the core's.
"""

from __future__ import annotations

import json
import logging
import re
import select
import shutil
import signal
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from adapters.local import local_identity
from bot import privacy
from bot.context import TurnContext
from bot.core import Assistant
from bot.messages import Choice, IncomingTurn, Reply, ReplyKind
from bot.numbers import whole_number
from bot.strings import Strings

log = logging.getLogger(__name__)

QUIT_WORDS = frozenset({"quit", "exit", "bye", ":q"})
CTRL_C_SLICE_SECONDS = 0.2  # how soon a Ctrl+C at the prompt is acted on, whichever thread got the signal
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+?)`")
_HANGING = re.compile(r"\s*(?:[-•*]|\d+\))\s+|\s+")  # a list item's marker, or plain indentation


def plain(text: str) -> str:
    """Drop the ``**bold**`` markers the web chat renders and quote ``code`` words ("type "why"")."""
    return _CODE.sub(r'"\1"', _BOLD.sub(r"\1", text))


def wrap(text: str, width: int | None) -> str:
    """Wrap each line to ``width`` at word boundaries, list items hanging under their first word."""
    if not width:
        return text
    lines = []
    for line in text.split("\n"):
        hanging = _HANGING.match(line)
        indent = " " * (hanging.end() if hanging else 0)
        lines.append(textwrap.fill(line, width, subsequent_indent=indent, break_long_words=False,
                                   break_on_hyphens=False) if len(line) > width else line)
    return "\n".join(lines)


def render_reply(reply: Reply, strings: Strings, first_number: int = 1) -> str:
    """One reply as plain text; its choices are numbered from ``first_number``."""
    lines: list[str] = []
    if reply.title:
        lines += [f"== {plain(reply.title)} ==", ""] if reply.text else [f"== {plain(reply.title)} =="]
    if reply.text:
        lines.append(plain(reply.text))
    if reply.fields and reply.kind != ReplyKind.SUMMARY:  # a summary's text already holds its fields
        lines.append("")
        lines += [f"  {field.label}: {plain(field.value)}" for field in reply.fields]
    if reply.sources:
        lines += ["", strings.get("terminal.sources")]
        lines += [f"  - {source.title}" + (f" ({source.ref})" if source.ref else "") for source in reply.sources]
    if reply.links:
        lines += ["", strings.get("terminal.links")]
        lines += [f"  - {link.title}: {link.url}" for link in reply.links]
    if reply.choices:
        lines += ["", strings.get("terminal.choose")]
        lines += [f"  {number}) {choice.label}" for number, choice in enumerate(reply.choices, first_number)]
    if reply.actions:
        lines += ["", strings.get("terminal.actions", words=", ".join(f'"{a.value}"' for a in reply.actions))]
    return "\n".join(lines)


def render_replies(replies: list[Reply], strings: Strings, width: int | None = None) -> tuple[str, list[Choice]]:
    """All replies of a turn, separated by blank lines, and the choices in the order they are numbered."""
    blocks: list[str] = []
    choices: list[Choice] = []
    for reply in replies:
        blocks.append(wrap(render_reply(reply, strings, first_number=len(choices) + 1), width))
        choices += reply.choices
    return "\n\n".join(blocks), choices


def read_input(line: str, choices: list[Choice]) -> tuple[str, str | None]:
    """``(text, choice)``: a number naming one of the offered options presses that button."""
    text = line.strip()
    if number := whole_number(text, len(choices)):
        return "", choices[number - 1].value
    return text, None


class _Interrupted(Exception):
    """Ctrl+C while a line was being typed."""


@contextmanager
def _ctrl_c_clears_the_line(enabled: bool) -> Iterator[dict[str, bool]]:
    """While the user types, Ctrl+C abandons the line (the terminal has already discarded it) instead
    of cancelling the whole program mid-way; pressed while a reply is being worked out, it is ignored
    and the reply still arrives. Yields the flag the loop sets while it is waiting for a line."""
    state = {"reading": False}
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield state
        return

    def on_sigint(_signum: int, _frame: object) -> None:
        if state["reading"]:
            raise _Interrupted

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait_for_a_line(stdin: TextIO) -> None:
    """Wait in short slices rather than in one blocking read: the kernel may hand Ctrl+C's signal to another
    thread (the database driver's), which leaves a blocked read() in this one uninterrupted, and Python runs
    the handler only when this thread runs. A terminal in line mode is readable once a whole line is typed."""
    while not select.select([stdin], [], [], CTRL_C_SLICE_SECONDS)[0]:
        pass


def _read_line(stdin: TextIO, stdout: TextIO, prompt: str, ctrl_c: dict[str, bool]) -> str | None:
    """The next line after ``prompt``; None when Ctrl+C abandoned it (from the prompt on, so a Ctrl+C
    just as the prompt appears is not lost)."""
    ctrl_c["reading"] = True
    try:
        if prompt:
            print(prompt, end="", file=stdout, flush=True)
        if stdin.isatty():
            _wait_for_a_line(stdin)
        return stdin.readline()
    except _Interrupted:
        return None
    finally:
        ctrl_c["reading"] = False


async def run_interactive(assistant: Assistant, user_id: str, stdin: TextIO, stdout: TextIO) -> int:
    """Chat until end of input, a quit word or Ctrl+C twice. Blocking reads are fine: nothing else runs."""
    who = local_identity(user_id)
    strings = assistant.strings
    interactive = stdin.isatty()
    width = min(shutil.get_terminal_size().columns, 100) - 1 if stdout.isatty() else None

    def show(replies: list[Reply]) -> list[Choice]:
        rendered, offered = render_replies(replies, strings, width)
        print(rendered + "\n", file=stdout, flush=True)
        return offered

    print(wrap(strings.get("terminal.welcome"), width), file=stdout, flush=True)
    choices: list[Choice] = []
    if pending := await assistant.pending(IncomingTurn(user=who, conversation=who)):  # left open last time
        choices = show(pending)
    interrupted = False
    with _ctrl_c_clears_the_line(interactive) as ctrl_c:
        while True:
            line = _read_line(stdin, stdout, strings.get("terminal.prompt") if interactive else "", ctrl_c)
            if line is None:  # Ctrl+C: the line is gone; a second one in a row leaves
                if interrupted:
                    print("\n" + strings.get("terminal.goodbye"), file=stdout, flush=True)
                    return 0
                interrupted = True
                print("\n" + wrap(strings.get("terminal.interrupted"), width), file=stdout, flush=True)
                continue
            interrupted = False
            if not line or line.strip().lower() in QUIT_WORDS:
                print(("\n" if not line and interactive else "") + strings.get("terminal.goodbye"), file=stdout,
                      flush=True)
                return 0
            text, choice = read_input(line, choices)
            if not text and choice is None:
                continue
            choices = show(await assistant.handle(IncomingTurn(user=who, conversation=who, text=text, choice=choice)))


def json_reply(reply: Reply) -> dict:
    """The fixed ``chat --json`` shape of one reply."""
    return {"text": reply.text, "choices": [{"label": c.label, "value": c.value} for c in reply.choices],
            "summary": reply.summary}


def parse_json_line(line: str) -> tuple[str, str | None]:
    """``{"text": ...}`` or ``{"choice": ...}`` -> ``(text, choice)``; ValueError says what is wrong."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError('expected a JSON object such as {"text": "..."} or {"choice": "..."}')
    text, choice = data.get("text", ""), data.get("choice")
    if not isinstance(text, str):
        raise ValueError('"text" must be a string')
    if choice is not None and not isinstance(choice, str):
        raise ValueError('"choice" must be a string')
    if "text" not in data and choice is None:
        raise ValueError('expected "text" or "choice"')
    return text, choice


async def run_json(assistant: Assistant, user_id: str, stdin: TextIO, stdout: TextIO) -> int:
    """One JSON object in per line, one JSON line out per object: the contract benchmarks and tests use."""
    who = local_identity(user_id)
    for number, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        try:
            text, choice = parse_json_line(line)
        except ValueError as exc:
            log.info("bad chat --json line", extra={"line_number": number, "reason": str(exc)})
            out: dict = {"error": f"line {number}: {exc}", "replies": []}
        else:
            turn = IncomingTurn(user=who, conversation=who, text=text, choice=choice)
            try:
                out = {"replies": [json_reply(r) for r in await assistant.handle(turn)],
                       "privacy": privacy.scan(text).to_json()}
            except Exception as exc:  # one broken turn must not end the session
                log.exception("chat --json turn failed", extra={"line_number": number})
                out = {"error": f"line {number}: internal error ({type(exc).__name__})", "replies": []}
        out["done"] = not await dialog_active(assistant, user_id)
        print(json.dumps(out, ensure_ascii=False), file=stdout, flush=True)
    return 0


async def dialog_active(assistant: Assistant, user_id: str) -> bool:
    who = local_identity(user_id)
    probe = IncomingTurn(user=who, conversation=who)
    return await assistant.dialogs.is_active(TurnContext(probe, privacy.scan(""), assistant))
