"""Hostile input, property-based (hypothesis): whatever arrives, no 500, no traceback, no unconfirmed record.

Covers the core turn pipeline, the decision walkthrough (driven through the core, as every channel
drives it) and every HTTP endpoint that is mounted: the local web chat API, Slack events and Teams
activities. An endpoint whose adapter is not configured in this build is skipped with the reason.
Examples are derandomised so a failure reproduces on every machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from sqlalchemy import func, select

from adapters.web import SESSION_COOKIE
from bot.identity import Identity
from bot.messages import IncomingTurn, Reply
from bot.storage.tables import decision_records
from tests.conftest import make_settings, turn
from tests.servers import session_token

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
SLACK_SECRET = "hostile-test-signing-secret"
CONFIRM_WORDS = ("record", "record it", "record this", "record_decision", "confirm", "save", "yes", "ok")
TRACE_MARKERS = ("Traceback", 'File "', "sqlalchemy.", "asyncpg.", "Error:")

texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=2000),
    st.text(alphabet="\u202e\u200b\ufeff\x00\n\t <>&\"'`{}[]\\/%$;", max_size=200),
    st.sampled_from(["", " ", "\x00", "decide", "/infoshare decide", "records", "isa", "help", "back",
                     "restart", "cancel", "why", "?", "DROP TABLE users;--", "{{7*7}}", "<script>x</script>",
                     "a" * 5000, "💥" * 3000, "\ud7ff" * 10]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


def _could_confirm(text: str) -> bool:
    """Conservatively: could this text be read as "Record this"? Such inputs are not hostile."""
    cleaned = " ".join(text.lower().split())
    return bool(cleaned) and any(fuzz.WRatio(cleaned, word) >= 50 for word in CONFIRM_WORDS)


class Live:
    """One event loop, one fully built app and test client, shared by a test's hypothesis examples."""

    def __init__(self, runner: asyncio.Runner, client: TestClient):
        self.runner = runner
        self.client = client

    @property
    def assistant(self):
        from bot.http import ASSISTANT

        return self.client.app[ASSISTANT]

    def run(self, coroutine):
        return self.runner.run(coroutine)

    def records(self) -> int:
        async def count() -> int:
            async with self.assistant.engine.connect() as conn:
                return (await conn.execute(select(func.count()).select_from(decision_records))).scalar_one()

        return self.run(count())

    def paths(self) -> set[str]:
        return {resource.canonical for resource in self.client.app.router.resources()}


@contextmanager
def live_app(tmp_path, fake_slack: bool = False, **overrides: Any) -> Iterator[Live]:
    """The real app on loopback; with ``fake_slack``, Slack's Web API is the loopback fake."""
    from app import build_app
    from tests.fake_slack import FakeSlack

    with asyncio.Runner() as runner:
        slack = runner.run(FakeSlack().start()) if fake_slack else None
        if slack is not None:
            overrides["slack_api_base_url"] = slack.base_url

        async def start() -> TestClient:
            client = TestClient(TestServer(await build_app(make_settings(tmp_path, **overrides))))
            await client.start_server()
            return client

        client = runner.run(start())
        try:
            yield Live(runner, client)
        finally:
            runner.run(client.close())
            if slack is not None:
                runner.run(slack.stop())


def _check_replies(replies: list[Reply]) -> None:
    assert isinstance(replies, list)
    for reply in replies:
        assert isinstance(reply, Reply)
        assert isinstance(reply.text, str)
        assert not any(marker in reply.text for marker in TRACE_MARKERS[:2]), reply.text


# ----------------------------------------------------------------------------- the core and the walkthrough
def test_core_survives_any_text(tmp_path):
    with live_app(tmp_path) as live:
        @PROPERTY
        @given(text=texts, choice=st.none() | texts, user=st.text(min_size=1, max_size=300))
        def property_(text: str, choice: str | None, user: str) -> None:
            who = Identity("local", user)  # any id at all reaches the core intact; adapters validate theirs
            replies = live.run(live.assistant.handle(IncomingTurn(who, who, text=text, choice=choice)))
            _check_replies(replies)

        property_()


def test_walkthrough_survives_any_input_and_never_records_unconfirmed(tmp_path):
    with live_app(tmp_path) as live:
        if "decide" not in live.assistant.commands:
            pytest.skip("the decision walkthrough (decide) is not wired into app.build_assistant yet")

        @PROPERTY
        @given(moves=st.lists(st.one_of(st.tuples(st.just("text"), texts),
                                        st.tuples(st.just("press"), st.integers(0, 20))), min_size=1, max_size=15),
               user=st.uuids())
        def property_(moves: list[tuple[str, Any]], user) -> None:
            who = f"local:h{user.hex[:10]}"
            offered = [c.value for r in live.run(live.assistant.handle(turn("decide", user=who, conversation=who)))
                       for c in r.choices]
            for kind, value in moves:
                if kind == "press":
                    safe = [v for v in offered if not _could_confirm(v)]
                    if not safe:
                        continue
                    replies = live.run(live.assistant.handle(turn(choice=safe[value % len(safe)], user=who,
                                                                  conversation=who)))
                else:
                    assume(not _could_confirm(value))
                    replies = live.run(live.assistant.handle(turn(value, user=who, conversation=who)))
                _check_replies(replies)
                offered = [c.value for r in replies for c in r.choices] or offered
            assert live.records() == 0, "a decision record was stored without the user confirming it"

        property_()


