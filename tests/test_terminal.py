"""The terminal chat: plain-text rendering, numbered choices, and ``python -m bot chat [--json]`` end to end."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.terminal import dialog_active, read_input, render_replies, render_reply, run_interactive, run_json
from bot.content import load_content
from bot.messages import CardField, Choice, Reply, ReplyKind, Source

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def strings():
    return load_content(ROOT / "content").strings


def run_chat(tmp_path: Path, stdin: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}", "SCHEDULER_ENABLED": "false"}
    return subprocess.run([sys.executable, "-m", "bot", "chat", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60)


def test_a_reply_renders_as_plain_text(strings):
    reply = Reply("Share **only** what is needed.\nUse `secure email`.", kind=ReplyKind.LIST, title="Decision",
                  choices=[Choice("Confirm", "confirm"), Choice("Change", "change")],
                  fields=[CardField("Decision", "Share"), CardField("Lawful basis", "Public task")],
                  sources=[Source("Information sharing: advice for practitioners", "May 2024")])
    text = render_reply(reply, strings)
    assert text.splitlines()[0] == "== Decision =="
    assert "Share only what is needed.\nUse \"secure email\"." in text  # no raw backticks
    assert "  Decision: Share" in text
    assert "  Lawful basis: Public task" in text
    assert strings.get("terminal.sources") in text
    assert "  - Information sharing: advice for practitioners (May 2024)" in text
    assert "  1) Confirm" in text
    assert "  2) Change" in text


def test_choices_are_numbered_across_the_replies_of_a_turn(strings):
    replies = [Reply("first", choices=[Choice("A", "a")]), Reply("second", choices=[Choice("B", "b")])]
    text, choices = render_replies(replies, strings)
    assert "  1) A" in text
    assert "  2) B" in text
    assert read_input("2\n", choices) == ("", "b")
    assert read_input("3\n", choices) == ("3", None)  # not an option: sent as text
    assert read_input(" can I share? \n", choices) == ("can I share?", None)


def test_json_mode_follows_the_contract(tmp_path, strings):
    lines = [json.dumps({"text": "hello"}), "this is not json", json.dumps([1, 2]), json.dumps({"choice": 7}),
             json.dumps({"nothing": True}), json.dumps({"choice": "help"}), json.dumps({"text": "help"})]
    result = run_chat(tmp_path, "\n".join(lines) + "\n", "--json", "--user", "json-tester")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    for item in out:
        assert isinstance(item["done"], bool)
        for reply in item["replies"]:
            assert set(reply) == {"text", "choices", "summary"}
            assert isinstance(reply["text"], str)
            assert all(set(choice) == {"label", "value"} for choice in reply["choices"])
    assert out[0]["replies"][0]["text"] == strings.get("disclaimer")
    assert out[0]["done"] is True
    for bad, line_number in zip(out[1:5], range(2, 6), strict=True):
        assert bad["replies"] == []
        assert bad["error"].startswith(f"line {line_number}: ")
    assert "string" in out[3]["error"]
    assert strings.get("help.intro") in out[5]["replies"][-1]["text"]
    assert "error" not in out[6]


def test_interactive_chat_over_stdin_ends_at_end_of_input(tmp_path, strings):
    result = run_chat(tmp_path, "hello\n\nhelp\n", "--user", "typist")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(strings.get("terminal.welcome"))
    assert strings.get("disclaimer") in result.stdout
    assert f"== {strings.get('help.title')} ==" in result.stdout
    assert result.stdout.rstrip().endswith(strings.get("terminal.goodbye"))
    assert "Traceback" not in result.stderr


def test_a_bad_user_id_is_refused_clearly(tmp_path):
    result = run_chat(tmp_path, "", "--json", "--user", "not allowed!")
    assert result.returncode == 2
    assert "--user" in result.stderr
    assert "Traceback" not in result.stderr


async def test_numbers_press_the_offered_buttons_and_quit_ends(assistant):
    async def colour(ctx, args: str) -> list[Reply]:
        return [Reply(f"You picked {args}.")] if args else [
            Reply("Pick one", choices=[Choice("Red", "colour red"), Choice("Blue", "colour blue")])]

    assistant.register_command("colour", colour, "help.command")
    out = io.StringIO()
    code = await run_interactive(assistant, "local:typist", io.StringIO("colour\n2\n2\nquit\nhelp\n"), out)
    text = out.getvalue()
    assert code == 0
    assert "  1) Red\n  2) Blue" in text
    assert "You picked blue." in text  # "2" pressed the second button
    assert text.count("You picked") == 1  # the second "2" was no longer an option: sent as text
    assert text.rstrip().endswith(assistant.strings.get("terminal.goodbye"))
    assert assistant.strings.get("help.title") not in text  # nothing read after "quit"


async def test_json_mode_remembers_the_user_and_reports_dialogs(assistant):
    first, second = io.StringIO(), io.StringIO()
    await run_json(assistant, "local:same", io.StringIO('{"text": "hello"}\n'), first)
    await run_json(assistant, "local:same", io.StringIO('\n{"text": "hello"}\n'), second)
    disclaimer = assistant.strings.get("disclaimer")
    assert json.loads(first.getvalue())["replies"][0]["text"] == disclaimer
    later = json.loads(second.getvalue())  # the blank line produced no output
    assert all(reply["text"] != disclaimer for reply in later["replies"])
    assert later["done"] is (assistant.dialogs is None or not await dialog_active(assistant, "local:same"))


def test_a_summary_shows_its_copy_ready_text_once(strings):
    """A summary's text already holds every field: the terminal must not print them twice."""
    reply = Reply("Case reference: CR-1\nDecision: Share", kind=ReplyKind.SUMMARY,
                  fields=[CardField("Case reference", "CR-1"), CardField("Decision", "Share")])
    text = render_reply(reply, strings)
    assert text.count("Decision: Share") == 1
    assert text.count("CR-1") == 1


