"""The tree engine on its own: pure steps, matching, commands, privacy, and the content check's proofs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.content import load_content
from bot.messages import ReplyKind
from bot.summary import summary_text
from bot.yamlload import ContentError
from dialogs import engine
from dialogs.base import AnswerQuestion, Complete, End, Inbound
from dialogs.tree import Decision, NodeKind, load_trees

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def content():
    return load_content(PROJECT_ROOT / "content")


@pytest.fixture(scope="module")
def tree(content):
    return content.trees["walkthrough"]


def said(text: str = "", choice: str | None = None, findings: tuple[str, ...] = (), minutes: int = 0,
         decider: str | None = "Sam Carter") -> Inbound:
    return Inbound(text=text, choice=choice, now=NOW + timedelta(minutes=minutes), privacy_findings=findings,
                   user_id="local:tester", decider=decider)


def advance(tree, state, inbound: Inbound, topics=None):
    """One step's new state and replies (the tests of effects look at the whole Step)."""
    step = engine.step(tree, state, inbound, topics=topics)
    return step.state, step.replies


def begin(tree, **kwargs):
    step = engine.start(tree, said(), dialog="walkthrough", **kwargs)
    return step.state, step.replies


def run(tree, *inputs: str, topics=None):
    state, replies = begin(tree, content_version="test")
    for index, value in enumerate(inputs, start=1):
        state, replies = advance(tree, state, said(value, minutes=index), topics=topics)
    return state, replies


# ---------------------------------------------------------------------------------------- the pure step
def test_state_is_small_json_and_names_its_nodes(tree):
    state, replies = run(tree, "CR-1", "safeguard", "adult")
    assert json.loads(json.dumps(state)) == state
    assert state["node"] == "org"
    assert state["phase"] == engine.Phase.ASK
    assert state["answers"] == [["reference", "CR-1"], ["purpose", "safeguard"], ["about", "adult"]]
    assert len(json.dumps(state)) < 1000
    assert replies[-1].kind == ReplyKind.STEP
    assert replies[-1].private


def test_step_does_not_mutate_the_state_it_was_given(tree):
    state, _ = run(tree, "CR-1")
    before = json.dumps(state)
    engine.step(tree, state, said("safeguard"))
    assert json.dumps(state) == before


@pytest.mark.parametrize("typed", ["safeguard", "2", "2.",
                                   "I'm worried a child or adult is at risk of significant harm",
                                   "i'm worried a child or adult is at risk of significant harm!",
                                   "worried a chlid is at risk of significant harm", "safeguarding"])
def test_a_choice_by_value_number_label_typo_or_alias(tree, typed):
    state, replies = run(tree, "CR-1", typed)
    assert state["answers"][-1] == ["purpose", "safeguard"], replies[0].text


def test_ambiguous_or_unknown_input_reprompts_with_the_same_choices(tree):
    state, _ = run(tree, "CR-1", "support")
    for typed in ("banana", "9", "0"):
        again, replies = advance(tree, state, said(typed))
        assert again["answers"] == state["answers"]
        assert "didn't catch that" in replies[0].text
        assert [c.value for c in replies[-1].choices] == ["emergency", "significant_harm", "eh_referral",
                                                          "eh_assessment", "wellbeing", "unsure"]


def test_back_restart_cancel_work_at_every_step(tree):
    state, _ = run(tree, "CR-1", "safeguard", "adult")
    back, replies = advance(tree, state, said("back"))
    assert back["node"] == "about"
    assert len(back["answers"]) == 2
    assert "mainly about" in replies[-1].text
    _, replies = run(tree, "back")
    assert "first question" in replies[0].text
    restarted, replies = advance(tree, state, said("start again"))
    assert restarted["answers"] == []
    assert "case reference" in replies[-1].text
    assert restarted["id"] != state["id"]  # a new decision gets a new record key
    cancelled = engine.step(tree, state, said("cancel"))
    assert cancelled.effects == (End(),)
    assert "Nothing was recorded" in cancelled.replies[0].text


