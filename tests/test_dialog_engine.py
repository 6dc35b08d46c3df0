"""The tree engine on its own: pure steps, matching, commands, privacy, and the content check's proofs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.content import load_content
from bot.messages import ReplyKind
from bot.yamlload import ContentError
from dialogs import engine
from dialogs.base import Inbound, Status
from dialogs.tree import Decision, NodeKind, load_trees

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def content():
    return load_content(PROJECT_ROOT / "content")


@pytest.fixture(scope="module")
def tree(content):
    return content.trees["walkthrough"]


def said(text: str = "", choice: str | None = None, findings: tuple[str, ...] = (), minutes: int = 0) -> Inbound:
    return Inbound(text=text, choice=choice, now=NOW + timedelta(minutes=minutes), privacy_findings=findings,
                   user_id="local:tester")


def run(tree, *inputs: str, topics=None):
    state, replies = engine.start(tree, said(), dialog="walkthrough", content_version="test")
    for index, value in enumerate(inputs, start=1):
        state, replies = engine.step(tree, state, said(value, minutes=index), topics=topics)
    return state, replies


# ---------------------------------------------------------------------------------------- the pure step
def test_state_is_small_json_and_names_its_nodes(tree):
    state, replies = run(tree, "CR-1", "safeguard", "identifiable")
    assert json.loads(json.dumps(state)) == state
    assert state["node"] == "risk"
    assert state["phase"] == engine.Phase.ASK
    assert state["answers"] == [["reference", "CR-1"], ["purpose", "safeguard"], ["identifiable", "identifiable"]]
    assert len(json.dumps(state)) < 1000
    assert replies[-1].kind == ReplyKind.STEP
    assert replies[-1].private


def test_step_does_not_mutate_the_state_it_was_given(tree):
    state, _ = run(tree, "CR-1")
    before = json.dumps(state)
    engine.step(tree, state, said("safeguard"))
    assert json.dumps(state) == before


@pytest.mark.parametrize("typed", ["safeguard", "1", "1.", "To protect a child or adult from harm",
                                   "to protect a child or adult from harm!", "to protect a chlid from harm",
                                   "safeguarding"])
def test_a_choice_by_value_number_label_typo_or_alias(tree, typed):
    state, replies = run(tree, "CR-1", typed)
    assert state["answers"][-1] == ["purpose", "safeguard"], replies[0].text


def test_ambiguous_or_unknown_input_reprompts_with_the_same_choices(tree):
    state, _ = run(tree, "CR-1", "safeguard", "identifiable")
    for typed in ("banana", "9", "0"):
        again, replies = engine.step(tree, state, said(typed))
        assert again["answers"] == state["answers"]
        assert "didn't catch that" in replies[0].text
        assert [c.value for c in replies[-1].choices] == ["emergency", "significant_harm", "wellbeing", "unsure"]


def test_back_restart_cancel_work_at_every_step(tree):
    state, _ = run(tree, "CR-1", "safeguard", "identifiable")
    back, replies = engine.step(tree, state, said("back"))
    assert back["node"] == "identifiable"
    assert len(back["answers"]) == 2
    assert "identified" in replies[-1].text
    _, replies = run(tree, "back")
    assert "first question" in replies[0].text
    restarted, replies = engine.step(tree, state, said("start again"))
    assert restarted["answers"] == []
    assert "case reference" in replies[-1].text
    assert restarted["id"] != state["id"]  # a new decision gets a new record key
    cancelled, replies = engine.step(tree, state, said("cancel"))
    assert cancelled["status"] == Status.ENDED
    assert "Nothing was recorded" in replies[0].text


def test_help_and_why_explain_then_repeat_the_step(tree, content):
    topics = {t.id: t for t in content.topics}
    state, _ = run(tree, "CR-1", "safeguard", "identifiable")
    same, replies = engine.step(tree, state, said("why"), topics=topics)
    assert same["answers"] == state["answers"]
    assert "significant harm" in replies[0].text
    assert replies[0].sources
    assert any("2024" in s.title for s in replies[0].sources)
    assert replies[-1].text.startswith("Is a child or adult at risk")
    _, replies = engine.step(tree, state, said("help"))
    assert "`back`" in replies[0].text
    assert replies[-1].text.startswith("Is a child or adult at risk")


def test_a_question_mid_way_is_flagged_for_the_runner_and_the_step_repeats(tree):
    state, _ = run(tree, "CR-1", "safeguard", "identifiable", "significant_harm")
    asked, replies = engine.step(tree, state, said("what is public task?"))
    assert asked["question"] == "what is public task?"
    assert asked["answers"] == state["answers"]
    assert replies[-1].text.startswith("Which lawful basis")
    # the flag never outlives the turn
    moved, _ = engine.step(tree, asked, said("public task"))
    assert "question" not in moved


def test_case_reference_refuses_names_and_identifying_details(tree):
    state, _ = engine.start(tree, said(), dialog="walkthrough")
    for typed, findings in (("Jane Smith", ()), ("jane", ()), ("jo@example.org 12", ("email",))):
        again, replies = engine.step(tree, state, said(typed, findings=findings))
        assert again["answers"] == [], typed
        assert "case reference" in replies[0].text or "identifying" in replies[0].text
    accepted, _ = engine.step(tree, state, said("CR/2026/0042"))
    assert accepted["answers"] == [["reference", "CR/2026/0042"]]


def test_free_text_with_identifying_details_is_refused(tree):
    state, _ = run(tree, "CR-1", "safeguard", "identifiable", "significant_harm", "public_task", "tell",
                   "no_special")
    assert state["node"] == "information"
    again, replies = engine.step(tree, state, said("school file, NHS 943 476 5919", findings=("nhs_number",)))
    assert again["answers"] == state["answers"]
    assert "NHS number" in replies[0].text


def test_an_outcome_shows_a_private_summary_with_record_edit_cancel(tree):
    state, replies = run(tree, "CR-7", "no_purpose", "address history", "a neighbour")
    summary = replies[-1]
    assert state["phase"] == engine.Phase.REVIEW
    assert summary.kind == ReplyKind.SUMMARY
    assert summary.private
    assert [c.label for c in summary.choices] == ["Record this", "Edit", "Cancel"]
    data = summary.summary
    assert data["decision"] == "do_not_share"
    assert data["reference"] == "CR-7"
    for key in ("reasons", "lawful_basis", "recipient", "purpose", "information", "consent", "family_informed",
                "content_version", "article9_condition", "identity_protection", "method", "advice_sought",
                "emergency", "decided_at", "decided_by"):
        assert key in data, key
    assert any("no clear and legitimate purpose" in r for r in data["reasons"])
    assert "Decision: Do not share" in summary.text
    assert "Reasons:" in summary.text
    assert {f.label for f in summary.fields} >= {"Case reference", "Decision", "Purpose"}


def test_edit_changes_a_typed_answer_and_keeps_the_decision(tree):
    state, _ = run(tree, "CR-7", "no_purpose", "address history", "a neighbour")
    state, replies = engine.step(tree, state, said(choice="edit_decision"))
    assert any(c.value == "tail_information" for c in replies[-1].choices)
    state, replies = engine.step(tree, state, said(choice="tail_information"))
    assert "currently: address history" in replies[-1].text
    state, replies = engine.step(tree, state, said("previous addresses"))
    assert replies[-1].summary["information"] == "previous addresses"
    assert replies[-1].summary["decision"] == "do_not_share"
    done, replies = engine.step(tree, state, said("Record this"))
    assert done["status"] == Status.COMPLETE
    assert replies == []


def test_back_from_the_summary_returns_to_the_last_question(tree):
    state, _ = run(tree, "CR-7", "no_purpose", "address history", "a neighbour")
    back, _ = engine.step(tree, state, said("back"))
    assert back["phase"] == engine.Phase.ASK
    assert back["node"] == "tail_recipient"


def test_a_changed_tree_restarts_with_a_note(tree):
    state, _ = run(tree, "CR-1", "safeguard")
    state["answers"][1] = ["purpose", "no_longer_an_option"]
    fresh, replies = engine.step(tree, state, said("identifiable"))
    assert fresh["answers"] == []
    assert "updated" in replies[0].text


def _path_to(tree, decision: Decision) -> list[str]:
    """Breadth-first search over answers for a path that ends in ``decision``."""
    frontier: list[list[list[str]]] = [[]]
    seen = set()
    while frontier:
        answers = frontier.pop(0)
        path = engine.replay(tree, answers)
        if path.node.kind is NodeKind.OUTCOME:
            if path.node.decision is decision:
                return [value for _, value in answers]
            continue
        key = (path.node.id, tuple(sorted(path.facts.items())))
        if key in seen or len(answers) > 25:
            continue
        seen.add(key)
        values = [o.value for o in path.node.options] or ["CR-1" if path.node.field == "reference" else "notes"]
        frontier.extend([*answers, [path.node.id, value]] for value in values)
    raise AssertionError(f"no path reaches {decision}")


@pytest.mark.parametrize("decision", list(Decision))
def test_every_outcome_is_reachable_and_ends_in_a_summary(tree, decision):
    inputs = _path_to(tree, decision)
    _, replies = run(tree, *inputs)
    assert replies[-1].summary["decision"] == decision
    assert replies[-1].summary["reasons"]


# ---------------------------------------------------------------------------------------- the content check
GOOD_NODE = """
    prompt: Is this a question?
    why: Because the guidance says it matters a lot.
    choices:
      - {value: yes_answer, label: "Yes", next: done}
