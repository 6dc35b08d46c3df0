"""Teams as a practitioner meets it: real Activity JSON posted to our running server, replies read from
the fake Bot Connector. Every Adaptive Card the bot sends is checked against Adaptive Card 1.5."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.delivery import DeliveryError, DeliveryFailure
from bot.messages import CardField, Choice, Reply, ReplyKind, Source
from bot.storage.tables import conversation_refs
from tests.fake_connector import FakeConnector
from tests.teams_harness import (
    BOT,
    CHANNEL_ID,
    OUTGOING_TOKEN,
    TEAM_ID,
    USER,
    FakeMsal,
    card_actions,
    card_text,
    choice_presses,
    installation,
    start_rig,
    validate_cards,
)

QUESTION = "do I need consent to share information?"


@pytest.fixture
def connector():
    with FakeConnector() as fake:
        yield fake


@pytest.fixture
def msal(monkeypatch):
    FakeMsal.instances = []
    monkeypatch.setattr("botframework.connector.auth.microsoft_app_credentials.ConfidentialClientApplication",
                        FakeMsal)
    return FakeMsal


@pytest.fixture
async def rig(tmp_path, connector, msal):
    rig, runner = await start_rig(tmp_path, connector)
    yield rig
    validate_cards(connector)
    await rig.http.close()
    await runner.cleanup()


def everything_said(connector: FakeConnector) -> str:
    return "\n".join((c.text or "") + "\n" + "\n".join(card_text(card) for card in c.cards)
                     for c in connector.calls)


async def test_personal_chat_question_gets_disclaimer_then_answer_card_with_sources(rig, connector):
    incoming = rig.message(QUESTION)
    response = await rig.post(incoming)
    assert response.status == 201
    replies = connector.of_kind("reply")
    assert [c.conversation_id for c in replies] == ["a:personal-chat-one"] * 2
    assert all(c.activity_id == incoming["id"] and c.body["replyToId"] == incoming["id"] for c in replies)
    assert "not legal advice" in replies[0].text
    answer = replies[1].cards[0]
    assert answer["version"] == "1.5"
    assert answer["body"][0]["text"] == "You do not always need consent"
    texts = [block for block in answer["body"] if block["type"] == "TextBlock"]
    assert all(block.get("wrap") for block in texts)
    assert "Sources: One Minute Guide" in texts[-1]["text"]
    assert texts[-1]["size"] == "Small"
    assert replies[1].body["from"]["id"] == BOT["id"]
    assert replies[1].body["recipient"]["id"] == USER["id"]
    assert all(c.authorization == f"Bearer {OUTGOING_TOKEN}" for c in connector.calls)
    assert validate_cards(connector) == 1


async def test_channel_mention_is_stripped_and_answer_threads_under_the_question(rig, connector):
    incoming = rig.message(QUESTION, shared=True, mention=True)
    assert (await rig.post(incoming)).status == 201
    replies = connector.of_kind("reply")
    assert replies
    assert all(c.conversation_id == f"{CHANNEL_ID};messageid=1700000000000" for c in replies)
    assert all(c.activity_id == incoming["id"] for c in replies)
    assert replies[-1].cards[0]["body"][0]["text"] == "You do not always need consent"
    assert "InfoShare" not in everything_said(connector)


async def test_duplicate_activity_id_is_answered_once(rig, connector):
    incoming = rig.message(QUESTION)
    assert (await rig.post(incoming)).status == 201
    sent = len(connector.calls)
    assert (await rig.post(incoming)).status == 201  # Teams retried the same activity
    assert len(connector.calls) == sent


async def test_commands_and_card_buttons_reach_the_core(rig, connector):
    await rig.post(rig.message("help"))
    help_card = connector.calls[-1].cards[0]
    assert help_card["body"][0]["text"] == "What I can do"
    assert "**isa**" in help_card["body"][1]["text"]  # content's `code` in a style Teams cards have
    assert "`" not in str(help_card)
    connector.clear()
    # Action.Submit arrives as a message whose value is the button's data.
    await rig.post(rig.message(value={"choice": "help", "kind": "smalltalk"}, reply_to="activity-1"))
    assert connector.calls[-1].cards[0]["body"][0]["text"] == "What I can do"
    assert not connector.of_kind("update")  # only walkthrough steps are replaced in place
    connector.clear()
    # ...or, from some clients, as an invoke: answered with 200 and the reply posted.
    response = await rig.post(rig.message(value={"choice": "ask what is an ISA?"}, activity_type="invoke"))
    assert response.status == 200
    assert connector.of_kind("reply")


async def test_the_users_own_display_name_reaches_the_core_and_no_one_elses(rig, connector):
    """``from.name`` is the practitioner's own name (for "Decided by"); a colleague's mention never is."""
    seen = []

    async def whoami(ctx, args):
        seen.append((ctx.turn.display_name, ctx.turn.text))
        return [Reply("noted", kind=ReplyKind.NOTICE)]

    rig.assistant.register_command("whoami", whoami, "help.command")
    await rig.post(rig.message("whoami"))
    colleague = rig.message("whoami <at>Jane Smith</at>", shared=True, mention=True)
    colleague["entities"].append({"type": "mention", "text": "<at>Jane Smith</at>",
                                  "mentioned": {"id": "29:jane", "name": "Jane Smith"}})
    await rig.post(colleague)
    nameless = rig.message("whoami")
    nameless["from"] = {"id": USER["id"], "aadObjectId": USER["aadObjectId"]}
    await rig.post(nameless)
    assert seen == [("Alex Practitioner", "whoami"), ("Alex Practitioner", "whoami a colleague"), (None, "whoami")]


async def test_a_button_pressed_with_nothing_picked_or_typed_asks_for_it(rig, connector):
    """Teams checks ``isRequired`` itself; a client that does not still gets told, and nothing is answered."""
    await rig.post(rig.message(value={"kind": "step"}, reply_to="activity-3"))
    assert [c.text for c in connector.calls] == [rig.assistant.strings.get("teams.nothing_submitted")]


def _walkthrough(assistant):
    """A stand-in walkthrough registered through the core's command interface: one step, then a summary."""

    async def decide(ctx, args):
        if args == "step2":
            return [Reply("Do you have consent?", kind=ReplyKind.STEP, title="Step 2 of 2",
                          choices=[Choice("Yes", "decide yes"), Choice("No", "decide no")])]
        if args in {"yes", "no"}:
            return [Reply("Record these details for case REF-123.", kind=ReplyKind.SUMMARY, title="Decision summary",
                          fields=[CardField("Case reference", "REF-123"), CardField("Decision", "Share")],
                          sources=[Source("Information sharing advice", "rule 3")],
                          choices=[Choice("Record this", "record")], private=True),
                    Reply("Walkthrough finished.", kind=ReplyKind.NOTICE)]
        return [Reply("Is there a risk of harm?", kind=ReplyKind.STEP, title="Step 1 of 2",
                      choices=[Choice("Next", "decide step2")])]

    assistant.register_command("decide", decide, "help.command")