# ----------------------------------------------------------------------------- HTTP endpoints
def _slack_headers(body: bytes, *, signed: bool) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = "v0=" + hmac.new(SLACK_SECRET.encode(), f"v0:{timestamp}:".encode() + body,
                                 hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": timestamp}
    if signed:
        headers["X-Slack-Signature"] = signature
    return headers


WEB_SESSION = {"Cookie": f"{SESSION_COOKIE}={session_token('hostile')}"}
ENDPOINTS = {"/api/chat": "local web chat", "/slack/events": "Slack", "/api/messages": "Teams"}
bodies = st.one_of(
    st.binary(max_size=3000),
    json_values.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps(v).encode()[: max(1, len(json.dumps(v)) // 2)]),  # truncated JSON
    st.fixed_dictionaries({"user": json_values | st.just("local:hostile"), "text": json_values | texts,
                           "choice": json_values}).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"type": st.sampled_from(["message", "invoke", "conversationUpdate", "event_callback",
                                                    "url_verification", "block_actions"]) | json_values,
                           "text": texts, "value": json_values, "from": json_values, "conversation": json_values,
                           "event": json_values, "serviceUrl": json_values}).map(lambda v: json.dumps(v).encode()),
    texts.map(lambda t: ("payload=" + t).encode("utf-8", "surrogatepass")),
)


def _hostile_app(tmp_path):
    return live_app(tmp_path, fake_slack=True, slack_signing_secret=SLACK_SECRET, slack_bot_token="xoxb-hostile-test")


def _mounted(live: Live) -> list[str]:
    mounted = [path for path in ENDPOINTS if path in live.paths()]
    if not mounted:
        pytest.skip("no chat endpoint is mounted yet (/api/chat, /slack/events, /api/messages)")
    return mounted


def _assert_clean(status: int, body: bytes, path: str) -> None:
    text = body.decode("utf-8", "replace")
    assert status < 500, f"{path} answered {status}: {text[:300]}"
    assert not any(marker in text for marker in TRACE_MARKERS[:3]), f"{path} leaked internals: {text[:300]}"


# Bugs this test found in parts still being built; each is reported, and the xfail lifts when fixed.
KNOWN_ISSUES: dict[str, str] = {}


@pytest.mark.parametrize("path", [
    pytest.param(path, marks=pytest.mark.xfail(reason=KNOWN_ISSUES[path], strict=False)) if path in KNOWN_ISSUES
    else path for path in ENDPOINTS])
def test_endpoint_never_fails_or_leaks_on_garbage(tmp_path, path):
    with _hostile_app(tmp_path) as live:
        if path not in live.paths():
            pytest.skip(f"{path} ({ENDPOINTS[path]}) is not mounted in this build")

        # A known issue fails fast (no shrinking); everything else is shrunk to a minimal example.
        phases = [Phase.explicit, Phase.generate] if path in KNOWN_ISSUES else list(Phase)

        @settings(PROPERTY, phases=phases)
        @given(body=bodies, signed=st.booleans(),
               content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                             "text/plain", "application/octet-stream"]))
        @example(body=b"null", signed=False, content_type="application/json")  # bugs found earlier, kept
        @example(body=b"\x80\xff", signed=True, content_type="application/json")
        @example(body=b'{"type": "message", "conversation": []}', signed=True, content_type="application/json")
        @example(body=b"payload=%7B%22type%22%3A+5%7D", signed=True, content_type="application/x-www-form-urlencoded")
        def property_(body: bytes, signed: bool, content_type: str) -> None:
            headers = {"Content-Type": content_type}
            if path.startswith("/slack"):
                headers |= _slack_headers(body, signed=signed)
            if path == "/api/chat":
                headers |= WEB_SESSION  # so the garbage reaches the parser, not just the session check

            async def post() -> tuple[int, bytes]:
                async with live.client.post(path, data=body, headers=headers) as response:
                    return response.status, await response.read()

            status, response_body = live.run(post())
            _assert_clean(status, response_body, path)

        property_()
        assert live.records() == 0


def test_web_chat_api_answers_any_text_in_shape(tmp_path):
    with live_app(tmp_path) as live:
        if "/api/chat" not in live.paths():
            pytest.skip("the local web chat API (/api/chat) is not mounted yet")

        @PROPERTY
        @given(text=texts, message_id=st.none() | st.text(min_size=1, max_size=100))
        def property_(text: str, message_id: str | None) -> None:
            assume(not _could_confirm(text))
            payload: dict[str, Any] = {"text": text}
            if message_id is not None:
                payload["message_id"] = message_id

            async def post() -> tuple[int, bytes]:
                async with live.client.post("/api/chat", json=payload, headers=WEB_SESSION) as response:
                    return response.status, await response.read()

            status, body = live.run(post())
            _assert_clean(status, body, "/api/chat")
            assert status == 200, body[:300]
            assert isinstance(json.loads(body)["replies"], list)

        property_()
        assert live.records() == 0


def test_payload_size_limit_enforced_on_every_endpoint(tmp_path):
    with _hostile_app(tmp_path) as live:
        limit = live.assistant.settings.max_body_bytes
        for path in [*_mounted(live), "/healthz"]:
            body = b'{"text": "' + b"x" * limit + b'"}'

            async def post(path: str = path, body: bytes = body) -> tuple[int, bytes]:
                headers = {"Content-Type": "application/json"}
                if path.startswith("/slack"):
                    headers |= _slack_headers(body, signed=True)
                async with live.client.post(path, data=body, headers=headers) as response:
                    return response.status, await response.read()

            status, response_body = live.run(post())
            if path == "/healthz":
                assert status == 405  # GET only; never reads the body
                continue
            assert status == 413, f"{path} accepted a {len(body)}-byte body: {status} {response_body[:200]!r}"
            _assert_clean(status, response_body, path)
