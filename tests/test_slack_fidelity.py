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
