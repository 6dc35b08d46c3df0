"""The local web chat over HTTP: the page and its assets, the chat API, bad input, proactive messages."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from adapters.web import SESSION_COOKIE, user_for_session
from app import build_app
from bot.delivery import DeliveryError, DeliveryFailure
from bot.http import ASSISTANT
from bot.messages import Choice, Reply, ReplyKind
from tests.conftest import make_settings
from tests.servers import session_token

USER = "web-test1"  # a label: each label is its own browser session (cookie); the server picks the id
# One server for the module; tests that care about first contact use a fresh user.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(tmp_path_factory) -> AsyncIterator[TestClient]:
    app = await build_app(make_settings(tmp_path_factory.mktemp("web")))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0), cookie_jar=DummyCookieJar()) as test_client:
        yield test_client


@pytest.fixture
def settings(client):
    return client.app[ASSISTANT].settings


def new_user() -> str:
    return f"web-{uuid.uuid4().hex[:8]}"


def cookie(user: str = USER) -> dict[str, str]:
    """The Cookie header of ``user``'s browser session."""
    return {"Cookie": f"{SESSION_COOKIE}={session_token(user)}"}


def user_id(user: str = USER) -> str:
    return user_for_session(session_token(user))


def strings(client: TestClient):
    return client.app[ASSISTANT].strings


async def chat(client: TestClient, user: str = USER, **payload) -> list[dict]:
    response = await client.post("/api/chat", json=payload, headers=cookie(user))
    assert response.status == 200, await response.text()
    return (await response.json())["replies"]


async def test_page_and_assets_are_served_with_safe_headers(client):
    response = await client.get("/")
    page = await response.text()
    assert response.status == 200
    assert response.content_type == "text/html"
    assert f"<title>{strings(client).get('web.page_title')}</title>" in page
    assert "{{" not in page  # every placeholder filled
    assert 'id="message"' in page
    assert 'id="send"' in page
    assert 'role="log"' in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    embedded = page.split('id="ui-strings">', 1)[1].split("</script>", 1)[0]
    assert json.loads(embedded)["sources"] == strings(client).get("web.script.sources")
    for asset, kind in (("chat.js", "javascript"), ("chat.css", "text/css")):
        response = await client.get(f"/static/{asset}")
        assert response.status == 200
        assert kind in response.content_type


async def test_chat_answers_with_the_disclaimer_first(client):
    user = new_user()
    replies = await chat(client, user, text="hello")
    assert replies[0]["kind"] == ReplyKind.NOTICE
    assert replies[0]["text"] == strings(client).get("disclaimer")
    assert len(replies) >= 2
    assert all(reply["text"] for reply in replies)
    assert set(replies[-1]) >= {"text", "kind", "title", "choices", "fields", "sources", "links", "summary"}
    again = await chat(client, user, text="hello")
    assert all(reply["text"] != strings(client).get("disclaimer") for reply in again)


async def test_a_question_gets_an_answer_with_sources(client):
    topic = next(t for t in client.app[ASSISTANT].content.topics if t.sources and t.examples)
    answer = (await chat(client, new_user(), text=topic.examples[0]))[-1]
    assert answer["kind"] == ReplyKind.ANSWER
    assert answer["title"] == topic.title
    assert answer["sources"] == [{"title": s.title, "ref": s.ref} for s in topic.sources]


async def test_a_button_press_is_a_turn(client):
    replies = await chat(client, choice="help")
    assert replies[-1]["title"] == strings(client).get("help.title")


async def test_privacy_warning_reaches_the_page(client):
    replies = await chat(client, text="can I share NHS number 943 476 5919 with school?")
    assert any(strings(client).get("privacy.kind.nhs_number") in reply["text"] for reply in replies)


async def test_a_retried_message_is_answered_once(client):
    first = await chat(client, text="hello", message_id="abc123")
    again = await chat(client, text="hello", message_id="abc123")
    assert first
    assert again == []


BAD_CHAT_BODIES = [
    (b"not json", "json"),
    (b"\xff\xfe\x00", "json"),
    (b"[" * 50_000, "json"),
    (json.dumps(["hello"]).encode(), "json"),
    (json.dumps({"text": 42}).encode(), "types"),
    (json.dumps({"choice": ["decide"]}).encode(), "types"),
    (json.dumps({"user": USER}).encode(), "missing"),
    (json.dumps({"text": "hi", "message_id": "x" * 101}).encode(), "message_id"),
    (json.dumps({"text": "hi", "message_id": 7}).encode(), "message_id"),
]


