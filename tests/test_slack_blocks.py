"""Block Kit rendering: whatever a reply holds, Slack accepts every message we build from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack.blocks import BlockRenderer, mrkdwn, parse_block_id, split_text
from bot.content import load_content
from bot.messages import CardField, Choice, Link, Reply, ReplyKind, Source
from tests.fake_slack import sdk_problems, validate_blocks

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture(scope="module")
def renderer() -> BlockRenderer:
    return BlockRenderer(load_content(CONTENT).strings)


def _all_text(messages) -> str:
    return "".join(b["text"]["text"] for m in messages for b in m.blocks
                   if b["type"] == "section" and "text" in b)


def test_long_answer_is_split_not_rejected(renderer):
    paragraph = "Share what is necessary and proportionate, with the right people, securely. " * 40
    text = "\n\n".join([paragraph] * 60)  # about 180,000 characters
    messages = renderer.render(Reply(text, kind=ReplyKind.ANSWER, title="T", sources=[Source("Guide", "p1")],
                                     choices=[Choice("Walk me through this decision", "decide")]), "D1")
    assert len(messages) > 1
    for message in messages:
        assert validate_blocks(message.blocks, 50) == []
        assert len(message.text) <= 3000
    assert _all_text(messages).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
    assert messages[-1].blocks[-1]["type"] == "actions"  # buttons come after the whole answer


def test_answer_has_header_sections_sources_and_walkthrough_button(renderer):
    reply = Reply("You **do not** need consent <always>.", kind=ReplyKind.ANSWER, title="Consent",
                  sources=[Source("Working Together", "Referrals")], choices=[Choice("Walk me through", "decide")],
                  links=[Link("Guidance", "https://example.org/g")])
    (message,) = renderer.render(reply, "C1")
    kinds = [b["type"] for b in message.blocks]
    assert kinds == ["header", "section", "section", "context", "actions"]
    assert message.blocks[1]["text"]["text"] == "You *do not* need consent &lt;always&gt;."
    assert "Working Together" in message.blocks[3]["elements"][0]["text"]
    button = message.blocks[4]["elements"][0]
    assert button["value"] == "decide"
    assert button["action_id"] == "choice_0"
    assert parse_block_id(message.blocks[4]["block_id"]) == ("answer", "C1")


def test_summary_card_offers_record_and_copy(renderer):
    reply = Reply("Decision", kind=ReplyKind.SUMMARY, fields=[CardField(f"F{i}", "v" * 2500) for i in range(23)],
                  choices=[Choice("Record this", "record_decision"), Choice("Edit", "edit_decision")])
    (message,) = renderer.render(reply, "C1")
    assert validate_blocks(message.blocks, 50) == []
    buttons = message.blocks[-1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Record this", "Edit", "Copy as text"]
    assert [b["value"] for b in buttons][:2] == ["record_decision", "edit_decision"]


def test_free_text_step_outside_the_dm_gets_an_answer_button(renderer):
    step = Reply("What is the case reference?", kind=ReplyKind.STEP)
    (in_dm,) = renderer.render(step, "D1", can_type_reply=True)
    (in_channel,) = renderer.render(step, "C1", can_type_reply=False)
    assert not any(b["type"] == "actions" for b in in_dm.blocks)
    assert in_channel.blocks[-1]["elements"][0]["action_id"] == "text_input"


def test_split_text_respects_limit_and_keeps_words():
    text = "word " * 2000
    chunks = split_text(text, 100)
    assert all(len(c) <= 100 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    assert split_text("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]


def test_mrkdwn_escapes_control_characters():
    assert mrkdwn("a & b < c > d **bold**") == "a &amp; b &lt; c &gt; d *bold*"


_text = st.text(min_size=0, max_size=5000)
_label = st.text(min_size=1, max_size=300)


@settings(max_examples=40, deadline=None)
@given(text=_text, title=st.none() | _label, kind=st.sampled_from(list(ReplyKind)),
       choices=st.lists(st.builds(Choice, _label, st.text(max_size=3000)), max_size=30),
       actions=st.lists(st.builds(Choice, _label, st.text(max_size=3000)), max_size=4),
       fields=st.lists(st.builds(CardField, _label, _text), max_size=25),
       sources=st.lists(st.builds(Source, _label, _label), max_size=15),
       conversation=st.text(alphabet="CDU0123456789", min_size=1, max_size=300))
def test_any_reply_renders_within_slack_limits(renderer, text, title, kind, choices, actions, fields, sources,
                                               conversation):
    reply = Reply(text, kind=kind, title=title, choices=choices, actions=actions, fields=fields, sources=sources)
    for can_type in (True, False):
        for message in renderer.render(reply, conversation, can_type_reply=can_type):
            assert validate_blocks(message.blocks, 50) == [], message.blocks
            assert sdk_problems(message.blocks) == [], message.blocks
            assert message.text
            assert len(message.text) <= 40000
    assert validate_blocks(renderer.render_view_blocks([reply] * 3, conversation), 100) == []


def test_navigation_buttons_follow_the_answers_in_the_secondary_style(renderer):
    step = Reply("Is it an emergency?", kind=ReplyKind.STEP, choices=[Choice("Yes", "yes"), Choice("No", "no")],
                 actions=[Choice("Back", "back"), Choice("Why?", "why"), Choice("Cancel", "cancel")])
    (message,) = renderer.render(step, "C1", can_type_reply=False)
    buttons = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [(b["text"]["text"], b["value"]) for b in buttons] == [
        ("Yes", "yes"), ("No", "no"), ("Back", "back"), ("Why?", "why"), ("Cancel", "cancel")]
    assert all("style" not in b for b in buttons)
    assert validate_blocks(message.blocks, 50) == []
    typed = Reply("What is the case reference?", kind=ReplyKind.STEP, actions=[Choice("Cancel", "cancel")])
    (in_channel,) = renderer.render(typed, "C1", can_type_reply=False)
    elements = in_channel.blocks[-1]["elements"]
    assert [e["action_id"] for e in elements] == ["choice_0", "text_input"]
    assert elements[1]["value"] == "What is the case reference?"  # the modal's question travels with it