async def test_walkthrough_step_cards_are_updated_in_place(rig, connector):
    _walkthrough(rig.assistant)
    await rig.post(rig.message("decide"))
    step_one = connector.of_kind("reply")[-1]
    assert step_one.cards[0]["body"][0]["text"] == "Step 1 of 2"
    assert choice_presses(step_one.cards[0]) == [("Next", {"choice": "decide step2", "kind": "step"})]
    connector.clear()
    pressed = rig.message(value=choice_presses(step_one.cards[0])[0][1], reply_to="activity-7")
    await rig.post(pressed)
    updates = connector.of_kind("update")
    assert [c.activity_id for c in updates] == ["activity-7"]
    assert updates[0].cards[0]["body"][0]["text"] == "Step 2 of 2"
    assert not connector.of_kind("reply")


async def test_private_summary_goes_to_personal_chat_and_channel_gets_a_neutral_note(rig, connector):
    _walkthrough(rig.assistant)
    await rig.post(rig.message(shared=True, value={"choice": "decide yes", "kind": "step"}, reply_to="activity-9"))
    created = connector.of_kind("create_conversation")
    assert len(created) == 1
    assert created[0].body["members"] == [{"id": USER["id"]}]
    assert created[0].body["channelData"] == {"tenant": {"id": "tenant-one"}}
    private = connector.of_kind("send")
    assert [c.conversation_id for c in private] == [f"a:personal-{USER['id']}"]
    summary = private[0].cards[0]
    shown = card_text(summary)
    assert "REF-123" in shown
    assert "Record this" in shown
    copy = next(a for a in card_actions(summary) if a["type"] == "Action.ShowCard")
    assert copy["title"] == "Copy as text"
    assert "Case reference: REF-123" in copy["card"]["body"][0]["text"]
    channel = [c for c in connector.calls if c.conversation_id and c.conversation_id.startswith(CHANNEL_ID)]
    assert channel
    assert all("REF-123" not in (c.text or "") + str(c.cards) for c in channel)
    assert not connector.of_kind("update")  # the channel's step card is not overwritten with case details
    assert any(c.text == "I've sent you a private message." for c in channel)
    assert any(c.text == "Walkthrough finished." for c in channel)
    # "Record this", pressed in the personal chat, continues the walkthrough that ran in the channel.
    record = next(a for a in card_actions(summary) if a["type"] == "Action.Submit")
    assert record["data"]["conversation"] == f"{CHANNEL_ID};messageid=1700000000000"
    seen = []

    async def record_command(ctx, args):
        seen.append(ctx.conversation_id)
        return [Reply("Recorded for REF-123.", kind=ReplyKind.NOTICE, private=True)]

    rig.assistant.register_command("record", record_command, "help.command")
    connector.clear()
    await rig.post(rig.message(value=record["data"], reply_to="activity-20"))
    assert seen == [f"teams:{CHANNEL_ID};messageid=1700000000000"]
    assert [c.text for c in connector.calls] == ["Recorded for REF-123."]
    assert connector.calls[0].conversation_id == "a:personal-chat-one"
    # The personal chat is remembered, so reminders can reach the user there.
    async with rig.assistant.engine.connect() as conn:
        stored = {row.conversation_id for row in await conn.execute(select(conversation_refs))}
    assert f"a:personal-{USER['id']}" in stored