async def test_bad_requests_get_a_clear_400(client):
    for body, key in BAD_CHAT_BODIES:
        response = await client.post("/api/chat", data=body, headers={"Content-Type": "application/json", **cookie()})
        assert response.status == 400, body[:80]
        assert await response.json() == {"error": strings(client).get(f"web.errors.{key}")}, body[:80]


async def test_a_huge_body_is_refused_with_413(client, settings):
    body = json.dumps({"text": "x" * settings.max_body_bytes}).encode()
    response = await client.post("/api/chat", data=body, headers={"Content-Type": "application/json", **cookie()})
    assert response.status == 413
    assert "error" in await response.json()


async def test_an_overlong_message_gets_a_friendly_reply(client, settings):
    replies = await chat(client, text="x" * (settings.max_message_chars + 1))
    assert replies[-1]["text"] == strings(client).get("errors.too_long", limit=settings.max_message_chars)


async def test_proactive_messages_reach_the_outbox(client):
    assistant = client.app[ASSISTANT]
    start = await (await client.get("/api/outbox", headers=cookie())).json()
    assert start["replies"] == []
    cursor = start["last_id"]

    reminder = Reply("Your ISA with the school is due for review.", kind=ReplyKind.REMINDER,
                     choices=[Choice("Open it", "isa show 1")])
    await assistant.delivery.send(user_id(), [reminder])
    await assistant.delivery.send("local", [Reply("Everyone: new guidance is available.")])
    await assistant.delivery.send(user_id("someone-else"), [Reply("Not for you.")])

    body = await (await client.get("/api/outbox", params={"after": cursor}, headers=cookie())).json()
    assert [reply["text"] for reply in body["replies"]] == [reminder.text, "Everyone: new guidance is available."]
    assert body["replies"][0]["choices"] == [{"label": "Open it", "value": "isa show 1"}]
    later = await (await client.get("/api/outbox", params={"after": body["last_id"]}, headers=cookie())).json()
    assert later == {"replies": [], "last_id": body["last_id"]}


async def test_bad_local_addresses_fail_permanently(client):
    with pytest.raises(DeliveryError) as error:
        await client.app[ASSISTANT].delivery.send("local:not valid!", [Reply("hi")])
    assert (error.value.key, error.value.permanent) == (DeliveryFailure.NOT_AN_ADDRESS, True)


BAD_OUTBOX_QUERIES = [
    ({"after": "-1"}, "after"),
    ({"after": "ten"}, "after"),
    ({"after": "9" * 40}, "after"),
]


async def test_bad_outbox_queries_get_a_clear_400(client):
    for params, key in BAD_OUTBOX_QUERIES:
        response = await client.get("/api/outbox", params=params, headers=cookie())
        assert response.status == 400, params
        assert await response.json() == {"error": strings(client).get(f"web.errors.{key}")}, params


async def test_the_start_page_offers_the_walkthrough(client):
    page = await (await client.get("/")).text()
    assert f'data-choice="decide">{strings(client).get("choices.decide")}</button>' in page


async def test_a_reload_mid_walkthrough_gets_the_current_step_back(client):
    user = new_user()
    resumed = await client.post("/api/resume", headers=cookie(user))
    assert resumed.status == 200
    assert (await resumed.json())["replies"] == []
    first = (await chat(client, user, choice="decide"))[-1]
    assert first["title"].startswith("Step 1 of about ")
    assert [a["value"] for a in first["actions"]] == ["why", "cancel"]
    step = (await chat(client, user, text="CR-4242"))[-1]
    assert [(a["label"], a["value"]) for a in step["actions"]] == [
        ("Back", "back"), ("Why this question?", "why"), ("Cancel", "cancel")]
    replies = (await (await client.post("/api/resume", headers=cookie(user))).json())["replies"]
    assert "walkthrough in progress" in replies[0]["text"]
    assert replies[-1]["title"] == step["title"]
    assert replies[-1]["text"] == step["text"]
    assert (await client.post("/api/resume")).status == 401  # no session, no one's walkthrough
    back = (await chat(client, user, choice="back"))[-1]
    assert back["title"].startswith("Step 1 of about ")
