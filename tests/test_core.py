"""The core turn pipeline as a user meets it: disclaimer once, duplicates dropped, privacy guard,
help, abstention logged for content owners, and clear messages when things go wrong."""

from sqlalchemy import select

from bot.messages import ReplyKind
from bot.storage.db import create_engine
from bot.storage.tables import transcripts, unanswered_questions
from tests.conftest import turn

VALID_NHS = "943 476 5919"  # passes the modulus-11 check


async def test_disclaimer_shown_once_per_user(assistant):
    first = await assistant.handle(turn("hello"))
    second = await assistant.handle(turn("hello"))
    assert "not legal advice" in first[0].text
    assert all("not legal advice" not in r.text for r in second)
    other = await assistant.handle(turn("hello", user="local:other"))
    assert "not legal advice" in other[0].text


async def test_duplicate_delivery_is_answered_once(assistant):
    first = await assistant.handle(turn("what is an ISA?", message_id="m-1"))
    again = await assistant.handle(turn("what is an ISA?", message_id="m-1"))
    assert first
    assert again == []


async def test_privacy_guard_warns_and_keeps_details_out_of_storage(assistant):
    replies = await assistant.handle(turn(f"can I share NHS number {VALID_NHS} with the school?"))
    assert any("NHS number" in r.text and "case reference" in r.text for r in replies)
    async with assistant.engine.connect() as conn:
        stored = [row.text for row in await conn.execute(select(transcripts.c.text))]
    assert stored
    assert all("943" not in text for text in stored)
    assert any("[nhs_number]" in text for text in stored)


async def test_help_lists_commands_with_buttons(assistant):
    replies = await assistant.handle(turn("help"))
    help_reply = replies[-1]
    assert "`ask`" in help_reply.text
    assert "`help`" in help_reply.text
    assert help_reply.kind == ReplyKind.SMALLTALK


async def test_unanswerable_question_abstains_and_is_logged_redacted(assistant):
    replies = await assistant.handle(turn("what's the wifi password? email me at jo@example.org"))
    answer = replies[-1]
    assert answer.kind == ReplyKind.ABSTAIN
    assert "manager" in answer.text.lower()
    async with assistant.engine.connect() as conn:
        logged = [row.question for row in await conn.execute(select(unanswered_questions.c.question))]
    assert logged == ["what's the wifi password? email me at [email]"]


async def test_oversized_message_gets_a_clear_reply(assistant):
    replies = await assistant.handle(turn("x" * (assistant.settings.max_message_chars + 1)))
    assert len(replies) == 1
    assert "too long" in replies[0].text


async def test_database_down_gives_a_clear_message_not_a_crash(assistant):
    working = assistant.engine
    assistant.engine = create_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        replies = await assistant.handle(turn("do I need consent?"))
        assert len(replies) == 1
        assert "can't reach my records" in replies[0].text
    finally:
        await assistant.engine.dispose()
        assistant.engine = working


async def test_identifying_details_do_not_stop_the_question_being_answered(assistant):
    """The engine reads the question without the details, so the warning comes with an answer."""
    replies = await assistant.handle(turn(f"can I share health information about NHS number {VALID_NHS}?"))
    assert replies[-1].kind == ReplyKind.ANSWER
    assert "special category" in replies[-1].text.lower()


async def test_typing_a_buttons_label_or_walkthrough_does_what_the_button_does(assistant):
    """A newcomer types "walkthrough" or the label they saw rather than the command word."""
    for choice in assistant.starter_choices():
        pressed = await assistant.handle(turn(choice=choice.value, user="local:pressed", conversation="local:pressed"))
        typed = await assistant.handle(turn(choice.label, user="local:typed", conversation="local:typed"))
        assert [r.text for r in typed][-1] == [r.text for r in pressed][-1], choice.label
        await assistant.handle(turn("cancel", user="local:pressed", conversation="local:pressed"))
        await assistant.handle(turn("cancel", user="local:typed", conversation="local:typed"))
    started = await assistant.handle(turn("walkthrough"))
    assert "case reference" in started[-1].text
    listed = await assistant.handle(turn("my records", user="local:second", conversation="local:second"))
    assert "no decision records" in listed[-1].text
