"""Issue 14, in process: who the web chat user is, Teams issuers, keys and tenants, reminder permissions,
ISA import limits, NUL bytes on both databases, CSV cells, the dependency audit and the bootstrap.
(The same issue against a running server is tests/test_security_live.py.)"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from app import address_book, build_app, build_assistant
from bot.config import load_settings
from bot.csvsafe import restore_cell, safe_cell
from bot.http import ASSISTANT
from bot.identity import Identity
from bot.isa.importexport import MAX_IMPORT_ROWS, read_csv, write_csv
from bot.isa.model import CSV_FIELDS
from bot.messages import IncomingTurn
from bot.storage.tables import reminder_subscriptions, transcripts
from tests.conftest import make_settings, turn
from tests.fake_connector import FakeConnector
from tests.servers import ROOT
from tests.teams_harness import APP_ID, FakeMsal, start_rig

SSO_HEADER = "X-Remote-User"


# ------------------------------------------------------------------ web chat identity behind SSO
async def test_behind_sso_the_proxys_header_is_the_user_and_nothing_else_is(tmp_path):
    settings = make_settings(tmp_path, web_trusted_user_header=SSO_HEADER, admins=("local:sso-ig.lead@council.gov.uk",))
    app = await build_app(settings)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0), cookie_jar=DummyCookieJar()) as client:
        page = await client.get("/")
        assert "Set-Cookie" not in page.headers  # no session of our own: the proxy decides

        async def say(text: str, **headers: str) -> tuple[int, list[dict]]:
            response = await client.post("/api/chat", json={"text": text}, headers=headers)
            body = await response.json()
            return response.status, body.get("replies", [])

        assert (await say("help"))[0] == 401  # no header: the proxy was bypassed
        assert (await say("help", **{SSO_HEADER: "not an id; drop table"}))[0] == 401
        add = ("isa add title=SSO test | parties=A;B | purpose=p | data_categories=contact | "
               "lawful_basis=public task | start_date=2026-01-01 | review_date=2027-01-01")
        status, replies = await say(add, **{SSO_HEADER: "IG.Lead@council.gov.uk"})
        assert status == 200
        assert any("Added agreement" in r["text"] for r in replies)
        _, replies = await say(add.replace("SSO test", "Other"), **{SSO_HEADER: "someone@council.gov.uk"})
        assert not any("Added agreement" in r["text"] for r in replies)  # a local: id is an admin only if listed
        async with app[ASSISTANT].engine.connect() as conn:
            users = {row.user_id for row in (await conn.execute(select(transcripts.c.user_id))).all()}
        assert users == {"local:sso-ig.lead@council.gov.uk", "local:sso-someone@council.gov.uk"}


async def test_without_sso_a_local_user_is_never_an_admin_unless_listed(tmp_path):
    app = await build_app(make_settings(tmp_path))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        await client.get("/")  # the page issues the session (the test client keeps the cookie)
        response = await client.post("/api/chat", json={"text": "isa add title=X | parties=A;B"})
        assert "admin" in " ".join(r["text"] for r in (await response.json())["replies"]).lower()


# ------------------------------------------------------------------ Teams: issuers, keys, tenants
@pytest.fixture
def connector():
    with FakeConnector() as fake:
        yield fake


@pytest.fixture
def no_msal(monkeypatch):
    monkeypatch.setattr("botframework.connector.auth.microsoft_app_credentials.ConfidentialClientApplication",
                        FakeMsal)


async def _teams(tmp_path, connector, **overrides):
    rig, runner = await start_rig(tmp_path, connector, **overrides)
    return rig, runner


async def _turns(rig) -> int:
    async with rig.assistant.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(transcripts))).scalar()


EMULATOR_ISSUER = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
SKILL_ISSUER = "https://login.microsoftonline.com/d6d49420-f39b-4df7-a1dc-d59a935871db/v2.0"


async def test_emulator_and_skill_tokens_are_refused_before_any_key_fetch(tmp_path, connector, no_msal):
    from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

    rig, runner = await _teams(tmp_path, connector)
    try:
        known = set(JwtTokenExtractor.metadataCache)
        for issuer in (EMULATOR_ISSUER, SKILL_ISSUER):
            token = connector.token(APP_ID, connector.url, issuer=issuer)
            started = time.monotonic()
            assert (await rig.post(rig.message("help"), token=token)).status == 401
            assert time.monotonic() - started < 2
        assert set(JwtTokenExtractor.metadataCache) <= known  # no emulator / skill metadata was even created
        assert await _turns(rig) == 0
        assert connector.calls == []
        assert (await rig.post(rig.message("help"))).status == 201  # the Bot Connector still gets in
    finally:
        await rig.http.close()
        await runner.cleanup()


async def test_key_fetch_never_blocks_and_a_failure_is_remembered(monkeypatch):
    """A metadata endpoint that accepts and never answers (a black-holed login.microsoftonline.com)."""
    from adapters.teams import auth

    monkeypatch.setattr(auth, "KEY_FETCH_TIMEOUT", 0.5)
    connections = []

    async def tarpit(reader, writer):
        connections.append(writer)
        await asyncio.sleep(30)

    server = await asyncio.start_server(tarpit, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/.well-known/openidconfiguration"
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        metadata = auth.AsyncOpenIdMetadata(url)
        started = time.monotonic()
        with pytest.raises(auth.KeysUnavailable):
            await asyncio.gather(*(metadata.get("kid") for _ in range(5)))  # five requests, one fetch
        assert time.monotonic() - started < 2
        assert ticks >= 5
        assert len(connections) == 1
        again = time.monotonic()
        with pytest.raises(auth.KeysUnavailable, match="recent failure"):
            await metadata.get("kid")
        assert time.monotonic() - again < 0.1
        assert len(connections) == 1
    finally:
        ticking.cancel()
        for writer in connections:
            writer.close()
        server.close()


@pytest.mark.parametrize("overrides", [
    {"microsoft_app_type": "SingleTenant", "microsoft_app_tenant_id": "tenant-one"},
    {"allowed_tenants": ("tenant-one", "tenant-two")},
])
async def test_activities_from_other_tenants_are_refused_with_no_turn(tmp_path, connector, no_msal, caplog, overrides):
    rig, runner = await _teams(tmp_path, connector, **overrides)
    try:
        foreign = rig.message("help")
        foreign["conversation"]["tenantId"] = "evil-tenant"
        foreign["channelData"]["tenant"]["id"] = "evil-tenant"
        assert (await rig.post(foreign)).status == 403
        assert await _turns(rig) == 0
        assert connector.calls == []
        assert any("tenant not allowed" in r.getMessage() and getattr(r, "tenant", "") == "evil-tenant"
                   for r in caplog.records)
        assert (await rig.post(rig.message("help"))).status == 201  # the harness's own tenant is tenant-one
    finally:
        await rig.http.close()
        await runner.cleanup()


# ------------------------------------------------------------------ reminders follow the ISA edit rule
async def test_only_admins_owners_or_the_setter_change_a_channel_reminder(tmp_path):
    assistant = await build_assistant(make_settings(tmp_path, admins=("slack:T1:UADMIN",)))
    room = "slack:T1:CREM"

    async def say(text: str, user: str) -> str:
        replies = await assistant.handle(turn(text, user=user, conversation=room))
        return replies[-1].text

    async def subscription():
        async with assistant.engine.connect() as conn:
            return (await conn.execute(select(reminder_subscriptions))).one()

    try:
        assert "every mon at 09:00" in await say("isa remind weekly mon 09:00", "slack:T1:UADMIN")
        assert "admin" in (await say("isa remind off", "slack:T1:URANDOM")).lower()
        assert "admin" in (await say("isa remind weekly fri 17:00", "slack:T1:URANDOM")).lower()
        row = await subscription()
        assert (row.active, row.weekday, row.created_by) == (1, 0, "slack:T1:UADMIN")
        assert "every mon" in await say("isa remind", "slack:T1:URANDOM")  # anyone may read it
        assert "off" in await say("isa remind off", "slack:T1:UADMIN")
        # With none in force anyone may set one, and then it is theirs to change.
        assert "every tue" in await say("isa remind weekly tue 10:00", "slack:T1:UTEAM")
        assert "every wed" in await say("isa remind weekly wed 10:00", "slack:T1:UTEAM")
        assert "admin" in (await say("isa remind off", "slack:T1:URANDOM")).lower()
        assert (await subscription()).active == 1
    finally:
        await assistant.engine.dispose()


# ------------------------------------------------------------------ ISA import limits
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


def test_isa_import_refuses_bombs_floods_and_odd_keys_in_one_line(tmp_path, monkeypatch, capsys):
    """``python -m bot isa import`` (its main, in process): a traceback would fail the test."""
    from cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    files = {"bomb.yaml": BOMB, "intkey.yaml": "- 1: y\n", "listkey.yaml": "- ? [a, b]\n  : y\n"}
    row = ("Police ISA {n},Police; School,Share concerns,Contact details,public task,local:x,2026-01-01,"
           "2027-06-01,active,,")
    files["huge.csv"] = ",".join(CSV_FIELDS) + "\n" + "\n".join(row.format(n=n) for n in range(MAX_IMPORT_ROWS + 1))
    (tmp_path / "big.csv").write_bytes(b"x" * (6 * 1024 * 1024))
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    expected = {"bomb.yaml": "uses a YAML alias", "intkey.yaml": "line 1: 1: is not a field",
                "listkey.yaml": "is not valid YAML", "huge.csv": f"more than {MAX_IMPORT_ROWS} agreements",
                "big.csv": "larger than 5 MB"}
    for name, message in expected.items():
        started = time.monotonic()
        assert main(["isa", "import", str(tmp_path / name)]) == 1, name
        errors = capsys.readouterr().err.splitlines()
        assert len(errors) == 2, (name, errors)  # "nothing imported" + one reason
        assert message in errors[1], (name, errors)
        assert time.monotonic() - started < 60, name


def test_csv_cells_are_neutralised_and_our_export_imports_back():
    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(dangerous) == "'" + dangerous
        assert restore_cell(safe_cell(dangerous)) == dangerous
    assert safe_cell("Police") == "Police"
    assert safe_cell(3) == 3
    assert restore_cell("'quoted") == "'quoted"
    header = ",".join(CSV_FIELDS)
    agreements = read_csv(f'{header}\n"=HYPERLINK(""x"")",@A; B,-p,+c,public task,local:x,2026-01-01,'
                          "2027-01-01,active,,\n", address_book())
    exported = write_csv(agreements)
    assert "'=HYPERLINK" in exported
    assert "'@A" in exported
    assert read_csv(exported, address_book()) == agreements


# ------------------------------------------------------------------ numbers and NUL bytes on both databases
async def test_ids_past_the_integer_column_get_not_found_not_an_outage(db_url, tmp_path):
    assistant = await build_assistant(make_settings(tmp_path, database_url=db_url))
    try:
        for text in ("records show 3000000000", "isa show 3000000000", "isa history 9223372036854775808",
                     "isa reviewed 3000000000 2030-01-01"):
            replies = await assistant.handle(turn(text, user="local:big-numbers"))
            assert "3000000000" in replies[-1].text or "9223372036854775808" in replies[-1].text, (text, replies)
    finally:
        await assistant.engine.dispose()


async def test_nul_bytes_are_dropped_not_fatal(db_url, tmp_path):
    assistant = await build_assistant(make_settings(tmp_path, database_url=db_url))
    try:
        who = Identity("slack", "UNUL\x00", scope="T1\x00")  # as an adapter could issue it from a payload
        replies = await assistant.handle(IncomingTurn(user=who, conversation=who, text="what is an\x00 ISA?",
                                                      message_id="m\x00 1"))
        assert replies
        assert not any("can't reach my records" in r.text for r in replies)
        async with assistant.engine.connect() as conn:
            rows = (await conn.execute(select(transcripts.c.user_id))).all()
        assert rows
        assert all("\x00" not in row.user_id for row in rows)
    finally:
        await assistant.engine.dispose()


# ------------------------------------------------------------------ settings
def test_hardening_settings_are_read_and_validated(tmp_path):
    settings = load_settings(environ={"BODY_TIMEOUT_SECONDS": "5", "HEADER_TIMEOUT_SECONDS": "7",
                                      "MAX_CONNECTIONS": "64", "PUBLIC_HOST": "Bot.Example.org, other.example",
                                      "WEB_TRUSTED_USER_HEADER": SSO_HEADER, "ALLOWED_TENANTS": "t1,t2",
                                      "SLACK_APP_ID": "A1"}, env_file=tmp_path / "none")
    assert (settings.body_timeout_seconds, settings.header_timeout_seconds, settings.max_connections) == (5, 7, 64)
    assert settings.public_hosts == ("bot.example.org", "other.example")
    assert settings.web_trusted_user_header == SSO_HEADER
    assert settings.allowed_tenants == ("t1", "t2")
    assert settings.slack_app_id == "A1"
    defaults = load_settings(environ={}, env_file=tmp_path / "none")
    assert defaults.web_trusted_user_header is None
    assert defaults.body_timeout_seconds <= 30


# ------------------------------------------------------------------ supply chain
def _audit(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "audit.py")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "OSV_API_URL": url})


class FakeOsv:
    """OSV's querybatch on loopback: reports one advisory against the pinned PyYAML."""

    def __init__(self) -> None:
        self.queries: list[dict] = []

    async def querybatch(self, request: web.Request) -> web.Response:
        queries = (await request.json())["queries"]
        self.queries += queries
        return web.json_response({"results": [
            {"vulns": [{"id": "GHSA-test-0001"}]} if q["package"]["name"] == "pyyaml" else {} for q in queries]})