def test_help_and_why_explain_then_repeat_the_step(tree, content):
    topics = {t.id: t for t in content.topics}
    state, _ = run(tree, "CR-1", "support")
    same, replies = advance(tree, state, said("why"), topics=topics)
    assert same["answers"] == state["answers"]
    assert "significant harm" in replies[0].text
    assert replies[0].sources
    assert any("2024" in s.title for s in replies[0].sources)
    assert replies[-1].text.startswith("Is there any sign")
    _, replies = advance(tree, state, said("help"))
    assert "`back`" in replies[0].text
    assert replies[-1].text.startswith("Is there any sign")


def test_a_question_mid_way_is_an_effect_for_the_runner_and_the_step_repeats(tree):
    state, _ = run(tree, "CR-1", "safeguard", "adult")
    asked = engine.step(tree, state, said("what is public task?"))
    assert asked.effects == (AnswerQuestion("what is public task?"),)
    assert asked.state["answers"] == state["answers"]
    assert asked.replies[-1].text.startswith("Which best describes your organisation")
    assert engine.step(tree, asked.state, said("council")).effects == ()  # the next answer is just an answer


def test_case_reference_refuses_names_and_identifying_details(tree):
    state, _ = begin(tree)
    for typed, findings in (("Jane Smith", ()), ("jane", ()), ("jo@example.org 12", ("email",))):
        again, replies = advance(tree, state, said(typed, findings=findings))
        assert again["answers"] == [], typed
        assert "case reference" in replies[0].text or "identifying" in replies[0].text
    accepted, _ = advance(tree, state, said("CR/2026/0042"))
    assert accepted["answers"] == [["reference", "CR/2026/0042"]]


def test_free_text_with_identifying_details_is_refused(tree):
    state, _ = run(tree, "CR-1", "safeguard", "adult", "public_urgent", "adult_told", "no_special")
    assert state["node"] == "information"
    again, replies = advance(tree, state, said("school file, NHS 943 476 5919", findings=("nhs_number",)))
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
    state, replies = advance(tree, state, said(choice="edit_decision"))
    assert any(c.value == "tail_information" for c in replies[-1].choices)
    state, replies = advance(tree, state, said(choice="tail_information"))
    assert "currently: address history" in replies[-1].text
    state, replies = advance(tree, state, said("previous addresses"))
    assert replies[-1].summary["information"] == "previous addresses"
    assert replies[-1].summary["decision"] == "do_not_share"
    done = engine.step(tree, state, said("Record this"))
    assert done.replies == []
    [confirmed] = done.effects
    assert isinstance(confirmed, Complete)
    assert confirmed.outcome == engine.Decision(engine.build_summary(tree, done.state), state["id"])
    assert confirmed.outcome.summary["information"] == "previous addresses"


def test_back_from_the_summary_returns_to_the_last_question(tree):
    state, _ = run(tree, "CR-7", "no_purpose", "address history", "a neighbour")
    back, _ = advance(tree, state, said("back"))
    assert back["phase"] == engine.Phase.ASK
    assert back["node"] == "tail_recipient"


def test_a_changed_tree_restarts_with_a_note(tree):
    state, _ = run(tree, "CR-1", "safeguard")
    state["answers"][1] = ["purpose", "no_longer_an_option"]
    fresh, replies = advance(tree, state, said("adult"))
    assert fresh["answers"] == []
    assert "updated" in replies[0].text


def test_an_answer_the_path_does_not_offer_is_a_broken_state_and_restarts(tree):
    """Consent-style choices hidden on an urgent path cannot be smuggled in through a stored state."""
    state, _ = run(tree, "CR-1", "safeguard", "adult")
    state["answers"].append(["org", "public"])  # the non-urgent choice, hidden once there is a risk
    fresh, replies = advance(tree, state, said("adult_told"))
    assert fresh["answers"] == []
    assert "updated" in replies[0].text