async def test_a_private_reply_never_reaches_a_group_conversation_even_without_its_type(rig, connector):
    _walkthrough(rig.assistant)
    pressed = rig.message(shared=True, value={"choice": "decide yes", "kind": "step"}, reply_to="activity-9")
    del pressed["conversation"]["conversationType"]  # isGroup alone says others can read it
    await rig.post(pressed)
    assert [c.conversation_id for c in connector.of_kind("send")] == [f"a:personal-{USER['id']}"]
    shared = [c for c in connector.calls if (c.conversation_id or "").startswith(CHANNEL_ID)]
    assert shared
    assert all("REF-123" not in (c.text or "") + str(c.cards) for c in shared)


async def test_install_stores_reference_and_uninstall_removes_it(rig, connector):
    url = connector.url
    assert (await rig.post(installation(service_url=url, added=True, team=True))).status == 201
    assert "Hello, I'm the information sharing assistant" in connector.calls[-1].text
    assert (await rig.post(installation(service_url=url, added=True, team=False, kind="installationUpdate"))
            ).status == 201

    async def stored():
        async with rig.assistant.engine.connect() as conn:
            return {row.conversation_id: row.team_id for row in await conn.execute(select(conversation_refs))}

    assert await stored() == {CHANNEL_ID: TEAM_ID, "a:personal-chat-one": None}
    await rig.post(installation(service_url=url, added=False, team=True))
    assert await stored() == {"a:personal-chat-one": None}
    await rig.post(installation(service_url=url, added=False, team=False, kind="installationUpdate"))
    assert await stored() == {}


