"""Real server processes and a cuttable TCP proxy on loopback, for the replica, fault and shutdown tests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def require_walkthrough(tmp_path: Path) -> None:
    """Skip (before starting any server) when the decision walkthrough is not wired into the app yet."""
    import pytest

    from app import build_assistant
    from tests.conftest import make_settings

    assistant = await build_assistant(make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'probe.db'}"))
    await assistant.engine.dispose()
    if "decide" not in assistant.commands:
        pytest.skip("the decision walkthrough (decide) is not wired into app.build_assistant yet")


async def start_all(*servers: ServerProcess) -> None:
    """Start replicas at once, as an orchestrator does (their migrations serialise on a database lock)."""
    await asyncio.gather(*(server.start() for server in servers))


class ServerProcess:
    """``app.main()`` in its own process (as ``python app.py`` runs it) on a free loopback port."""

    def __init__(self, database_url: str, log_path: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        inherited = {k: v for k, v in os.environ.items()  # channels only when this test turns them on
                     if k not in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "MicrosoftAppId")}
        self.env = {**inherited, "HOST": "127.0.0.1", "PORT": str(self.port), "DATABASE_URL": database_url,
                    "SCHEDULER_ENABLED": "false", "LOG_LEVEL": "INFO", **env}
        self.process: subprocess.Popen | None = None

    async def start(self, timeout: float = 30.0) -> ServerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-c", "import sys, app; sys.exit(app.main())"],
                                        cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}: {self.log()[-3000:]}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return self
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server did not start in {timeout} s: {self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9: no shutdown handlers, no flushing; whatever was committed is all that survives."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    async def stop(self, timeout: float = 30.0) -> int:
        """``terminate`` without blocking this event loop (which may be running a proxy the server needs)."""
        return await asyncio.to_thread(self.terminate, timeout)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an orchestrator stops a container; returns the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


class CuttableProxy:
    """A TCP forwarder on 127.0.0.1 to ``target``; ``cut()`` drops every connection and refuses new
    ones until ``restore()``: the database "goes away" without touching the real server."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._links -= {writer, up_writer}

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server:
            server.close()
        for writer in list(self._links):
            with contextlib.suppress(OSError, RuntimeError):
                writer.transport.abort()
        self._links.clear()
        if server:
            await server.wait_closed()

    async def restore(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def close(self) -> None:
        await self.cut()


# ------------------------------------------------------------------ driving a walkthrough over the web chat API
NAVIGATION = {"back", "restart", "cancel", "help", "why", "cancel_decision", "edit_decision", "back_to_summary"}
RECORD_CHOICE = "record_decision"
# Who a test practitioner says they are, once, so "Record this" stores at once (never another person's name).
OWN_NAME = "my name Test Practitioner, DSL"
FREE_TEXT_ANSWER = "Ref 4471"  # acceptable both as a case reference and as short free text


def session_token(label: str) -> str:
    """A well-formed session token derived from ``label``, so a test can name its users; the server
    turns any token into an unguessable ``local:web-<hash>`` id (see adapters.web.user_for_session)."""
    return base64.urlsafe_b64encode(hashlib.sha256(label.encode()).digest()).decode().rstrip("=")


class WebChatUser:
    """One local web chat user talking to whichever server it is pointed at, as the page does: with its
    session cookie (the same one on every replica), never naming itself. ``user`` is the id it gets."""

    def __init__(self, session: aiohttp.ClientSession, label: str):
        from adapters.web import SESSION_COOKIE, user_for_session

        self.session = session
        self.token = session_token(label)
        self.user = user_for_session(self.token)
        self.headers = {"Cookie": f"{SESSION_COOKIE}={self.token}"}
        self.sent = 0

    async def send(self, base_url: str, *, text: str | None = None, choice: str | None = None,
                   message_id: str | None = None) -> list[dict]:
        self.sent += 1
        payload: dict = {"message_id": message_id or f"m{self.sent}"}
        payload.update({"choice": choice} if choice is not None else {"text": text or ""})
        async with self.session.post(f"{base_url}/api/chat", json=payload, headers=self.headers) as response:
            body = await response.json()
            assert response.status == 200, body
            return body["replies"]


def next_move(replies: list[dict]) -> dict:
    """The next input a practitioner would give: the first real option offered, else a short text."""
    for reply in replies:
        for choice in reply.get("choices") or []:
            if choice["value"] not in NAVIGATION and choice["value"] != RECORD_CHOICE:
                return {"choice": choice["value"]}
    return {"text": FREE_TEXT_ANSWER}


def summary_of(replies: list[dict]) -> dict | None:
    return next((r["summary"] for r in replies if r.get("summary")), None)


async def walk_to_summary(send, first: list[dict], max_steps: int = 40) -> tuple[dict, int]:
    """Answer each step (``send(**move)`` returns replies) until the decision summary is shown."""
    replies = first
    for step in range(max_steps):
        summary = summary_of(replies)
        if summary is not None:
            return summary, step
        replies = await send(**next_move(replies))
    raise AssertionError(f"no decision summary after {max_steps} steps; last replies: {replies}")
