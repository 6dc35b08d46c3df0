"""Slack as its users see it (issue 15): escaping, modals, summaries, DMs, mentions and reminders,
each driven by signed requests against the fake Web API."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import func, select

from adapters.slack import SLACK
from adapters.slack.blocks import COPY_ACTION, TEXT_INPUT_ACTION
from bot.storage.tables import decision_records
from bot.storage.tables import reminder_subscriptions as subscriptions
from tests.fake_slack import unescaped
from tests.slack_harness import action_body, command_body, dm_event, mention_event
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


async def test_another_apps_mention_is_not_answered(tmp_path):
    async with running_slack(tmp_path) as slack:
        for extra in ({"bot_id": "BOTHER"}, {"subtype": "bot_message", "bot_id": "BOTHER"}):
            await slack.client.event({**mention_event("help", channel="C77", user="UOTHERBOT"), **extra})
        await slack.idle()
        assert slack.posts() == []
        assert not slack.fake.of("chat.postEphemeral", "response_url")
        await slack.client.event(mention_event("help", channel="C77"))  # a person still gets an answer
        await slack.idle()
        assert slack.posts("C77")


async def test_isa_remind_is_refused_in_a_channel_the_bot_is_not_in(tmp_path):
    async with running_slack(tmp_path) as slack:
        slack.fake.not_member.add("C55")
        await slack.client.send(command_body(slack.fake, "isa remind weekly mon 09:00", channel="C55"))
        await slack.idle()
        (refusal,) = slack.fake.of("response_url")
        assert "I'm not in this channel" in refusal.text()
        assert "/invite @infoshare" in refusal.text()
        assert [c.args["channel"] for c in slack.fake.of("conversations.info")] == ["C55"]
        async with slack.assistant.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(subscriptions))).scalar() == 0
        await slack.client.send(command_body(slack.fake, "isa remind weekly mon 09:00", channel="C56"))
        await slack.idle()
        accepted = slack.fake.of("response_url")[-1]
        assert "I'm not in this channel" not in accepted.text()
        async with slack.assistant.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(subscriptions))).scalar() == 1


async def test_type_your_answer_modal_shows_the_steps_question(tmp_path):
    """A channel walkthrough's free-text step is ephemeral, so Slack sends the press without the message:
    the modal still shows that step's question, taken from the button."""
    async with running_slack(tmp_path) as slack:
        await slack.client.send(command_body(slack.fake, "decide", channel="C9"))
        await slack.idle()
        for _ in range(10):
            step = slack.fake.of("response_url")[-1]
            typing = [b for b in step.buttons() if b["action_id"] == TEXT_INPUT_ACTION]
            if typing:
                break
            choice = next(b for b in step.buttons() if b["action_id"].startswith("choice_"))
            await slack.client.send(action_body(slack.fake, step, choice))
            await slack.idle()
        else:
            raise AssertionError("no free-text step")
        await slack.client.send(action_body(slack.fake, step, typing[0]))
        await slack.idle()
        (modal,) = slack.fake.of("views.open")
        view = modal.args["view"]
        view = json.loads(view) if isinstance(view, str) else view
        question = next(b["text"]["text"] for b in step.blocks if b["type"] == "section")
        shown = "\n".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
        assert question in shown
        assert view["blocks"][-1]["type"] == "input"
        assert "case reference" not in view["blocks"][-1]["label"]["text"]  # one label fits every step


NAVIGATION = {"back", "why", "cancel"}
TYPED = ("REF-123", "School attendance record and the concerns raised by the class teacher",
         "The duty social worker at the children's services front door", "Duty social worker")


