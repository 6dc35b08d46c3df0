"""One whole decision walkthrough in a Teams personal chat, as Teams drives it, captured for the record:
every activity posted to /api/messages and every call the bot made to the Bot Connector, from ``decide``
to "Recorded as decision record #1". Set ``TEAMS_WALKTHROUGH_CAPTURE`` to a path to keep the capture
(docs/evidence/teams-walkthrough/ holds one)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.teams.cards import MAX_ACTIONS, MAX_CARD_BYTES, card_bytes
from bot.storage.tables import decision_records
from tests.teams_harness import (
    card_actions,
    card_text,
    choice_presses,
    navigation_presses,
    serving,
    typed_submit,
    validate_card,
)

# The practitioner's answers: the option to pick where a step offers one of these, else what to type.
PICKS = ("I'm worried a child or adult is at risk of significant harm", "A council, school or academy",
         "A child under 13", "Children's social care", "Secure email", "Yes - the designated safeguarding lead")
TYPED = {"case reference": "REF-2026-0042", "role": "Class teacher, primary school"}
TYPED_DEFAULT = "Attendance_log and *welfare* notes [term 1]"  # markdown-significant: must show as typed


def pick(card: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    presses = choice_presses(card)
    if not presses:
        return None
    return next(((t, v) for t, v in presses for wanted in PICKS if t.startswith(wanted)), presses[0])


def typed_answer(card: dict[str, Any]) -> str:
    prompt = card_text(card).lower()
    return next((text for key, text in TYPED.items() if key in prompt), TYPED_DEFAULT)


@pytest.fixture
async def rig(tmp_path, monkeypatch):
    async with serving(tmp_path, monkeypatch) as rig:
        yield rig


async def test_a_whole_walkthrough_in_teams_from_decide_to_a_recorded_summary(rig, tmp_path):
    connector = rig.connector
    capture: list[dict[str, Any]] = []

    async def post(activity: dict[str, Any]) -> None:
        before = len(connector.calls)
        assert (await rig.post(activity)).status in {200, 201}
        capture.append({"posted": activity, "bot_sent": [
            {"kind": c.kind, "conversation": c.conversation_id, "activity": c.activity_id, "body": c.body}
            for c in connector.calls[before:]]})

    def latest() -> tuple[dict[str, Any], str]:
        call = next(c for c in reversed(connector.calls) if c.cards)
        return call.cards[0], call.activity_id if call.kind == "update" else f"sent-{len(connector.calls)}"

    await post(rig.message("decide"))
    answers, summary = 0, None
    for _ in range(40):
        card, card_id = latest()
        if card["body"][0]["text"] == "Decision summary":
            summary = card
            break
        chosen = pick(card)
        if chosen:
            await post(rig.message(value=chosen[1], reply_to=card_id))
        else:  # typed in the step card's text box, then Send
            await post(rig.message(value=typed_submit(card, typed_answer(card)), reply_to=card_id))
        answers += 1
    assert summary is not None, "the walkthrough never reached its summary"
    shown = card_text(summary)
    assert "REF-2026-0042" in shown
    assert r"Attendance\_log and \*welfare\* notes \[term 1\]" in shown  # escaped: Teams shows it as typed

    record = dict(choice_presses(summary))["Record this"]
    await post(rig.message(value=record, reply_to=latest()[1]))
    assert any("Recorded as decision record #1" in (c.text or "") + str(c.cards) for c in connector.calls[-3:])
    async with rig.assistant.engine.connect() as conn:
        stored = (await conn.execute(select(decision_records))).all()
    assert len(stored) == 1
    assert stored[0].summary["decided_by_name"] == "Alex Practitioner"  # from.name: the practitioner's own
    assert stored[0].summary["decided_by"] == "teams:aad-user-one"  # and the opaque id, for audit

    cards = [c for call in connector.calls for c in call.cards]
    for card in cards:
        validate_card(card)
        assert card_bytes(card) <= MAX_CARD_BYTES
        assert all(len(e["actions"]) <= MAX_ACTIONS for e in card["body"] if e["type"] == "ActionSet")
        assert "`" not in json.dumps(card)
    assert all(a["title"] for c in cards for a in card_actions(c))
    steps = [c for c in cards if c["body"][0]["text"].startswith("Step ")]
    navigation = [[value["text"] for _, value in navigation_presses(c)] for c in steps]
    assert navigation[0] == ["why", "cancel"]  # nothing to go back to on the first step
    assert all(words == ["back", "why", "cancel"] for words in navigation[1:])

    out = Path(os.environ.get("TEAMS_WALKTHROUGH_CAPTURE") or tmp_path / "teams-walkthrough.json")
    out.write_text(json.dumps({"answers_to_summary": answers, "presses_to_record": 1, "turns": capture},
                              indent=2, ensure_ascii=False))
    print(f"\n{answers} answers from decide to the summary, then Record this; capture in {out}")
