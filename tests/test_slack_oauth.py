"""Slack across workspaces: a workspace installs the bot through Slack's OAuth flow (against a fake
oauth.v2.access on 127.0.0.1) and its events are answered with its own token; uninstalling deletes it.
Both databases: the installation and state stores are ours, on SQLAlchemy."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import select

from adapters.slack import SLACK
from adapters.slack.oauth import BOT_SCOPES, DatabaseStateStore, TokenCipher
from app import build_app
from bot.storage.tables import slack_installations
from tests.conftest import make_settings
from tests.fake_slack import FakeSlack
from tests.slack_harness import SECRET, SlackClient, dm_event
from tests.test_slack import Harness, start_server

ROOT = Path(__file__).resolve().parent.parent
KEY = Fernet.generate_key().decode()


@asynccontextmanager
async def oauth_slack(tmp_path, database_url: str | None = None):
    fake = await FakeSlack().start()
    overrides = {"database_url": database_url} if database_url else {}
    settings = make_settings(tmp_path, slack_signing_secret=SECRET, slack_client_id="111.222",
                             slack_client_secret="client-secret", slack_token_key=KEY,
                             slack_api_base_url=fake.base_url, **overrides)
    app = await build_app(settings)
    runner, base = await start_server(app)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            harness = Harness(fake, SlackClient(session, f"{base}/slack/events"), app)
            harness.base = base  # type: ignore[attr-defined]
            yield harness
    finally:
        await runner.cleanup()
        await fake.stop()
    fake.assert_valid()


async def install(slack, code: str) -> tuple[int, str]:
    """An admin opens /slack/install, consents on Slack, and Slack sends them back with ``code``."""
    session = slack.client.session
    async with session.get(f"{slack.base}/slack/install", allow_redirects=False) as page:
        assert page.status == 200
        html = await page.text()
        cookie = page.headers["Set-Cookie"]
    state = re.search(r"state=([\w-]+)", html).group(1)
    assert "slack.com/oauth/v2/authorize" in html and "client_id=111.222" in html
    assert f"scope={','.join(BOT_SCOPES)}".replace(":", "%3A") in html or ",".join(BOT_SCOPES) in html
    async with session.get(f"{slack.base}/slack/oauth_redirect", params={"code": code, "state": state},
                           headers={"Cookie": cookie.split(";")[0]}, allow_redirects=False) as back:
        return back.status, await back.text()


def _tokens_used(slack, method: str = "chat.postMessage") -> set[str]:
    return {c.headers.get("Authorization", "").removeprefix("Bearer ") for c in slack.fake.of(method)}


async def test_a_second_workspace_installs_through_oauth_and_is_answered_with_its_own_token(tmp_path, db_url):
    async with oauth_slack(tmp_path, db_url) as slack:
        slack.fake.install("code-t1", "xoxb-test", "T1", "UBOT", "BBOT")
        slack.fake.install("code-t2", "xoxb-second", "T2", "UBOT2", "BBOT2")
        assert (await install(slack, "code-t1"))[0] == 200
        status, page = await install(slack, "code-t2")
        assert status == 200, page
        async with slack.assistant.engine.connect() as conn:
            rows = {r.team_id: r for r in await conn.execute(select(slack_installations))}
        assert set(rows) == {"T1", "T2"}
        assert "xoxb-second" not in rows["T2"].bot_token  # encrypted at rest
        assert TokenCipher(KEY).decrypt(rows["T2"].bot_token) == "xoxb-second"

        await slack.client.event(dm_event("hello", user="U7"), team="T2")
        await slack.idle()
        assert slack.posts("DU7"), "the second workspace got no answer"
        assert _tokens_used(slack) == {"xoxb-second"}
        await slack.client.event(dm_event("hello", user="U1"), team="T1")
        await slack.idle()
        assert _tokens_used(slack) == {"xoxb-second", "xoxb-test"}
        t1 = [c for c in slack.fake.of("chat.postMessage") if c.args["channel"] == "DU1"]
        assert {c.headers["Authorization"] for c in t1} == {"Bearer xoxb-test"}

        # reminders and notices to a workspace's channel go with that workspace's token
        from bot.messages import Reply

        await slack.assistant.delivery.send("slack:T2:C5", [Reply("Review due")])
        assert slack.fake.of("chat.postMessage")[-1].headers["Authorization"] == "Bearer xoxb-second"


async def test_an_uninstalled_or_revoked_workspace_loses_its_token_and_gets_no_answers(tmp_path, db_url):
    async with oauth_slack(tmp_path, db_url) as slack:
        slack.fake.install("code-t2", "xoxb-second", "T2", "UBOT2", "BBOT2")
        slack.fake.install("code-t3", "xoxb-third", "T3", "UBOT3", "BBOT3")
        await install(slack, "code-t2")
        await install(slack, "code-t3")
        assert (await slack.client.event({"type": "app_uninstalled"}, team="T2"))[0] == 200
        assert (await slack.client.event({"type": "tokens_revoked", "tokens": {"bot": ["UBOT3"]}},
                                         team="T3"))[0] == 200
        await slack.idle()
        async with slack.assistant.engine.connect() as conn:
            assert (await conn.execute(select(slack_installations))).all() == []
        await slack.client.event(dm_event("hello", user="U7"), team="T2")
        await slack.idle()
        assert slack.posts() == []


async def test_an_install_without_a_valid_state_is_refused(tmp_path):
    async with oauth_slack(tmp_path) as slack:
        slack.fake.install("code-t2", "xoxb-second", "T2", "UBOT2", "BBOT2")
        async with slack.client.session.get(f"{slack.base}/slack/oauth_redirect",
                                            params={"code": "code-t2", "state": "forged"}) as back:
            assert back.status >= 400
        async with slack.assistant.engine.connect() as conn:
            assert (await conn.execute(select(slack_installations))).all() == []
        assert not slack.fake.of("oauth.v2.access")


async def test_a_state_is_good_once_and_not_after_it_expires(tmp_path, db_url):
    from datetime import UTC, datetime, timedelta

    async with oauth_slack(tmp_path, db_url) as slack:
        store = DatabaseStateStore(slack.assistant.engine)
        state = await store.async_issue()
        assert await store.async_consume(state)
        assert not await store.async_consume(state)
        stale = DatabaseStateStore(slack.assistant.engine, clock=lambda: datetime.now(UTC) - timedelta(hours=1))
        old = await stale.async_issue()
        assert not await store.async_consume(old)


async def test_single_token_mode_keeps_working_and_mounts_no_install_page(tmp_path):
    from tests.test_slack import running_slack

    async with running_slack(tmp_path) as slack:
        assert slack.app[SLACK]
        await slack.client.event(dm_event("hello"))
        await slack.idle()
        assert _tokens_used(slack) == {"xoxb-test"}
        base = slack.client.url.removesuffix("/slack/events")
        async with slack.client.session.get(f"{base}/slack/install") as page:
            assert page.status == 404


def test_the_scopes_asked_for_at_install_are_the_manifests():
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)


def test_a_missing_or_malformed_key_says_how_to_make_one():
    from adapters.slack.oauth import installation_store

    for key in (None, "not-a-key"):
        settings = make_settings(Path("/tmp"), slack_client_id="1", slack_client_secret="2", slack_token_key=key)
        with pytest.raises(ValueError, match=r"Fernet\.generate_key"):
            installation_store(None, settings)
