"""The Teams renderer: what each kind of reply looks like as an Adaptive Card 1.5 or as text."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from adapters.teams.cards import adaptive_card, plain_text, render
from bot.content import load_content
from bot.messages import CardField, Choice, Link, Reply, ReplyKind, Source
from tests.teams_harness import validate_card

STRINGS = load_content(Path(__file__).resolve().parent.parent / "content").strings
SUMMARY = Reply("You decided to share with consent.", kind=ReplyKind.SUMMARY, title="Decision summary",
                fields=[CardField("Case reference", "REF-42"), CardField("Decision", "Share")],
                sources=[Source("Information sharing advice (2024)", "rule 3")],
                choices=[Choice("Record this", "record")], private=True)


@pytest.mark.parametrize("reply", [
    Reply("Hello.", kind=ReplyKind.NOTICE),
    Reply("Answer.", kind=ReplyKind.ANSWER, title="Consent", sources=[Source("Guide", "p1"), Source("Act", "")],
          choices=[Choice("Walk me through this decision", "decide")], links=[Link("Guidance", "https://gov.uk/x")]),
    Reply("Is there a risk of harm?", kind=ReplyKind.STEP, title="Step 1 of 5",
          choices=[Choice("Yes", "yes"), Choice("No", "no")]),
    SUMMARY,
    Reply("Your records", kind=ReplyKind.LIST, fields=[CardField("REF-1", "Share, 1 May")]),
])
def test_every_card_is_valid_adaptive_card_1_5(reply):
    rendered = render(reply, STRINGS)
    for attachment in rendered.get("attachments", []):
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        validate_card(attachment["content"])


def test_the_official_schema_rejects_what_teams_would_refuse():
    """The vendored schema is the real one: an unknown property or a misspelt element fails validation."""
    card = adaptive_card(Reply("Hello.", kind=ReplyKind.ANSWER), STRINGS)
    with pytest.raises(jsonschema.ValidationError):
        validate_card({**card, "speech": "hello"})
    with pytest.raises(jsonschema.ValidationError):
        validate_card({**card, "body": [{"type": "TextBlock"}]})  # a TextBlock needs its text
    with pytest.raises(AssertionError):
        validate_card({**card, "msteams": {"width": "Full", "entities": []}})


def test_decision_summary_shows_its_record_once_and_copies_it_once():
    """A decision summary's text is the whole record: the card shows it once (no restating FactSet) and
    "Copy as text" holds exactly that text, not the text and every field a second time."""
    record_text = "Decision summary for REF-42\nDecision: Share\n\nShared:\n- school report"
    summary = Reply(record_text, kind=ReplyKind.SUMMARY, title="Decision summary",
                    fields=[CardField("Decision", "Share")], summary={"reference": "REF-42"}, private=True)
    card = adaptive_card(summary, STRINGS)
    assert [e["type"] for e in card["body"]] == ["TextBlock", "TextBlock"]
    assert card_text_count(card, "Decision: Share") == 2  # once on the card, once in the text to copy
    assert plain_text(summary, STRINGS) == record_text
    copy = card["actions"][-1]["card"]["body"][0]["text"]
    assert copy.splitlines()[-1] == "\\- school report"  # shown as typed, not turned into a list


def card_text_count(card: dict, needle: str) -> int:
    return json.dumps(card).count(needle)


def test_user_text_is_escaped_and_code_marks_never_show():
    """Teams reads TextBlocks and facts as markdown: what a user typed shows exactly as typed, and the
    content's `command` marks become bold (cards have no code style) or plain text on buttons."""
    reply = Reply("Added *Police* & Schools <draft> [1](x) my_ref. Type `isa show 5`.", kind=ReplyKind.LIST,
                  title="ISA `5`", fields=[CardField("Owner", "team_a*b")],
                  choices=[Choice("Show `5`", "isa show 5")])
    card = adaptive_card(reply, STRINGS)
    title, text, facts = card["body"]
    assert title["text"] == "ISA **5**"
    assert text["text"] == "Added \\*Police\\* & Schools <draft> \\[1\\](x) my\\_ref. Type **isa show 5**."
    assert facts["facts"] == [{"title": "Owner", "value": "team\\_a\\*b"}]
    assert card["actions"][0]["title"] == "Show 5"
    message = render(Reply("Added #5: Police & Schools <draft> agreement_1. See `isa show 5`."), STRINGS)
    assert message["text"] == "Added #5: Police &amp; Schools &lt;draft&gt; agreement\\_1. See `isa show 5`."


def test_short_notice_is_plain_text_and_structured_replies_are_cards():
    assert render(Reply("Hello.", kind=ReplyKind.NOTICE), STRINGS) == {"text": "Hello.", "text_format": "markdown"}
    assert "attachments" in render(Reply("Pick one", choices=[Choice("A", "a")]), STRINGS)


def test_answer_card_shows_title_text_sources_and_buttons():
    reply = Reply("No, not always.", kind=ReplyKind.ANSWER, title="Consent", sources=[Source("Guide", "Myth-busting")],
                  choices=[Choice("Walk me through", "decide")])
    card = adaptive_card(reply, STRINGS)
    title, text, sources = card["body"]
    assert title == {"type": "TextBlock", "text": "Consent", "wrap": True, "weight": "Bolder", "size": "Medium"}
    assert text["text"] == "No, not always."
    assert text["wrap"] is True
    assert sources["text"] == "Sources: Guide (Myth-busting)"
    assert sources["size"] == "Small"
    assert card["actions"] == [{"type": "Action.Submit", "title": "Walk me through",
                                "data": {"choice": "decide", "kind": "answer"}}]


def test_summary_card_has_facts_record_button_and_copy_as_text():
    card = adaptive_card(SUMMARY, STRINGS)
    facts = next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
    assert facts == [{"title": "Case reference", "value": "REF-42"}, {"title": "Decision", "value": "Share"}]
    record, copy = card["actions"]
    assert record["title"] == "Record this"
    assert record["data"]["choice"] == "record"
    assert copy["type"] == "Action.ShowCard"
    assert copy["title"] == "Copy as text"
    assert copy["card"]["body"][0]["text"] == "\n\n".join(plain_text(SUMMARY, STRINGS).splitlines())
    assert plain_text(SUMMARY, STRINGS).splitlines() == [
        "Decision summary", "You decided to share with consent.", "Case reference: REF-42", "Decision: Share",
        "Sources: Information sharing advice (2024) (rule 3)"]