async def test_a_dm_walkthrough_stays_in_the_dm_and_ends_in_one_copyable_summary(tmp_path):
    """`decide` typed in the main DM, answered there (buttons and typed answers), to a recorded summary:
    nothing jumps into a thread; the summary says each field once; "Record this" keeps "Copy as text",
    which gives the summary as one plain code block. With SLACK_EVIDENCE_DIR set, every payload the
    fake received is written there, with the number of answers it took."""
    async with running_slack(tmp_path) as slack:
        await _say(slack, "decide")
        answers, typed, card = 0, 0, None
        for _ in range(40):
            message = [c for c in slack.fake.of("chat.postMessage", "chat.update")
                       if c.args.get("channel") == "DU1"][-1]
            message.result.setdefault("ts", message.args.get("ts"))
            buttons = message.buttons()
            if any(b["action_id"] == COPY_ACTION for b in buttons):
                card = message
                break
            choices = [b for b in buttons if b["action_id"].startswith("choice_") and b.get("value") not in NAVIGATION]
            if choices:  # the safeguarding path (not the emergency one), else the first answer offered
                pick = next((b for b in choices if b.get("value") == "safeguard"), choices[0])
                await slack.client.send(action_body(slack.fake, message, pick))
                await slack.idle()
            else:
                await _say(slack, TYPED[min(typed, len(TYPED) - 1)])
                typed += 1
            answers += 1
        assert card is not None, "no summary"
        assert not [b for b in card.blocks if b["type"] == "section" and "fields" in b]  # shown once
        assert card.text().count("Case reference: REF-123") == 2  # once in the blocks, once in the fallback
        assert [c.args["user"] for c in slack.fake.of("users.info")] == ["U1"]  # the decider's name, once
        record = next(b for b in card.buttons() if b["action_id"].startswith("choice_"))
        await slack.client.send(action_body(slack.fake, card, record))
        await slack.idle()
        answers += 1
        retired = slack.fake.of("chat.update")[-1]
        copy = next(b for b in retired.buttons() if b["action_id"] == COPY_ACTION)
        retired.result.setdefault("ts", retired.args["ts"])
        await slack.client.send(action_body(slack.fake, retired, copy))
        await slack.idle()
        copied = slack.fake.of("response_url")[-1]
        (code,) = [b["text"]["text"] for b in copied.blocks]
        assert code.startswith("```") and code.endswith("```")
        assert "*" not in code
        assert code.count("Case reference: REF-123") == 1
        assert all(not c.args.get("thread_ts") for c in slack.fake.of("chat.postMessage"))
        updated_ids = [b["block_id"] for c in slack.fake.of("chat.update") for b in c.blocks if b["type"] == "actions"]
        assert len(updated_ids) == len(set(updated_ids))  # Slack: an updated message gets new block_ids
        async with slack.assistant.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(decision_records))).scalar() == 1
        if evidence := os.environ.get("SLACK_EVIDENCE_DIR"):
            _write_evidence(Path(evidence), slack, answers)


def _write_evidence(folder: Path, slack, answers: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    calls = [c for c in slack.fake.calls if c.method != "auth.test"]
    for n, call in enumerate(calls, 1):
        args = {k: json.loads(v) if k in {"blocks", "view"} and isinstance(v, str) else v
                for k, v in call.args.items() if k != "token"}
        (folder / f"{n:03d}_{call.method}.json").write_text(json.dumps(args, indent=2, ensure_ascii=False) + "\n")
    (folder / "README.md").write_text(
        "# A Slack walkthrough, `decide` to a recorded summary, as Slack received it\n\n"
        "Written by `SLACK_EVIDENCE_DIR=docs/evidence/slack-walkthrough .venv/bin/python -m pytest -q "
        "tests/test_slack_fidelity.py -k dm_walkthrough` (the fake Slack Web API on 127.0.0.1).\n\n"
        f"- {answers} answers (button presses and typed replies, counting \"Record this\"), then \"Copy as text\".\n"
        f"- {len(calls)} Web API calls, every one valid for slack_sdk's Block Kit models and Slack's limits.\n")


async def test_the_users_name_is_looked_up_once_and_a_failed_look_up_never_fails_the_turn(tmp_path):
    async with running_slack(tmp_path) as slack:
        await _say(slack, "hello")
        await _say(slack, "what are the seven golden rules?")
        assert [c.args["user"] for c in slack.fake.of("users.info")] == ["U1"]  # cached per user
        listeners = slack.app[SLACK]
        assert await listeners.people.name(listeners.api, "T1", "U1") == "Alex Morgan"
        slack.fake.fail("users.info", error="fatal_error", times=5)
        before = len(slack.posts("DU2"))
        await slack.client.event(dm_event("hello", user="U2"))
        await slack.idle()
        assert len(slack.posts("DU2")) > before  # answered anyway, without a name


async def test_one_message_delivered_as_two_events_is_answered_once_and_a_file_share_is_a_question(tmp_path):
    async with running_slack(tmp_path) as slack:
        message = dm_event("what are the seven golden rules?")
        await slack.client.event(message)
        await slack.client.event({**message, "type": "app_mention"})  # the same channel and ts
        await slack.idle()
        answers = [p for p in slack.posts("DU1") if "golden rules" in p.text().lower()]
        assert len(answers) == 1
        before = len(slack.posts("DU1"))
        await slack.client.event({**dm_event("do I need consent to refer to children's social care?"),
                                  "subtype": "file_share", "files": [{"id": "F1", "name": "referral.pdf"}]})
        await slack.idle()
        assert any("consent" in p.text().lower() for p in slack.posts("DU1")[before:])
