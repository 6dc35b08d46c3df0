""""I think you are asking about one of these": when a question is in scope but not clearly one topic, every
channel shows the likely topics' titles as buttons, and pressing one gives that topic's answer."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from app import build_app
from bot.config import PROJECT_ROOT
from bot.content import load_content
from bot.core import TOPIC_CHOICE
from bot.messages import ReplyKind
from bot.qa import QuestionEngine
from tests.conftest import make_settings, turn
from tests.slack_harness import action_body, dm_event
from tests.teams_harness import card_text, choice_presses
from tests.test_slack import running_slack
from tests.test_teams import connector, msal, rig  # noqa: F401 - fixtures
from tests.test_terminal import run_chat

# Vague but in-scope questions: which one the trained router is unsure about depends on the content, so the
# tests take the first that gets "one of these" (and fail if none does: the reply must stay reachable). Not
# "records" or another command word: the core reads those as commands.
VAGUE_CANDIDATES = ("consent and the family", "what about the family", "consent", "the parents",
                    "is it ok to tell someone", "sharing",
                    "what about health", "confidential", "can I tell them", "who can I tell",
                    "asking permission", "information about a child", "telling people", "the law", "school",
                    "send it to the nurse", "send it to the doctor", "email cp notes to the health visitor")


@pytest.fixture(scope="module")
def engine() -> QuestionEngine:
    return QuestionEngine(load_content(PROJECT_ROOT / "content"))


@pytest.fixture(scope="module")
def vague(engine) -> str:
    found = next((q for q in VAGUE_CANDIDATES if engine.answer(q).options), None)
    assert found is not None, "no vague question gets the 'one of these' reply"
    return found


@pytest.fixture(scope="module")
def offered(engine, vague) -> list[tuple[str, str]]:
    """(title, answer) of the topics the engine offers for the vague question, in order."""
    answer = engine.answer(vague)
    assert not answer.answered, answer
    assert len(answer.options) == 3, answer
    topics = {t.id: t for t in engine.topics}
    return [(topics[i].title, topics[i].answer) for i in answer.options]


def test_the_engine_offers_three_topics_and_says_so(engine, vague, offered):
    answer = engine.answer(vague)
    assert "one of these" in answer.answer
    assert answer.sources == ()
    assert all(title in answer.answer for title, _ in offered)
    assert "designated safeguarding lead" in answer.answer  # and where to go if none fits


async def test_core_reply_carries_topic_buttons_and_a_press_answers(assistant, vague, offered):
    reply = (await assistant.handle(turn(vague)))[-1]
    assert reply.kind == ReplyKind.ABSTAIN
    assert [c.label for c in reply.choices] == [title for title, _ in offered]
    assert all(c.value.startswith(TOPIC_CHOICE) for c in reply.choices)
    answer = (await assistant.handle(turn(choice=reply.choices[1].value)))[-1]
    assert answer.kind == ReplyKind.ANSWER
    assert answer.text == offered[1][1]
    assert answer.sources
    assert answer.title == offered[1][0]


async def test_typed_topic_word_that_is_no_topic_is_read_as_a_question(assistant):
    reply = (await assistant.handle(turn("topic of the weather tomorrow")))[-1]
    assert reply.kind == ReplyKind.ABSTAIN
    assert not reply.choices


async def test_web_chat(tmp_path, vague, offered):
    app = await build_app(make_settings(tmp_path))
    async with TestClient(TestServer(app)) as client:
        await client.get("/")  # the page issues the session cookie (the server decides who is chatting)

        async def chat(**payload) -> list[dict]:
            response = await client.post("/api/chat", json=payload)
            assert response.status == 200
            return (await response.json())["replies"]

        choices = (await chat(text=vague))[-1]["choices"]
        assert [c["label"] for c in choices] == [title for title, _ in offered]
        answered = (await chat(choice=choices[0]["value"]))[-1]
        assert answered["kind"] == "answer"
        assert answered["text"] == offered[0][1]
        assert answered["sources"]


def test_terminal_numbers_the_topics_and_a_number_presses_one(tmp_path, vague, offered):
    typed = run_chat(tmp_path, f"{vague}\n3\n", "--user", "choices")
    assert typed.returncode == 0, typed.stderr
    assert all(f") {title}" in typed.stdout for title, _ in offered)
    assert offered[2][1][:80] in " ".join(typed.stdout.split())
    lines = [json.dumps({"text": vague})]
    result = run_chat(tmp_path, "\n".join(lines) + "\n", "--json", "--user", "choices-json")
    choices = json.loads(result.stdout.splitlines()[0])["replies"][-1]["choices"]
    assert [c["label"] for c in choices] == [title for title, _ in offered]
    pressed = run_chat(tmp_path, json.dumps({"choice": choices[1]["value"]}) + "\n", "--json", "--user", "choices-json")
    assert json.loads(pressed.stdout)["replies"][-1]["text"] == offered[1][1]


async def test_slack_buttons(tmp_path, vague, offered):
    async with running_slack(tmp_path) as slack:
        await slack.client.event(dm_event(vague))
        await slack.idle()
        message = slack.posts()[-1]
        buttons = [b for b in message.buttons() if b["action_id"].startswith("choice_")]
        assert [b["text"]["text"] for b in buttons] == [title for title, _ in offered]
        assert (await slack.client.send(action_body(slack.fake, message, buttons[0])))[0] == 200
        await slack.idle()
        replies = [c.text() for c in slack.fake.of("response_url")] + [c.text() for c in slack.posts()]
        assert any(offered[0][1][:60] in " ".join(text.split()) for text in replies)


async def test_teams_card_actions(rig, connector, vague, offered):  # noqa: F811 - fixtures
    await rig.post(rig.message(vague))
    card = connector.of_kind("reply")[-1].cards[-1]
    presses = choice_presses(card)
    assert [title for title, _ in presses] == [title for title, _ in offered]
    connector.clear()
    await rig.post(rig.message(value=presses[2][1], reply_to="activity-9"))
    texts = [card_text(c) for call in connector.calls for c in call.cards]
    texts += [call.text or "" for call in connector.calls]
    assert any(offered[2][1][:60] in " ".join(text.split()) for text in texts)
