"""The real decision walkthrough in Teams, started in a channel: every step goes to the practitioner's
personal chat (Teams cannot show a message to one person in a channel), typed answers there continue the
channel's dialog, step cards are replaced in place, and the record is made once, even through a
Bot Connector outage and Teams' redelivery."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from adapters.teams.cards import adaptive_card
from bot.messages import Choice, Reply, ReplyKind
from bot.storage.tables import decision_records
from tests.fake_connector import FakeConnector
from tests.teams_harness import (
    CHANNEL_ID,
    GROUP_CHAT_ID,
    USER,
    card_text,
    choice_presses,
    navigation_presses,
    serving,
    validate_cards,
)

PERSONAL_CHAT = f"a:personal-{USER['id']}"  # what the fake connector answers to create_conversation
THREAD = f"{CHANNEL_ID};messageid=1700000000000"


@pytest.fixture
async def rig(tmp_path, monkeypatch):
    async with serving(tmp_path, monkeypatch) as rig:
        yield rig
        validate_cards(rig.connector)


async def records(rig) -> int:
    async with rig.assistant.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(decision_records))).scalar()


def latest_card(connector: FakeConnector) -> tuple[dict, str | None]:
    """The last card the practitioner sees in the personal chat, and its activity id (for replyToId)."""
    for call in reversed(connector.calls):
        if call.cards and (call.conversation_id or "").startswith("a:personal"):
            return call.cards[0], call.activity_id if call.kind == "update" else f"sent-{len(connector.calls)}"
    raise AssertionError("no card in the personal chat")


async def test_channel_walkthrough_runs_privately_and_records_once(rig):
    connector = rig.connector
    await rig.post(rig.message("decide", shared=True, mention=True))
    in_channel = [c for c in connector.calls if c.conversation_id == THREAD]
    assert [c.text for c in in_channel][-1] == "I've sent you a private message."
    assert all("Step 1" not in (c.text or "") and not c.cards for c in in_channel)
    card, card_id = latest_card(connector)
    assert card["body"][0]["text"].startswith("Step 1 ")
    assert "case reference" in card_text(card).lower()

    summary = None
    for _ in range(30):
        card, card_id = latest_card(connector)
        if card["body"][0]["text"] == "Decision summary":
            summary = card
            break
        presses = choice_presses(card)
        if presses:  # pressed in the personal chat; the button knows the channel conversation
            assert presses[0][1]["conversation"] == THREAD
            await rig.post(rig.message(value=presses[0][1], reply_to=card_id, personal_chat=PERSONAL_CHAT))
        else:  # typed in the personal chat: routed back to the channel's dialog
            first = card["body"][0]["text"].startswith("Step 1 ")
            text = "REF-123" if first else "Duty social worker, children's services"
            await rig.post(rig.message(text, personal_chat=PERSONAL_CHAT))
    assert summary is not None, "the walkthrough never reached its summary"
    assert connector.of_kind("update"), "step cards are replaced in place"
    assert "REF-123" in card_text(summary)
    assert "Copy as text" in card_text(summary)
    assert all(c.conversation_id != THREAD or "REF-123" not in str(c.body) for c in connector.calls)

    record = dict(choice_presses(summary))["Record this"]
    press = rig.message(value=record, reply_to=card_id, personal_chat=PERSONAL_CHAT)
    connector.fail_with = 503  # the Bot Connector is down as the practitioner confirms
    assert (await rig.post(press)).status == 201
    assert await records(rig) == 1  # the confirmed record is stored even though the reply was lost
    # every step card and the summary are valid Adaptive Card 1.5 (pressing the first button takes the
    # emergency route: act-now, then a two-answer record)
    assert validate_cards(connector) >= 5
    connector.fail_with = None
    connector.clear()
    assert (await rig.post(press)).status == 201  # Teams redelivers the same activity
    assert await records(rig) == 1
    assert connector.calls == []



async def test_a_typed_place_is_refused_with_a_not_a_person_button_and_kept_once_confirmed(rig):
    """The privacy guard's refusal and its confirm path, in Teams: the refusal card carries the button."""
    import json

    from dialogs.engine import NOT_A_PERSON

    connector = rig.connector
    await rig.post(rig.message("decide", shared=True, mention=True))
    pressed_not_a_person = typed_place = 0
    summary = None
    for _ in range(40):
        refusal = next((c for c in reversed(connector.calls) if c.cards and NOT_A_PERSON in json.dumps(c.cards)), None)
        if refusal is not None and not pressed_not_a_person:
            button = next(v for _, v in choice_presses(refusal.cards[0]) if v.get("choice") == NOT_A_PERSON)
            await rig.post(rig.message(value=button, personal_chat=PERSONAL_CHAT))
            pressed_not_a_person += 1
            continue
        card, card_id = latest_card(connector)
        if card["body"][0]["text"] == "Decision summary":
            summary = card
            break
        presses = choice_presses(card)
        if presses:
            await rig.post(rig.message(value=presses[0][1], reply_to=card_id, personal_chat=PERSONAL_CHAT))
        else:
            if card["body"][0]["text"].startswith("Step 1 "):
                text = "REF-123"
            elif typed_place < 1 + pressed_not_a_person:  # once refused, once again after the button
                text, typed_place = "Oakwood Surgery", typed_place + 1
            else:
                text = "Duty social worker"
            await rig.post(rig.message(text, personal_chat=PERSONAL_CHAT))
    assert pressed_not_a_person == 1, "the refusal card never offered 'It is not a person'"
    assert summary is not None
    assert "Oakwood Surgery" in card_text(summary)


