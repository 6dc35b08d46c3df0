"""Only the Bot Connector gets in: with an app id, every request needs a valid token (signature from the
served JWKS, issuer, audience = our app id, expiry, serviceurl); anything else is a 401 and nothing happens.
Validation is never switched off here: the tests only point the OpenID metadata URL at loopback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from adapters.teams import setup_teams
from bot.storage.tables import transcripts, users
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.teams_harness import APP_ID, FakeMsal, start_rig


@pytest.fixture
def connector():
    with FakeConnector() as fake:
        yield fake


@pytest.fixture
async def rig(tmp_path, connector, monkeypatch):
    monkeypatch.setattr("botframework.connector.auth.microsoft_app_credentials.ConfidentialClientApplication",
                        FakeMsal)
    rig, runner = await start_rig(tmp_path, connector)
    yield rig
    await rig.http.close()
    await runner.cleanup()


async def nothing_happened(rig, connector) -> bool:
    async with rig.assistant.engine.connect() as conn:
        seen = (await conn.execute(select(func.count()).select_from(users))).scalar()
        said = (await conn.execute(select(func.count()).select_from(transcripts))).scalar()
    return seen == 0 and said == 0 and connector.calls == []


async def test_valid_token_is_accepted(rig, connector):
    assert (await rig.post(rig.message("help"))).status == 201
    assert connector.calls


BAD_TOKENS = ["missing", "forged", "expired", "wrong_audience", "wrong_issuer", "wrong_service_url", "garbage",
              "not_bearer"]


async def test_bad_tokens_get_401_and_nothing_happens(rig, connector, caplog):
    """One server for every case (start-up is the slow part); each case is checked on its own."""
    for case in BAD_TOKENS:
        activity = rig.message("help")
        url = activity["serviceUrl"]
        token = {
            "missing": None,
            "forged": connector.token(APP_ID, url, key="attacker"),
            "expired": connector.token(APP_ID, url, expires_in=-3600),
            "wrong_audience": connector.token(APP_ID, url, audience="99999999-0000-0000-0000-000000000000"),
            "wrong_issuer": connector.token(APP_ID, url, issuer="https://evil.example.org"),
            "wrong_service_url": connector.token(APP_ID, "https://smba.trafficmanager.net/emea/"),
            "garbage": "not-a-jwt",
            "not_bearer": None,
        }[case]
        headers = {"Authorization": f"Basic {connector.token(APP_ID, url)}"} if case == "not_bearer" else None
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="adapters.teams.endpoint"):
            response = await rig.post(activity, token=token, headers=headers)
        assert response.status == 401, case
        assert await nothing_happened(rig, connector), case
        assert any(r.getMessage() == "teams request rejected" for r in caplog.records), case


async def test_anonymous_only_on_loopback_without_app_id(tmp_path, connector, caplog):
    with caplog.at_level(logging.INFO, logger="adapters.teams"):
        rig, runner = await start_rig(tmp_path, connector, microsoft_app_id=None, microsoft_app_password=None)
    try:
        assert any("unauthenticated, loopback only" in r.getMessage() for r in caplog.records)
        assert (await rig.post(rig.message("help"), token=None)).status == 201
        assert connector.calls
        assert connector.calls[-1].authorization is None
        # A token for some other bot is still refused: anonymous mode does not mean anything goes.
        assert (await rig.post(rig.message("help"), token=connector.token(APP_ID))).status == 401
    finally:
        await rig.http.close()
        await runner.cleanup()


def test_refuses_to_mount_without_app_id_on_a_public_interface(tmp_path, caplog):
    from aiohttp import web

    app = web.Application()
    settings = make_settings(tmp_path, host="0.0.0.0", microsoft_app_id=None)
    with caplog.at_level(logging.ERROR, logger="adapters.teams"):
        assert setup_teams(app, object(), settings) is None  # type: ignore[arg-type]
    assert not [r for r in app.router.routes() if r.resource and r.resource.canonical == "/api/messages"]
    assert any("not loopback" in str(getattr(r, "reason", "")) for r in caplog.records)


async def test_signing_keys_are_fetched_off_the_event_loop_at_start(rig, connector):
    """The keys are loaded by a background refresh before any request needs them."""
    import asyncio

    from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

    metadata = JwtTokenExtractor.get_open_id_metadata(connector.openid_url)
    for _ in range(100):
        if metadata.keys:
            break
        await asyncio.sleep(0.05)
    assert [key["kid"] for key in metadata.keys] == ["fake-connector-key"]
    assert connector.calls == []
