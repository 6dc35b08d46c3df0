"""The decision walkthrough as a practitioner meets it: golden conversations (tests/transcripts/*.yaml)
through the assistant and through ``python -m bot chat --json``, resuming after a restart or kill -9,
expiry, questions mid-way, and the record that results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import func, select

from bot.config import PROJECT_ROOT
from bot.messages import ReplyKind
from bot.storage.tables import conversation_state, decision_records
from tests.conftest import turn

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.yaml"))


def load_transcript(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def step_turn(step: dict, user: str):
    return turn(step.get("text", ""), choice=step.get("choice"), user=user, conversation=user)


def check_step(step: dict, texts: list[str], where: str) -> None:
    joined = "\n".join(texts).lower()
    for fragment in step.get("expect", []):
        assert fragment.lower() in joined, f"{where}: expected {fragment!r} in:\n{joined}"


def check_summary(transcript: dict, summary: dict | None, where: str) -> None:
    """The decision, the summary fields, the reasons and next steps that must (and must not) appear."""
    assert summary is not None, f"{where}: no summary at the end"
    assert summary["decision"] == transcript["decision"], where
    for field, fragment in transcript.get("summary", {}).items():
        assert fragment.lower() in str(summary[field]).lower(), f"{where}: {field}={summary[field]!r}"
    assert summary["reasons"]
    assert summary["content_version"]
    for key, field in (("reasons", "reasons"), ("next_steps", "next_steps")):
        joined = " ".join(summary[field]).lower()
        for fragment in transcript.get(key, []):
            assert fragment.lower() in joined, f"{where}: {fragment!r} not in {field}: {summary[field]}"
    if "headline" in transcript:
        assert transcript["headline"].lower() in summary["outcome_headline"].lower(), summary["outcome_headline"]
    everything = json.dumps(summary).lower()
    for fragment in transcript.get("absent", []):
        assert fragment.lower() not in everything, f"{where}: {fragment!r} must not appear in the record"


async def play(assistant, transcript: dict, user: str) -> dict:
    """Play a transcript; return the summary it ends with (after checking every expectation)."""
    summary = None
    for number, step in enumerate(transcript["steps"], 1):
        replies = await assistant.handle(step_turn(step, user))
        check_step(step, [r.text for r in replies], f"{transcript['name']} step {number}")
        steps_and_summaries = [r for r in replies if r.kind is not ReplyKind.NOTICE]
        assert all(r.private for r in steps_and_summaries), f"step {number}: a walkthrough reply is not private"
        summary = next((r.summary for r in replies if r.summary), None)
    check_summary(transcript, summary, transcript["name"])
    return summary


async def test_golden_conversations_end_in_the_right_recorded_decision(assistant):
    for path in TRANSCRIPTS:
        transcript = load_transcript(path)
        user = f"local:{path.stem}"
        await play(assistant, transcript, user)
        asked = await assistant.handle(turn(choice="record_decision", user=user, conversation=user))
        assert "what name should the record show" in asked[-1].text, path.stem  # a local user: asked once
        replies = await assistant.handle(turn("Sam Carter, DSL", user=user, conversation=user))
        assert "Recorded as decision record #" in replies[-1].text, path.stem
        assert replies[-1].private, path.stem
        assert not any("identifying details" in r.text for r in replies), "no privacy warning for their own name"
        async with assistant.engine.connect() as conn:
            rows = (await conn.execute(select(decision_records).where(decision_records.c.user_id == user))).all()
        assert len(rows) == 1, path.stem
        assert rows[0].decision == transcript["decision"], path.stem
        assert rows[0].summary["reasons"]
        assert rows[0].summary["decided_by_name"] == "Sam Carter, DSL"


def _env(db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SLACK_", "Microsoft"))}
    env.update(DATABASE_URL=f"sqlite:///{db_path}", SCHEDULER_ENABLED="false", PYTHONPATH=str(PROJECT_ROOT))
    return env


def _line(step: dict) -> str:
    return json.dumps({"choice": step["choice"]} if "choice" in step else {"text": step["text"]})


def test_every_golden_conversation_through_the_json_chat(tmp_path):
    """All transcripts, one after another, through one ``chat --json`` process (the fixed contract)."""
    lines, plan = [], []
    for path in TRANSCRIPTS:
        transcript = load_transcript(path)
        for step in transcript["steps"]:
            lines.append(_line(step))
            plan.append((transcript, step))
        lines.append(json.dumps({"choice": "record_decision"}))
        if path == TRANSCRIPTS[0]:  # asked once for the name the records show; remembered after
            plan.append((transcript, {"expect": ["what name should the record show"]}))
            lines.append(json.dumps({"text": "Sam Carter, DSL"}))
        plan.append((transcript, {"expect": ["Recorded as decision record #"]}))
    result = subprocess.run([sys.executable, "-m", "bot", "chat", "--json", "--user", "golden"],
                            input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120,
                            cwd=PROJECT_ROOT, env=_env(tmp_path / "chat.db"))
    assert result.returncode == 0, result.stderr
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(outputs) == len(plan)
    summary = None
    for (transcript, step), out in zip(plan, outputs, strict=True):
        assert "error" not in out, out
        for reply in out["replies"]:
            assert set(reply) >= {"text", "choices", "summary"}
        check_step(step, [r["text"] for r in out["replies"]], transcript["name"])
        summary = next((r["summary"] for r in out["replies"] if r["summary"]), summary)
        if step.get("expect") == ["Recorded as decision record #"]:
            check_summary(transcript, summary, transcript["name"])
            assert out["done"] is True
            summary = None
            assert not any("what name" in r["text"] for r in out["replies"])
        else:
            assert out["done"] is False, (transcript["name"], out)


class ChatProcess:
    """``python -m bot chat --json`` driven one line at a time."""

    def __init__(self, db_path: Path, user: str):
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "chat", "--json", "--user", user],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, cwd=PROJECT_ROOT, env=_env(db_path))

    def send(self, step: dict) -> dict:
        self.process.stdin.write(_line(step) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "chat process ended"
        return json.loads(line)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def test_kill_9_mid_walkthrough_resumes_and_a_confirmed_record_survives(tmp_path):
    transcript = load_transcript(Path(__file__).parent / "transcripts" / "health_information.yaml")
    steps = transcript["steps"]
    db_path = tmp_path / "kill.db"
    first = ChatProcess(db_path, "survivor")
    try:
        for step in steps[:6]:
            first.send(step)
    finally:
        first.kill()
    second = ChatProcess(db_path, "survivor")
    try:
        resumed = second.send(steps[6])  # the next answer lands exactly where the user was
        assert "special category" in resumed["replies"][-1]["text"]
        for step in steps[7:]:
            out = second.send(step)
        assert out["replies"][-1]["summary"]["decision"] == "share"
        second.send({"choice": "record_decision"})
        confirmed = second.send({"text": "Sam Carter"})
        assert "Recorded as decision record #1" in confirmed["replies"][-1]["text"]
        assert confirmed["done"]
    finally:
        second.kill()
    engine = create_sync_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(decision_records)).all()
            assert conn.execute(select(func.count()).select_from(conversation_state)).scalar() == 0
    finally:
        engine.dispose()
    assert len(rows) == 1
    assert rows[0].user_id == "local:survivor"
    assert rows[0].reference == "HL-6006"
    assert "paragraph 18" in rows[0].summary["article9_condition"]


async def test_resumes_after_the_assistant_is_rebuilt_on_the_same_database(settings):
    from app import build_assistant

    transcript = load_transcript(Path(__file__).parent / "transcripts" / "harm_parent_not_told.yaml")
    before = await build_assistant(settings)
    try:
        for step in transcript["steps"][:5]:
            await before.handle(step_turn(step, "local:resume"))
    finally:
        await before.engine.dispose()
    after = await build_assistant(settings)
    try:
        replies = await after.handle(turn("back", user="local:resume", conversation="local:resume"))
        assert replies[-1].text.startswith("Which best describes your organisation")
        for step in transcript["steps"][4:]:
            replies = await after.handle(step_turn(step, "local:resume"))
        assert replies[-1].summary["decision"] == "share"
    finally:
        await after.engine.dispose()


async def test_each_conversation_has_its_own_walkthrough(assistant):
    await assistant.handle(turn("decide", user="local:a", conversation="local:a"))
    await assistant.handle(turn("decide", user="local:a", conversation="local:a-other"))
    one = await assistant.handle(turn("CR-1", user="local:a", conversation="local:a"))
    assert one[-1].text.startswith("Why do you want to share")
    other = await assistant.handle(turn("why", user="local:a", conversation="local:a-other"))
    assert "case reference" in other[0].text.lower()


async def test_a_question_mid_way_is_answered_then_the_step_repeats(assistant):
    for text in ("decide", "CR-8", "safeguard", "adult"):
        await assistant.handle(turn(text) if text in ("decide", "CR-8") else turn(choice=text))
    replies = await assistant.handle(turn("do I need consent to share?"))
    assert len(replies) >= 2
    assert all(r.private for r in replies)
    assert replies[-1].text.startswith("Which best describes your organisation")
    assert not any(c.value == "decide" for r in replies for c in r.choices)
    replies = await assistant.handle(turn("a council"))
    assert replies[-1].text.startswith("Who will you tell")


async def test_a_stale_walkthrough_expires_with_a_friendly_note(assistant):
    await assistant.handle(turn("decide"))
    await assistant.handle(turn("CR-9"))
    later = assistant.clock() + timedelta(minutes=assistant.settings.walkthrough_expiry_minutes + 1)
    assistant.clock = lambda: later
    replies = await assistant.handle(turn("safeguard"))
    assert "nothing was recorded" in replies[0].text.lower()
    assert "decide" in replies[0].text
    replies = await assistant.handle(turn("decide"))
    assert "case reference" in replies[-1].text.lower()


async def test_cancel_ends_without_a_record_and_a_stale_button_is_explained(assistant):
    for text in ("decide", "CR-10", "no_purpose", "address", "a neighbour"):
        await assistant.handle(turn(text))
    replies = await assistant.handle(turn("cancel"))
    assert "Nothing was recorded" in replies[-1].text
    replies = await assistant.handle(turn(choice="record_decision"))
    assert "already ended" in replies[-1].text
    assert replies[-1].private
    async with assistant.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(decision_records))).scalar() == 0


async def test_a_retried_confirm_does_not_store_twice(assistant):
    for text in ("decide", "CR-11", "no_purpose", "address", "a neighbour"):
        await assistant.handle(turn(text))
    runner = assistant.dialogs
    state = await runner.load("local:tester", "local:tester")
    from bot.context import TurnContext
    from bot.privacy import scan

    ctx = TurnContext(turn(choice="record_decision", display_name="Sam Carter"), scan(""), assistant)
    [confirmed] = runner.dialogs["walkthrough"].step(state, runner.inbound(ctx)).effects
    first = await runner.completions["walkthrough"](confirmed.outcome, ctx)  # stored, then "the server died"
    replies = await assistant.handle(turn(choice="record_decision", display_name="Sam Carter"))  # pressed again
    assert "#1" in first[0].text
    assert "already recorded as decision record #1" in replies[-1].text
    async with assistant.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(decision_records))).scalar() == 1


async def test_names_are_refused_as_a_case_reference(assistant):
    await assistant.handle(turn("decide"))
    replies = await assistant.handle(turn("Jane Smith"))
    assert "case reference" in replies[0].text
    assert replies[-1].text.startswith("What is the case reference")
    replies = await assistant.handle(turn("jane.smith@example.org"))
    assert any("email address" in r.text for r in replies)
    async with assistant.engine.connect() as conn:
        stored = (await conn.execute(select(conversation_state.c.state))).scalar_one()
    assert stored["answers"] == []
    assert "jane" not in json.dumps(stored).lower()


async def test_expiry_setting_is_honoured(tmp_path):
    from app import build_assistant
    from tests.conftest import make_settings

    built = await build_assistant(replace(make_settings(tmp_path), walkthrough_expiry_minutes=5))
    try:
        await built.handle(turn("decide"))
        now = built.clock()
        built.clock = lambda: now + timedelta(minutes=4)
        assert (await built.handle(turn("CR-12")))[-1].text.startswith("Why do you want")
        built.clock = lambda: now + timedelta(minutes=10)
        assert "nothing was recorded" in (await built.handle(turn("safeguard")))[0].text.lower()
    finally:
        await built.engine.dispose()


async def test_decide_with_a_case_reference_skips_that_step_and_decide_again_restarts(assistant):
    replies = await assistant.handle(turn("decide CR-77"))
    assert replies[-1].text.startswith("Why do you want to share")
    await assistant.handle(turn(choice="safeguard"))
    offered = await assistant.handle(turn("decide"))  # answers would be lost: carry on, or start again?
    assert "already have a walkthrough in progress" in offered[-1].text
    assert [c.value for c in offered[-1].choices] == ["resume", "restart"]
    carried = await assistant.handle(turn(choice="resume"))
    assert carried[-1].title.startswith("Step 3")
    assert carried[-1].choices
    await assistant.handle(turn("decide"))
    replies = await assistant.handle(turn(choice="restart"))
    assert "Starting again" in replies[0].text
    assert "case reference" in replies[-1].text
    replies = await assistant.handle(turn("decide Jane Smith", user="local:other", conversation="local:other"))
    assert "What is the case reference" in replies[-1].text


async def test_walkthrough_state_and_record_on_both_databases(tmp_path, db_url):
    from app import build_assistant
    from tests.conftest import make_settings

    built = await build_assistant(make_settings(tmp_path, database_url=db_url))
    try:
        transcript = load_transcript(Path(__file__).parent / "transcripts" / "no_legitimate_purpose.yaml")
        await play(built, transcript, "local:db")
        replies = await built.handle(turn(choice="record_decision", user="local:db", conversation="local:db",
                                          display_name="Sam Carter"))
        assert "Recorded as decision record #1" in replies[-1].text
        replies = await built.handle(turn("records show 1", user="local:db", conversation="local:db"))
        assert replies[-1].summary["decision"] == "do_not_share"
    finally:
        await built.engine.dispose()


async def test_a_corrupted_state_is_dropped_with_a_note_never_a_dead_end(assistant):
    await assistant.handle(turn("decide"))
    await assistant.dialogs.save("local:tester", "local:tester", {"dialog": "walkthrough", "updated_at": "x"})
    replies = await assistant.handle(turn("CR-1"))
    assert "nothing was recorded" in replies[0].text.lower()
    await assistant.dialogs.save("local:tester", "local:tester",
                                 {"dialog": "walkthrough", "updated_at": assistant.clock().isoformat()})
    replies = await assistant.handle(turn("CR-1"))  # answers missing: the walkthrough starts afresh
    assert replies[-1].text.startswith("What is the case reference")
    assert (await assistant.dialogs.load("local:tester", "local:tester"))["answers"] == []


async def test_a_pending_walkthrough_is_shown_again_to_a_returning_user(assistant):
    assert await assistant.pending(turn()) == []
    for text in ("decide", "CR-5"):
        await assistant.handle(turn(text))
    shown = await assistant.pending(turn())
    assert "walkthrough in progress" in shown[0].text
    assert shown[-1].title.startswith("Step 2 of about")
    assert shown[-1].text.startswith("Why do you want to share")
    assert [a.value for a in shown[-1].actions] == ["back", "why", "cancel"]
    assert all(r.private for r in shown)
    assert await assistant.pending(turn(user="local:other", conversation="local:other")) == []