"""


def _check(content, tmp_path: Path, nodes: str, extra: str = "") -> list[str]:
    (tmp_path / "trees").mkdir(exist_ok=True)
    (tmp_path / "trees" / "t.yaml").write_text(
        "name: t\ntitle: Test tree\nstart: first\nsummary:\n  fields: [reference]\n" + extra + "nodes:\n" + nodes)
    try:
        load_trees(tmp_path, {"known_topic"}, content.strings)
    except ContentError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_a_sound_tree_passes(tmp_path, content):
    assert _check(content, tmp_path, "  first:" + GOOD_NODE + "  done: {outcome: share, prompt: Share it now}\n") == []


def test_content_check_reports_each_unsound_tree_at_its_line(tmp_path, content):
    nodes = (
        "  first:\n    prompt: First question here\n    why: Because the guidance says it matters.\n"
        "    topics: [missing_topic]\n"
        "    choices:\n"
        "      - {value: a, label: A, next: loop}\n"
        "      - {value: b, label: B, next: nowhere}\n"
        "      - {value: back, label: Back, next: done}\n"
        "  loop:\n    prompt: Loop question here\n    why: Because the guidance says it matters.\n"
        "    choices:\n      - {value: again, label: Again, next: loop}\n"
        "  orphan:\n    prompt: Never asked at all\n    why: Because the guidance says it matters.\n"
        "    choices:\n      - {value: x, label: X, next: done}\n"
        "  done: {outcome: share, prompt: Share it now}\n"
    )
    problems = _check(content, tmp_path, nodes)
    text = "\n".join(problems)
    assert "trees/t.yaml:10: topic 'missing_topic' does not exist" in text.replace("node 'first': ", "")
    assert "trees/t.yaml:13: transition to 'nowhere', which does not exist" in text
    assert "reserved for a command" in text
    # after fixing the target, the graph proofs report the trap cycle and the unreachable node
    problems = _check(content, tmp_path, nodes.replace("next: nowhere", "next: done").replace("[missing_topic]", "[]")
                      .replace("value: back", "value: other"))
    text = "\n".join(problems)
    assert "trees/t.yaml:15: node 'loop' never leads to an outcome" in text
    assert "trees/t.yaml:20: node 'orphan' cannot be reached from the start" in text


def test_content_check_reports_malformed_nodes_and_yes_no_booleans(tmp_path, content):
    nodes = ("  first:\n    prompt: First question here\n    why: Because the guidance says it matters.\n"
             "    choices:\n      - {value: a, label: no, next: done}\n"
             "  second:\n    prompt: Both kinds at once\n    text: {field: reference}\n    next: done\n"
             "    outcome: share\n"
             "  done: {outcome: share, prompt: Share it now}\n")
    text = "\n".join(_check(content, tmp_path, nodes))
    assert "trees/t.yaml:11:" in text
    assert "False is not of type 'string'" in text
    nodes = nodes.replace("label: no", 'label: "No"')
    text = "\n".join(_check(content, tmp_path, nodes))
    assert "trees/t.yaml:12: node 'second' must have exactly one of choices, text or outcome" in text


def test_conditions_need_a_default_and_a_fact_that_some_choice_sets(tmp_path, content):
    nodes = ("  first:\n    prompt: First question here\n    why: Because the guidance says it matters.\n"
             "    choices:\n      - value: a\n        label: A\n        next:\n"
             "          - {goto: done, when: {colour: blue}}\n"
             "  done: {outcome: share, prompt: Share it now}\n")
    text = "\n".join(_check(content, tmp_path, nodes))
    assert "condition on fact 'colour', which no choice sets" in text
    assert "the last transition must have no `when`" in text
