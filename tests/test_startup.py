"""Starting the server as a person does (``python3 app.py``): what the console says, and when.

Readable lines at a terminal (JSON lines when stderr is not one, or with LOG_FORMAT=json), one clear
line and exit code 1 when the port is taken, the "open" line only once the web chat is listening, and
the unauthenticated-Teams notice as one calm line only when /api/messages is mounted.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(tmp_path: Path, port: int, *, stderr: int | None = None, **env: str) -> subprocess.Popen:
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PORT": str(port), "SCHEDULER_ENABLED": "false",
                   "DATABASE_URL": f"sqlite:///{tmp_path / 'start.db'}", **env}
    return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=stderr if stderr is not None else subprocess.PIPE)


def lines_until(fd: int, marker: str) -> list[str]:
    """Console lines up to and including the first one containing ``marker``."""
    seen = ""
    deadline = time.monotonic() + START_TIMEOUT
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"{marker!r} never came:\n{seen}"
        chunk = os.read(fd, 65536).decode("utf-8", "replace")
        assert chunk, f"the server stopped before {marker!r}:\n{seen}"
        seen += chunk.replace("\r\n", "\n")
    lines = seen.splitlines()
    return lines[:next(i for i, line in enumerate(lines) if marker in line) + 1]


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


def test_port_in_use_is_one_clear_line_and_exit_code_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start(tmp_path, port)
        _, err = process.communicate(timeout=START_TIMEOUT)
    assert process.returncode == 1, err
    lines = err.decode().splitlines()
    assert lines == [next(line for line in lines if "already in use" in line)], lines  # that line only
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0] and f"PORT={port + 1}" in lines[0]
    assert "open http" not in err.decode() and "database" not in err.decode().lower()


def test_at_a_terminal_the_console_reads_as_sentences_and_open_comes_once_listening(tmp_path):
    import pty

    port = free_port()
    master, slave = pty.openpty()
    process = start(tmp_path, port, stderr=slave)
    os.close(slave)
    try:
        lines = lines_until(master, "open http://")
        assert lines[-1] == f"Information sharing assistant: open http://localhost:{port}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:  # already listening
            assert page.status == 200
        logged = lines[:-1]
        assert logged and not any(line.lstrip().startswith("{") for line in logged), logged
        teams = [line for line in logged if "Teams" in line and "emulator" in line]
        assert len(teams) == 1 and "warning" not in teams[0] and "UNAUTHENTICATED" not in teams[0], logged
        assert any("channels enabled: local web chat, Microsoft Teams" in line for line in logged), logged
        assert stop(process) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)


def test_off_a_terminal_json_lines_and_no_open_line_when_the_web_chat_is_off(tmp_path):
    port = free_port()
    # 127.0.0.2 is not one of the web chat's loopback names, so the web chat is off by default, as on a
    # public interface, without listening on one; Teams (emulator mode) is mounted and says so once.
    process = start(tmp_path, port, HOST="127.0.0.2")
    try:
        lines = lines_until(process.stderr.fileno(), "Information sharing assistant:")
        assert "open http" not in lines[-1]
        assert f"listening on 127.0.0.2:{port} for Microsoft Teams" in lines[-1] and "web chat is off" in lines[-1]
        logged = [json.loads(line) for line in lines[:-1]]  # JSON lines, every one
        notices = [entry for entry in logged if "emulator mode" in entry["message"]]
        assert len(notices) == 1 and notices[0]["level"] == "INFO", logged
        assert stop(process) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_log_format_json_wins_even_at_a_terminal(tmp_path):
    import pty

    port = free_port()
    master, slave = pty.openpty()
    process = start(tmp_path, port, stderr=slave, LOG_FORMAT="json")
    os.close(slave)
    try:
        lines = lines_until(master, "open http://")
        assert all(json.loads(line)["message"] for line in lines[:-1])
        assert stop(process) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
