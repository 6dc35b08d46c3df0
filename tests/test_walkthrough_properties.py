"""Random walks through the real walkthrough, driven through the core turn handler (what every channel and
``python -m bot chat --json`` call), never break the tree's safety invariants as a practitioner sees them:
a walk that says risk or emergency ends in share or share partially (or "none of it is needed"), an emergency
shows the act-now step in the very next reply, consent is never offered once there is a risk, every step
shows its progress, and every walk reaches a summary within 20 answers."""

from __future__ import annotations

import asyncio
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.messages import ReplyKind
from tests.conftest import make_settings, turn

WALKS = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))
# Answers that establish a risk of significant harm or an emergency (values in content/trees/walkthrough.yaml).
RISK_ANSWERS = {"emergency", "safeguard", "significant_harm", "treat_as_harm", "under13_sexual", "exploitation"}
CONSENT_CHOICES = {"consent", "explicit_consent", "young_person_yes", "parent_yes", "adult_yes"}
PROGRESS = re.compile(r"Step (\d+) of about (\d+)")
MAX_ANSWERS = 20


def test_random_walks_never_break_an_invariant(tmp_path):
    from app import build_assistant

    with asyncio.Runner() as runner:
        assistant = runner.run(build_assistant(make_settings(tmp_path)))
        try:
            @WALKS
            @given(picks=st.lists(st.integers(0, 11), min_size=MAX_ANSWERS + 1, max_size=MAX_ANSWERS + 1),
                   walker=st.uuids())
            def walk(picks: list[int], walker) -> None:
                who = f"local:w{walker.hex[:12]}"
                replies = runner.run(assistant.handle(turn("decide", user=who, conversation=who)))
                risk, emergency_next = False, False
                for answers, pick in enumerate(picks):
                    summary = next((r.summary for r in replies if r.summary), None)
                    if summary is not None:
                        break
                    step = next(r for r in replies if r.kind is ReplyKind.STEP)
                    progress = PROGRESS.fullmatch(step.title or "")
                    assert progress, step.title
                    assert int(progress[1]) == answers + 1 <= int(progress[2]), step.title
                    if emergency_next:
                        assert step.text.startswith("ACT NOW"), step.text
                    offered = {c.value for c in step.choices}
                    if risk:
                        assert not offered & CONSENT_CHOICES, (step.text, offered)
                    if step.choices:
                        value = step.choices[pick % len(step.choices)].value
                        risk |= value in RISK_ANSWERS
                        emergency_next = value == "emergency"
                        move = turn(choice=value, user=who, conversation=who)
                    else:
                        emergency_next = False
                        typed = "CR-1234" if answers == 0 else "notes on the concern"
                        move = turn(typed, user=who, conversation=who)
                    replies = runner.run(assistant.handle(move))
                else:
                    summary = next((r.summary for r in replies if r.summary), None)
                assert summary is not None, f"no summary within {MAX_ANSWERS} answers"
                if risk:
                    assert summary["emergency"].startswith("Yes"), summary["emergency"]
                    honest_none = any("None of the information is necessary" in r for r in summary["reasons"])
                    assert summary["decision"] in {"share", "share_partially"} or honest_none, summary
                runner.run(assistant.handle(turn("cancel", user=who, conversation=who)))

            walk()
        finally:
            runner.run(assistant.engine.dispose())