async def test_the_audit_reports_advisories_and_never_claims_clean_without_an_answer(tmp_path):
    fake = FakeOsv()
    app = web.Application()
    app.router.add_post("/v1/querybatch", fake.querybatch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        found = await asyncio.to_thread(_audit, f"http://127.0.0.1:{port}/v1/querybatch")
    finally:
        await runner.cleanup()
    assert found.returncode == 1, found.stderr
    assert "VULNERABLE pyyaml==6.0.4: GHSA-test-0001" in found.stdout
    names = {q["package"]["name"] for q in fake.queries}
    assert {"aiohttp", "botbuilder-core", "msrest", "jsonpickle"} <= names  # pins and what they pulled in
    unreachable = await asyncio.to_thread(_audit, f"http://127.0.0.1:{port}/v1/querybatch")  # now closed
    assert unreachable.returncode == 2
    assert "NOT AUDITED" in unreachable.stderr
    assert "No known vulnerabilities" not in unreachable.stdout


def test_bootstrap_upgrades_pip_and_setuptools_before_installing(tmp_path, monkeypatch):
    from scripts import bootstrap

    commands: list[list[str]] = []
    monkeypatch.setattr(bootstrap, "VENV", tmp_path / "venv")
    monkeypatch.setattr(bootstrap, "PYTHON", tmp_path / "venv" / "bin" / "python")
    monkeypatch.setattr(bootstrap.subprocess, "run",
                        lambda command, check: commands.append(command) or subprocess.CompletedProcess(command, 0))
    monkeypatch.setattr(bootstrap.os, "execv", lambda *args: None)
    (tmp_path / "venv").mkdir()
    bootstrap.ensure_venv(["requirements.txt"])
    installs = [c for c in commands if c[1:4] == ["-m", "pip", "install"]]
    assert "--upgrade" in installs[0]
    assert {"pip", "setuptools"} <= set(installs[0])
    assert "-r" in installs[1]