async def test_proactive_delivery_uses_the_stored_reference(rig, connector):
    await rig.post(installation(service_url=connector.url, added=True, team=True))
    connector.clear()
    await rig.assistant.delivery.send(f"teams:{CHANNEL_ID}", [Reply("ISA review due.", kind=ReplyKind.REMINDER,
                                                                   title="Reminder")])
    sent = connector.of_kind("send")
    assert [c.conversation_id for c in sent] == [CHANNEL_ID]  # a new post in the channel, not a thread reply
    assert "replyToId" not in sent[0].body
    assert card_text(sent[0].cards[0]).startswith("Reminder")
    assert sent[0].authorization == f"Bearer {OUTGOING_TOKEN}"

    with pytest.raises(DeliveryError) as unknown:
        await rig.assistant.delivery.send("teams:19:nowhere@thread.tacv2", [Reply("hi")])
    assert (unknown.value.key, unknown.value.permanent) == (DeliveryFailure.NOT_INSTALLED, True)
    with pytest.raises(DeliveryError) as private:
        await rig.assistant.delivery.send(f"teams:{CHANNEL_ID}", [Reply("REF-1", private=True)])
    assert (private.value.key, private.value.permanent) == (DeliveryFailure.PRIVATE_TO_SHARED, True)
    connector.fail_with = 503
    with pytest.raises(DeliveryError) as outage:
        await rig.assistant.delivery.send(f"teams:{CHANNEL_ID}", [Reply("ISA review due.")])
    assert (outage.value.key, outage.value.permanent) == (DeliveryFailure.REFUSED, False)
    connector.fail_with = 403
    with pytest.raises(DeliveryError) as removed:
        await rig.assistant.delivery.send(f"teams:{CHANNEL_ID}", [Reply("ISA review due.")])
    assert (removed.value.key, removed.value.permanent) == (DeliveryFailure.REFUSED, True)


async def test_proactive_delivery_to_a_user_finds_their_personal_chat(rig, connector):
    await rig.post(rig.message("hello"))
    connector.clear()
    await rig.assistant.delivery.send(f"teams:{USER['aadObjectId']}", [Reply("Your ISA is due.", private=True)])
    assert [c.conversation_id for c in connector.of_kind("send")] == ["a:personal-chat-one"]


async def test_connector_outage_is_survived_and_the_next_turn_works(rig, connector):
    connector.fail_with = 503
    assert (await rig.post(rig.message(QUESTION))).status == 201
    connector.fail_with = None
    connector.clear()
    assert (await rig.post(rig.message("help"))).status == 201
    assert connector.calls[-1].cards[0]["body"][0]["text"] == "What I can do"


async def test_outgoing_token_is_acquired_once_and_reused(rig, connector, msal):
    for _ in range(3):
        await rig.post(rig.message("help"))
    assert sum(app.acquired for app in msal.instances) == 1
    assert all(c.authorization == f"Bearer {OUTGOING_TOKEN}" for c in connector.calls)


async def test_bad_requests_get_clear_errors(rig, connector):
    async with rig.http.post(f"{rig.base_url}/api/messages", data="{not json",
                             headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
    async with rig.http.post(f"{rig.base_url}/api/messages", data="hello",
                             headers={"Content-Type": "text/plain"}) as response:
        assert response.status == 415
    no_service_url = rig.message("help")
    del no_service_url["serviceUrl"]
    for body in ({"text": "no type"}, ["not", "an", "object"], no_service_url,
                 {"type": "message", "from": "not an account", "entities": 5}):
        async with rig.http.post(f"{rig.base_url}/api/messages", json=body) as response:
            assert response.status == 400, body
    assert connector.calls == []