@pytest.mark.parametrize("where", ["channel", "group chat"])
async def test_why_asked_in_a_shared_conversation_is_answered_only_to_the_asker(rig, where):
    """Teams has no ephemeral messages, so `why` typed in a channel or group chat is answered in the asker's
    personal chat (a 1:1 conversation created through the connector); the shared conversation sees only
    the neutral note."""
    connector = rig.connector
    shared = {"shared": True} if where == "channel" else {"group": True}
    shared_id = THREAD if where == "channel" else GROUP_CHAT_ID
    await rig.post(rig.message("decide", mention=True, **shared))
    connector.clear()
    await rig.post(rig.message("why", mention=True, **shared))
    in_shared = [c for c in connector.calls if c.conversation_id == shared_id]
    assert [c.text for c in in_shared] == ["I've sent you a private message."]
    private = [c for c in connector.calls if c.conversation_id == PERSONAL_CHAT]
    why_title = rig.assistant.strings.get("walkthrough.why_title")
    assert private[0].cards[0]["body"][0]["text"] == why_title
    assert private[-1].cards[0]["body"][0]["text"].startswith("Step 1 ")  # and the step again, privately
    created = connector.of_kind("create_conversation")
    assert created
    assert created[0].body["members"] == [{"id": USER["id"]}]
    assert created[0].body["isGroup"] is False


async def test_back_why_and_cancel_buttons_work_on_a_step_card_in_the_personal_chat(rig):
    """The navigation buttons' data as the renderer makes it (see test_teams_cards), pressed on a channel
    walkthrough's step card in the personal chat: Why answers there, Back returns to the previous step,
    Cancel ends the walkthrough with nothing recorded; the channel hears nothing."""
    connector = rig.connector
    navigation = [Choice("Back", "back"), Choice("Why?", "why"), Choice("Cancel", "cancel")]
    card = adaptive_card(Reply("Step", kind=ReplyKind.STEP, actions=navigation), rig.assistant.strings, origin=THREAD)
    presses = dict(navigation_presses(card))
    await rig.post(rig.message("decide", shared=True, mention=True))
    await rig.post(rig.message("REF-123", personal_chat=PERSONAL_CHAT))  # step 1 answered: now on step 2
    connector.clear()

    await rig.post(rig.message(value=presses["Why?"], reply_to="card-2", personal_chat=PERSONAL_CHAT))
    assert {c.conversation_id for c in connector.calls} == {PERSONAL_CHAT}
    assert card_text(connector.calls[0].cards[0]).startswith(rig.assistant.strings.get("walkthrough.why_title"))
    connector.clear()
    await rig.post(rig.message(value=presses["Back"], reply_to="card-2", personal_chat=PERSONAL_CHAT))
    assert {c.conversation_id for c in connector.calls} == {PERSONAL_CHAT}
    assert latest_card(connector)[0]["body"][0]["text"].startswith("Step 1 ")
    connector.clear()
    await rig.post(rig.message(value=presses["Cancel"], reply_to="card-1", personal_chat=PERSONAL_CHAT))
    assert {c.conversation_id for c in connector.calls} == {PERSONAL_CHAT}
    assert await records(rig) == 0
    assert rig.assistant.strings.get("walkthrough.cancelled")[:30] in str([c.body for c in connector.calls])
