"""Our pooled connector path sends Teams exactly what stock botbuilder sends (URL, JSON body, the headers
that matter, the bearer token), while reusing one client and one HTTP session per service URL."""

from __future__ import annotations

import pytest
from aiohttp import web
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Attachment

from adapters.teams.auth import BotConfiguration, PooledBotFrameworkAuthentication
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.teams_harness import APP_ID, OUTGOING_TOKEN, FakeMsal, message

COMPARED_HEADERS = ("Content-Type", "Accept", "User-Agent", "x-ms-conversation-id", "Authorization")


class CardEcho(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContext):
        card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "é – “quoted”"}]}
        reply = MessageFactory.attachment(Attachment(content_type="application/vnd.microsoft.card.adaptive",
                                                     content=card))
        reply.text = f"Echo: {turn_context.activity.text}"
        await turn_context.send_activity(reply)


async def serve(adapter: CloudAdapter):
    bot = CardEcho()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/api/messages"


@pytest.fixture
def connector():
    with FakeConnector() as fake:
        yield fake


async def test_pooled_path_sends_what_stock_botbuilder_sends(tmp_path, connector, monkeypatch):
    import aiohttp

    monkeypatch.setattr("botframework.connector.auth.microsoft_app_credentials.ConfidentialClientApplication",
                        FakeMsal)
    settings = make_settings(tmp_path, microsoft_app_id=APP_ID, microsoft_app_password="secret",
                             teams_openid_metadata_url=connector.openid_url)
    stock = CloudAdapter(ConfigurationBotFrameworkAuthentication(BotConfiguration.from_settings(settings)))
    pooled_auth = PooledBotFrameworkAuthentication.from_settings(settings)
    pooled = CloudAdapter(pooled_auth)
    bodies = {}
    async with aiohttp.ClientSession() as http:
        for name, adapter in (("stock", stock), ("pooled", pooled)):
            runner, url = await serve(adapter)
            connector.clear()
            for _ in range(2):
                activity = message("héllo", service_url=connector.url, activity_id="1700000000999")
                headers = {"Authorization": f"Bearer {connector.token(APP_ID, connector.url)}"}
                async with http.post(url, json=activity, headers=headers) as response:
                    assert response.status == 201
            bodies[name] = [(c.kind, c.conversation_id, c.activity_id, c.body,
                             {h: c.headers.get(h) for h in COMPARED_HEADERS}) for c in connector.calls]
            await runner.cleanup()
    await pooled_auth.pool.close()
    assert bodies["pooled"] == bodies["stock"]
    assert bodies["pooled"][0][4]["Authorization"] == f"Bearer {OUTGOING_TOKEN}"
    assert bodies["pooled"][0][3]["attachments"][0]["content"]["body"][0]["text"] == "é – “quoted”"


async def test_one_client_per_service_url_and_audience(tmp_path):
    settings = make_settings(tmp_path)
    auth = PooledBotFrameworkAuthentication.from_settings(settings)
    factory = auth.create_connector_factory(claims := CloudAdapter(auth).create_claims_identity(None))
    first = await factory.create("http://127.0.0.1:1/", None)
    again = await auth.create_connector_factory(claims).create("http://127.0.0.1:1/", None)
    other = await factory.create("http://127.0.0.1:2/", None)
    assert first is again
    assert first is not other
    await auth.pool.close()
