"""The Teams renderer: what each kind of reply looks like as an Adaptive Card 1.5 or as text."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from adapters.teams.cards import MAX_ACTIONS, MAX_CARD_BYTES, adaptive_card, card_bytes, plain_text, render
from bot.content import load_content
from bot.messages import CardField, Choice, Link, Reply, ReplyKind, Source
from tests.teams_harness import (
    TEAMS_HOST_CONFIG,
    card_actions,
    card_text,
    choice_presses,
    navigation_presses,
    typed_submit,
    validate_card,
)

CONTENT = load_content(Path(__file__).resolve().parent.parent / "content")
STRINGS = CONTENT.strings
NAVIGATION = [Choice("Back", "back"), Choice("Why?", "why"), Choice("Cancel", "cancel")]
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
    assert [e["type"] for e in card["body"]] == ["TextBlock", "TextBlock", "ActionSet"]
    assert card_text_count(card, "Decision: Share") == 2  # once on the card, once in the text to copy
    assert plain_text(summary, STRINGS) == record_text
    copy = card_actions(card)[-1]["card"]["body"][0]["text"]
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
    title, text, facts, buttons = card["body"]
    assert title["text"] == "ISA **5**"
    assert text["text"] == "Added \\*Police\\* & Schools <draft> \\[1\\](x) my\\_ref. Type **isa show 5**."
    assert facts["facts"] == [{"title": "Owner", "value": "team\\_a\\*b"}]
    assert buttons["actions"][0]["title"] == "Show 5"
    assert render(reply, STRINGS)["summary"] == "ISA 5"  # the notification preview: plain text
    message = render(Reply("Added #5: Police & Schools <draft> agreement_1. See `isa show 5`."), STRINGS)
    assert message["text"] == "Added #5: Police &amp; Schools &lt;draft&gt; agreement\\_1. See `isa show 5`."
    listed = render(Reply("Parties:\n- Police\n2. Schools"), STRINGS)["text"]
    assert listed == "Parties:\n\n\\- Police\n\n2\\. Schools"  # typed lines, not a list Teams makes


def test_short_notice_is_plain_text_and_structured_replies_are_cards():
    assert render(Reply("Hello.", kind=ReplyKind.NOTICE), STRINGS) == {"text": "Hello.", "text_format": "markdown"}
    assert "attachments" in render(Reply("Pick one", choices=[Choice("A", "a")]), STRINGS)


def test_answer_card_shows_title_text_sources_and_buttons():
    reply = Reply("No, not always.", kind=ReplyKind.ANSWER, title="Consent", sources=[Source("Guide", "Myth-busting")],
                  choices=[Choice("Walk me through", "decide")])
    card = adaptive_card(reply, STRINGS)
    title, text, sources, buttons = card["body"]
    assert title == {"type": "TextBlock", "text": "Consent", "wrap": True, "weight": "Bolder", "size": "Medium"}
    assert text["text"] == "No, not always."
    assert text["wrap"] is True
    assert sources["text"] == "Sources: Guide (Myth-busting)"
    assert sources["size"] == "Small"
    assert buttons == {"type": "ActionSet", "actions": [{"type": "Action.Submit", "title": "Walk me through",
                                                         "data": {"choice": "decide", "kind": "answer"}}]}


def test_summary_card_has_facts_record_button_and_copy_as_text():
    card = adaptive_card(SUMMARY, STRINGS)
    facts = next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
    assert facts == [{"title": "Case reference", "value": "REF-42"}, {"title": "Decision", "value": "Share"}]
    record, copy = card_actions(card)
    assert record["title"] == "Record this"
    assert record["data"]["choice"] == "record"
    assert copy["type"] == "Action.ShowCard"
    assert copy["title"] == "Copy as text"
    assert copy["card"]["body"][0]["text"] == "\n\n".join(plain_text(SUMMARY, STRINGS).splitlines())
    assert plain_text(SUMMARY, STRINGS).splitlines() == [
        "Decision summary", "You decided to share with consent.", "Case reference: REF-42", "Decision: Share",
        "Sources: Information sharing advice (2024) (rule 3)"]


def action_sets(card: dict) -> list[list[dict]]:
    return [e["actions"] for e in card["body"] if e["type"] == "ActionSet"] + [card.get("actions", [])]


def test_the_six_option_walkthrough_step_fits_teams_and_shows_every_option_in_full():
    """The walkthrough's "purpose" step offers 6 long options; with Back / Why / Cancel that is 9 buttons,
    over Teams' 6 a set, and titles Teams would cut off. It becomes a radio list (each option in full,
    wrapped) with one Continue button, and the navigation as a separate, secondary set."""
    assert TEAMS_HOST_CONFIG["actions"]["maxActions"] == MAX_ACTIONS == 6
    node = next(tree for tree in CONTENT.trees.values()).nodes["purpose"]
    labels = [option.label for option in node.options]
    assert len(labels) == 6
    step = Reply(node.prompt, kind=ReplyKind.STEP, title="Step 2 of 9",
                 choices=[Choice(option.label, option.value) for option in node.options], actions=NAVIGATION)
    card = adaptive_card(step, STRINGS, origin="19:channel;messageid=1")
    validate_card(card)
    assert all(len(actions) <= MAX_ACTIONS for actions in action_sets(card))
    radio = next(e for e in card["body"] if e["type"] == "Input.ChoiceSet")
    assert radio["style"] == "expanded"
    assert radio["wrap"] is True
    assert radio["isRequired"] is True
    assert [title for title, _ in choice_presses(card)] == labels
    assert [value["choice"] for _, value in choice_presses(card)] == [o.value for o in node.options]
    assert all(value["conversation"] == "19:channel;messageid=1" for _, value in choice_presses(card))
    assert navigation_presses(card) == [
        ("Back", {"text": "back", "kind": "step", "conversation": "19:channel;messageid=1"}),
        ("Why?", {"text": "why", "kind": "step", "conversation": "19:channel;messageid=1"}),
        ("Cancel", {"text": "cancel", "kind": "step", "conversation": "19:channel;messageid=1"})]
    navigation_set = card["body"][-1]
    assert navigation_set["separator"] is True
    assert all(a["style"] == "default" for a in navigation_set["actions"])
    assert card_bytes(card) <= MAX_CARD_BYTES


def test_short_answers_are_one_row_of_buttons_followed_by_the_secondary_navigation():
    step = Reply("Is there a risk of harm?", kind=ReplyKind.STEP, title="Step 1 of 5",
                 choices=[Choice("Yes", "yes"), Choice("No", "no")], actions=NAVIGATION)
    card = adaptive_card(step, STRINGS)
    validate_card(card)
    answers, navigation = [e for e in card["body"] if e["type"] == "ActionSet"]
    assert [a["title"] for a in answers["actions"]] == ["Yes", "No"]
    assert "associatedInputs" not in answers["actions"][0]
    assert [a["title"] for a in navigation["actions"]] == ["Back", "Why?", "Cancel"]
    assert all(a["associatedInputs"] == "none" and a["style"] == "default" for a in navigation["actions"])
    assert card["body"][-1] is navigation


def test_an_oversized_reply_is_shortened_to_fit_one_teams_message_and_keeps_every_option():
    """A reply far beyond what content produces today (the review's stress case): the card stays under
    Teams' size limit and six buttons a set, says it was shortened, and every option can still be picked."""
    huge = Reply("A long paragraph of guidance. " * 1500, kind=ReplyKind.ANSWER, title="Everything",
                 choices=[Choice(f"Option {n} with a long explanatory title for the button", f"opt{n}")
                          for n in range(30)],
                 fields=[CardField(f"Field {n}", "value " * 200) for n in range(25)],
                 sources=[Source(f"Source {n}", f"section {n}") for n in range(15)],
                 links=[Link(f"Link {n}", f"https://example.org/{n}") for n in range(8)], actions=NAVIGATION)
    card = adaptive_card(huge, STRINGS)
    validate_card(card)
    assert card_bytes(card) <= MAX_CARD_BYTES
    assert all(len(actions) <= MAX_ACTIONS for actions in action_sets(card))
    assert STRINGS.get("teams.shortened") in card_text(card)
    assert len(choice_presses(card)) == 30
    assert len([a for a in card_actions(card) if a["type"] == "Action.OpenUrl"]) == 8
    small = adaptive_card(Reply("Short.", kind=ReplyKind.ANSWER), STRINGS)
    assert STRINGS.get("teams.shortened") not in card_text(small)


def test_a_step_answered_in_words_has_a_text_box_and_send_then_the_navigation():
    step = Reply("What is the case reference?", kind=ReplyKind.STEP, title="Step 1 of 7", actions=NAVIGATION)
    card = adaptive_card(step, STRINGS, origin="19:channel;messageid=1")
    validate_card(card)
    box = next(e for e in card["body"] if e["type"] == "Input.Text")
    assert box["id"] == "text"
    assert box["isRequired"] is True
    assert typed_submit(card, "REF-1") == {"kind": "step", "conversation": "19:channel;messageid=1", "text": "REF-1"}
    send, navigation = [e for e in card["body"] if e["type"] == "ActionSet"]
    assert [a["title"] for a in send["actions"]] == [STRINGS.get("teams.send")]
    assert [a["title"] for a in navigation["actions"]] == ["Back", "Why?", "Cancel"]
    assert typed_submit(adaptive_card(Reply("Noted.", kind=ReplyKind.ANSWER), STRINGS), "x") is None
