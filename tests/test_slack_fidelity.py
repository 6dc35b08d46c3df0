"""Slack as its users see it (issue 15): escaping, modals, summaries, DMs, mentions and reminders,
each driven by signed requests against the fake Web API."""

from __future__ import annotations

from tests.fake_slack import unescaped
from tests.slack_harness import dm_event
from tests.test_slack import running_slack


async def _say(slack, text: str, **kwargs):
    event = dm_event(text, **kwargs)
    await slack.client.event(event)
    await slack.idle()
    return event


async def test_fallback_text_is_escaped_like_the_blocks(tmp_path):
    """The `isa add` owner prompt mentions `teams:<AAD object id>` and the title typed here has & < >:
    both reach Slack's top-level `text` escaped, not as control sequences."""
    async with running_slack(tmp_path, admins=("slack:T1:U1",)) as slack:
        await _say(slack, "isa add")
        for answer in ("Police & Schools <draft> agreement", "Police; Schools", "Keeping children safe",
                       "Contact details; Concerns", "Article 6(1)(e) public task"):
            if any("Who owns the agreement" in p.text() for p in slack.posts()):
                break
            await _say(slack, answer)
        prompt = next((p for p in slack.posts() if "Who owns the agreement" in p.text()), None)
        assert prompt is not None, _dump(slack)
        assert "teams:&lt;AAD object id&gt;" in prompt.args["text"]
        assert all(unescaped(p.args["text"]) == [] for p in slack.posts())
        assert slack.fake.violations == []


def _dump(slack) -> str:
    return "\n---\n".join(f"{c.method} {c.args.get('channel')} {c.text()[:300]}" for c in slack.fake.calls)


async def test_a_mention_reads_as_the_person_named_and_the_guard_keeps_the_name_out_of_storage(tmp_path):
    """"share with <@U9> at the school" reaches the core as "share with @Sam Jones at the school" (Slack's
    users.info), so the privacy guard warns about the name; nothing stored keeps it. An unknown user is
    "@someone", never a blank."""
    async with running_slack(tmp_path) as slack:
        slack.fake.real_names["U9"] = "Sam Jones"
        await _say(slack, "can I share with <@U9> at the school about the referral?")
        await _say(slack, "should I tell <@U404> about it?")
        seen = [c.args.get("user") for c in slack.fake.of("users.info")]
        assert "U9" in seen and "U404" in seen
        assert any("contains a name" in p.text() for p in slack.posts())  # the guard's warning
        stored = await _stored_text(slack)
        assert "Sam Jones" not in stored
        assert "share with @[name] at the school" in stored
        assert "should I tell @someone about it?" in stored


async def _stored_text(slack) -> str:
    from sqlalchemy import select

    from bot.storage.tables import transcripts

    async with slack.assistant.engine.connect() as conn:
        return " | ".join(str(r.text) for r in await conn.execute(select(transcripts.c.text)))
