"""The Teams renderer: what each kind of reply looks like as an Adaptive Card 1.5 or as text."""

from __future__ import annotations

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
    assert copy["card"]["body"][0]["text"] == plain_text(SUMMARY, STRINGS)
    assert plain_text(SUMMARY, STRINGS).splitlines() == [
        "Decision summary", "You decided to share with consent.", "Case reference: REF-42", "Decision: Share",
        "Sources: Information sharing advice (2024) (rule 3)"]
