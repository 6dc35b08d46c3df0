"""The review's walkthrough scenarios (legal.md section 3, (a) to (i), and findings 1.4 and 1.20) as data:
tests/data/walkthrough/*.yaml, each played through the assistant as a practitioner would, with the outcome,
the reasons that must appear (and wording that must not), the number of answers, progress on every step,
and the stored record (with the content version it was made with)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.messages import ReplyKind
from bot.storage.tables import decision_records
from tests.conftest import turn
from tests.test_walkthrough import check_step, check_summary, load_transcript, step_turn

SCENARIOS = sorted((Path(__file__).parent / "data" / "walkthrough").glob("*.yaml"))
PROGRESS = re.compile(r"Step (\d+) of about (\d+)")


def test_every_review_scenario_has_a_transcript():
    letters = {path.stem[0] for path in SCENARIOS}
    assert set("abcdefghi") <= letters


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
async def test_review_scenario(assistant, path):
    transcript = load_transcript(path)
    user = f"local:{path.stem}"
    summary, answers = None, 0
    for number, step in enumerate(transcript["steps"], 1):
        replies = await assistant.handle(step_turn(step, user))
        answers += step.get("text") != "decide"
        where = f"{transcript['name']} step {number}"
        check_step(step, [r.text for r in replies], where)
        assert all(r.private for r in replies if r.kind is not ReplyKind.NOTICE), where
        for reply in (r for r in replies if r.kind is ReplyKind.STEP):
            progress = PROGRESS.fullmatch(reply.title or "")
            assert progress, reply.title
            assert int(progress[1]) == answers + 1, reply.title
            assert int(progress[2]) >= answers + 1, reply.title
        summary = next((r.summary for r in replies if r.summary), None)
    check_summary(transcript, summary, transcript["name"])
    assert answers <= transcript.get("max_answers", 20), f"{transcript['name']}: {answers} answers"
    replies = await assistant.handle(turn(choice="record_decision", user=user, conversation=user,
                                          display_name="Sam Carter"))
    assert "Recorded as decision record #" in replies[-1].text
    async with assistant.engine.connect() as conn:
        row = (await conn.execute(select(decision_records).where(decision_records.c.user_id == user))).one()
    assert row.decision == transcript["decision"]
    assert row.summary["content_version"] == assistant.content.version
    assert row.summary["reasons"] == summary["reasons"]