def test_hidden_choices_are_neither_shown_nor_accepted(tree):
    state, replies = run(tree, "CR-1", "safeguard", "adult")
    assert "public" not in [c.value for c in replies[-1].choices]
    assert "public_urgent" in [c.value for c in replies[-1].choices]
    # a stale button for the hidden choice is read by its words against what this path offers
    again, _ = advance(tree, state, said(choice="public"))
    assert again["answers"][-1] == ["org", "public_urgent"]


def test_every_step_shows_how_far_along_it_is(tree):
    state, replies = begin(tree)
    seen = []
    for index, value in enumerate(["CR-1", "safeguard", "adult", "public_urgent", "adult_told", "no_special",
                                   "notes", "all", "social_care", "no_risk"], start=1):
        seen.append(replies[-1].title)
        state, replies = advance(tree, state, said(value, minutes=index))
    numbers = [re.fullmatch(r"Step (\d+) of about (\d+)", title) for title in seen]
    assert all(numbers), seen
    assert [int(m[1]) for m in numbers] == list(range(1, len(seen) + 1))
    assert all(int(m[2]) >= int(m[1]) for m in numbers)
    assert int(numbers[-1][2]) - int(numbers[-1][1]) <= 1  # the last question knows it is (nearly) the last


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
        values = [o.value for o in path.node.offered(path.facts)] or ["CR-1" if path.node.field == "reference"
                                                                       else "notes"]
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


# ---------------------------------------------------------------------------------------- the invariants
def _content_check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "content", "check", "--dir", str(root)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    """The real content with one edit to the walkthrough tree (the edit must apply exactly once)."""
    root = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", root)
    path = root / "trees" / "walkthrough.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return root


def test_content_check_proves_every_invariant_of_the_real_tree():
    result = _content_check(PROJECT_ROOT / "content")
    assert result.returncode == 0, result.stderr
    assert re.search(r"walkthrough\.yaml: 1\d invariants proven over [\d,]+ paths \([\d,]+ states", result.stdout)


def test_the_tree_states_its_safety_properties_as_data(tree):
    ids = {invariant.id for invariant in tree.invariants}
    assert {"urgent_ends_in_sharing", "emergency_act_now_at_once", "no_consent_once_urgent", "at_most_twenty_answers",
            "every_loop_has_an_exit", "requests_verified_first"} <= ids
    assert tree.proof.paths > 100_000
    assert max(tree.proof.lengths) <= 20


@pytest.mark.parametrize(("old", "new", "invariant", "counterexample"), [
    # a recipient with no role offered on urgent paths: an urgent walk could end in "do not share"
    ('        aliases: [no role, curious colleague, not involved]\n        unless: {urgent: "yes"}\n',
     '        aliases: [no role, curious colleague, not involved]\n',
     "urgent_ends_in_sharing", "purpose=safeguard > about=adult > org=public_urgent"),
    # the emergency choice no longer goes straight to the act-now step
    ("        reason: *emergency_reason\n        next: act_now\n      - value: safeguard",
     "        reason: *emergency_reason\n        next: em_information\n      - value: safeguard",
     "emergency_act_now_at_once", "reference=(typed) > purpose=emergency"),
    # consent offered again once urgent (the hidden non-urgent organisation choices shown to everyone)
    ("        aliases: [council, school, academy, public body, local authority, public]\n"
     '        unless: {urgent: "yes"}\n',
     '        aliases: [council, school, academy, public body, local authority, public]\n',
     "no_consent_once_urgent", "org=public"),
])
def test_a_tree_edited_to_break_an_invariant_fails_with_the_shortest_counterexample(tmp_path, old, new, invariant,
                                                                                   counterexample):
    root = _broken_copy(tmp_path, old, new)
    result = _content_check(root)
    assert result.returncode == 1
    line = next(line for line in result.stderr.splitlines() if f"invariant {invariant!r}" in line)
    assert "trees/walkthrough.yaml:" in line, line
    assert "shortest counterexample" in line, line
    assert counterexample in line, line
    with pytest.raises(ContentError):
        load_content(root)