class PseudoTerminal:
    """``python -m bot chat`` in a pseudo-terminal of a given width, typed at like a person would."""

    def __init__(self, db_path: Path, columns: int = 60):
        import fcntl
        import pty
        import struct
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "SCHEDULER_ENABLED": "false",
               "COLUMNS": "", "LINES": ""}

        def controlling_terminal() -> None:  # as a shell does: Ctrl+C in the pty sends SIGINT to the chat
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen([sys.executable, "-m", "bot", "chat", "--user", "pty-tester"], stdin=slave,
                                        stdout=slave, stderr=slave, cwd=ROOT, env=env,
                                        preexec_fn=controlling_terminal)
        os.close(slave)
        self.output = ""

    def read_until(self, marker: str, timeout: float = 30) -> str:
        """Everything printed up to and including the next ``marker`` (e.g. the prompt)."""
        import select
        import time

        deadline = time.monotonic() + timeout
        while marker not in self.output:
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"{marker!r} never came; the terminal shows:\n{self.output}")
            try:
                chunk = os.read(self.master, 65536).decode("utf-8", "replace")
            except OSError:  # the process ended
                chunk = ""
            if not chunk:
                raise AssertionError(f"the chat ended before {marker!r}:\n{self.output}")
            self.output += chunk.replace("\r\n", "\n")
        shown, self.output = self.output.split(marker, 1)
        return shown + marker

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self) -> tuple[int, str]:
        """Wait for the exit code; whatever was printed last (a traceback would be here)."""
        import select

        code = self.process.wait(timeout=30)
        rest = ""
        while select.select([self.master], [], [], 0.2)[0]:
            try:
                chunk = os.read(self.master, 65536).decode("utf-8", "replace")
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
        os.close(self.master)
        return code, self.output + rest

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


PROMPT = "you> "


def test_the_terminal_as_a_person_uses_it_wraps_quotes_and_survives_ctrl_c_and_restarts(tmp_path, strings):
    db = tmp_path / "pty.db"
    width = 60
    chat = PseudoTerminal(db, width)
    try:
        chat.read_until(PROMPT)
        chat.type("decide\r")
        shown = chat.read_until(PROMPT)
        assert "Step 1 of about" in shown
        assert 'Or type "why", "cancel".' in shown  # Back, Why and Cancel are the words to type
        chat.type("CR-55\r")
        shown = chat.read_until(PROMPT)
        assert "  1) " in shown and 'Or type "back", "why", "cancel".' in shown
        for text in (shown,):
            assert all(len(line) <= width for line in text.splitlines()), text  # wrapped at words
            assert "`" not in text and "press a button" not in text.lower() and "press one" not in text.lower()
        chat.type("what is ear\x03")  # Ctrl+C while typing: the line is cleared, nothing sent
        assert strings.get("terminal.interrupted")[:20] in chat.read_until(PROMPT)
        chat.type("1\r")  # the next line is not lost: it answers step 2
        assert "Step 3 of about" in chat.read_until(PROMPT)
        chat.type("\x03")
        chat.read_until(PROMPT)
        chat.type("\x04")  # Ctrl+C then Ctrl+D: a clean goodbye
        code, last = chat.finish()
        assert code == 0, last
        assert strings.get("terminal.goodbye") in last
        assert "Traceback" not in last and "CancelledError" not in last
    finally:
        chat.kill()

    again = PseudoTerminal(db, width)  # a restart: the unfinished walkthrough is shown, so "1" answers a visible step
    try:
        shown = again.read_until(PROMPT)
        assert "walkthrough in progress" in shown and "Step 3 of about" in shown and "  1) " in shown
        again.type("\x03")
        again.read_until(PROMPT)
        again.type("\x03")  # Ctrl+C twice in a row leaves, with exit code 0
        code, last = again.finish()
        assert code == 0, last
        assert "Traceback" not in last
    finally:
        again.kill()


def test_long_lines_wrap_at_words_with_list_items_hanging(strings):
    reply = Reply("A sentence that is long enough to need wrapping at a narrow width.\n- a list item that also "
                  "runs past the edge", choices=[Choice("An option whose label runs past the edge", "x")])
    text, _ = render_replies([reply], strings, width=30)
    lines = text.splitlines()
    assert all(len(line) <= 30 for line in lines), lines
    assert "  wrapping at a narrow width." not in text and "need wrapping at a narrow" in text.replace("\n", " ")
    item = lines.index("- a list item that also runs")
    assert lines[item + 1].startswith("  past")  # hangs under the item's first word
    option = next(i for i, line in enumerate(lines) if line.startswith("  1) "))
    assert lines[option + 1].startswith("     ")