def test_the_server_refuses_to_start_on_a_broken_invariant(tmp_path):
    root = _broken_copy(tmp_path, "        reason: *emergency_reason\n        next: act_now\n      - value: safeguard",
                        "        reason: *emergency_reason\n        next: em_information\n      - value: safeguard")
    result = subprocess.run([sys.executable, "app.py"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CONTENT_DIR": str(root),
                                 "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PORT": "0"})
    assert result.returncode == 2, result.stderr
    assert "Content is invalid" in result.stderr
    assert "emergency_act_now_at_once" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_loop_without_a_bound_is_reported(tmp_path, content):
    nodes = ("  first:\n    prompt: First question here\n    why: Because the guidance says it matters.\n"
             "    choices:\n      - {value: again, label: Again, next: first}\n"
             "      - {value: stop, label: Stop, next: done}\n"
             "  done: {outcome: share, prompt: Share it now}\n")
    extra = "invariants:\n  - {id: short, says: No path is longer than five answers, max_answers: 5}\n"
    text = "\n".join(_check(content, tmp_path, nodes, extra))
    assert "invariant 'short'" in text
    assert "repeat forever around first" in text


def test_every_step_carries_back_why_and_cancel_and_pressing_them_works(tree):
    state, replies = begin(tree)
    assert [(a.label, a.value) for a in replies[-1].actions] == [("Why this question?", "why"), ("Cancel", "cancel")]
    state, replies = advance(tree, state, said("CR-7"))
    assert [a.value for a in replies[-1].actions] == ["back", "why", "cancel"]
    assert replies[-1].actions[0].label == "Back"
    _, why = advance(tree, state, said(choice="why"))
    assert why[0].title == "Why I ask this"
    assert why[-1].text == replies[-1].text
    back, again = advance(tree, state, said(choice="back"))
    assert back["answers"] == []
    assert again[-1].text.startswith("What is the case reference")
    ended = engine.step(tree, state, said(choice="cancel"))
    assert ended.effects == (End(),)
    assert "Nothing was recorded" in ended.replies[-1].text
    assert engine.step(tree, state, said("cancel")).effects == (End(),)


def test_record_asks_a_local_user_their_own_name_once_and_keeps_it_as_typed(tree):
    state, _ = run(tree, "CR-7", "no_purpose", "address history", "a neighbour")
    asking = engine.step(tree, state, said(choice="record_decision", decider=None))
    assert asking.effects == ()
    assert "what name should the record show" in asking.replies[-1].text
    again = engine.step(tree, asking.state, said("07700 900123", decider=None))
    assert again.effects == ()
    assert "letters only" in again.replies[0].text
    back, replies = advance(tree, asking.state, said("back", decider=None))
    assert replies[-1].summary is not None
    assert back["phase"] == engine.Phase.REVIEW
    [done] = engine.step(tree, asking.state, said("  Jane   Smith, DSL ", findings=("name",), decider=None)).effects
    assert isinstance(done, Complete)
    assert done.outcome.typed_name == "Jane Smith, DSL"  # the core keeps it for their next records
    assert done.outcome.summary["decided_by_name"] == "Jane Smith, DSL"
    assert "Decided by: Jane Smith (DSL) — id local:tester" in summary_text(done.outcome.summary, tree.strings)
    [known] = engine.step(tree, state, said(choice="record_decision", decider="Ali Khan")).effects
    assert isinstance(known, Complete)
    assert known.outcome.typed_name is None
    assert "Decided by: Ali Khan — id local:tester" in summary_text(known.outcome.summary, tree.strings)
