"""The guidance content: valid, complete against the One Minute Guide, current, and its errors are
reported as ``file:line`` so a content owner can fix them without reading Python."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.content import load_content
from bot.qa import QuestionEngine
from cli import main as cli_main

CONTENT = PROJECT_ROOT / "content"


@pytest.fixture(scope="module")
def content():
    return load_content(CONTENT)


@pytest.fixture(scope="module")
def engine(content):
    return QuestionEngine(content)


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    return root


def check(root: Path, capsys) -> tuple[int, str]:
    code = cli_main(["content", "check", "--dir", str(root)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# ---------------------------------------------------------------------------------------------- validity
def test_shipped_content_is_valid(content):
    assert len(content.topics) >= 40
    assert content.version
    assert content.vocabulary.abbreviations["ehm"] == "early help module"


def test_content_check_command_passes_on_shipped_content():
    result = subprocess.run([sys.executable, "-m", "bot", "content", "check"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "content OK" in result.stdout


@pytest.mark.parametrize(("line", "reported"), [
    # a reason the code names (delivery failures, address and field problems) needs its wording
    ('  refused: "{channel} refused the message ({detail})"\n', "strings.yaml:1: missing wording 'delivery.refused'"),
    # and so does a key the code writes out
    ("  amend_cancelled: No correction was stored.\n",
     "strings.yaml:1: missing wording 'records.amend_cancelled' (asked for at dialogs/walkthrough.py:"),
])
def test_wording_the_code_needs_cannot_be_deleted_from_strings(content_copy, capsys, line, reported):
    path = content_copy / "strings.yaml"
    text = path.read_text(encoding="utf-8")
    kept = text.replace(line, "")
    assert kept != text
    path.write_text(kept, encoding="utf-8")
    code, output = check(content_copy, capsys)
    assert code == 1
    assert reported in output


def test_yaml_syntax_error_is_reported_at_its_line(content_copy, capsys):
    path = content_copy / "topics" / "broken.yaml"
    path.write_text("topics:\n  - id: broken\n    title: [unclosed\n", encoding="utf-8")
    code, output = check(content_copy, capsys)
    assert code == 1
    assert "topics/broken.yaml:" in output
    assert "YAML syntax error" in output


def test_missing_field_is_reported_at_the_topic(content_copy, capsys):
    (content_copy / "topics" / "extra.yaml").write_text(
        "topics:\n"
        "  - id: no_answer\n"
        "    title: A topic without an answer\n"
        "    sources: [{title: Somewhere, ref: here}]\n"
        "    examples: [an example question]\n",
        encoding="utf-8",
    )
    code, output = check(content_copy, capsys)
    assert code == 1
    assert "topics/extra.yaml:2: topics/0: 'answer' is a required property" in output


def test_duplicate_topic_id_names_both_places(content_copy, capsys):
    (content_copy / "topics" / "zz-duplicate.yaml").write_text(
        "topics:\n"
        "  - id: what_is_an_isa\n"
        "    title: Another ISA topic\n"
        "    answer: This answer repeats an id that another file already uses.\n"
        "    sources: [{title: Somewhere, ref: here}]\n"
        "    examples: [what is an isa again]\n",
        encoding="utf-8",
    )
    code, output = check(content_copy, capsys)
    assert code == 1
    assert "topics/zz-duplicate.yaml:2: duplicate topic id 'what_is_an_isa' (first at topics/" in output


def test_unknown_related_topic_is_reported(content_copy, capsys):
    path = content_copy / "topics" / "early-help.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("related: [early_help_engagement_consent, early_help_agreement, early_help_leaflet]",
                                 "related: [early_help_engagement_consent, no_such_topic]", 1), encoding="utf-8")
    code, output = check(content_copy, capsys)
    assert code == 1
    assert "related topic 'no_such_topic' does not exist" in output
    assert "topics/early-help.yaml:3:" in output
    assert output.count("does not exist") == 1  # one broken link, one message


def test_broken_file_does_not_cascade_into_related_link_errors(content_copy, capsys):
    path = content_copy / "topics" / "agreements-and-contacts.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("    title: Key contacts\n", "", 1), encoding="utf-8")
    code, output = check(content_copy, capsys)
    assert code == 1
    assert "'title' is a required property" in output
    assert "does not exist" not in output


def test_vocabulary_errors_are_reported(content_copy, capsys):
    path = content_copy / "vocabulary.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  eh: early help\n", "  EH: early help\n", 1),
                    encoding="utf-8")
    code, output = check(content_copy, capsys)
    assert code == 1
    assert "vocabulary.yaml:" in output
    assert "EH" in output


def test_content_owner_can_change_wording_without_python(content_copy):
    path = content_copy / "topics" / "agreements-and-contacts.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("An ISA is an Information Sharing Agreement",
                                                             "An ISA (reworded) is an Information Sharing Agreement"),
                    encoding="utf-8")
    answer = QuestionEngine(load_content(content_copy)).answer("what is an ISA?")
    assert answer.answer.startswith("An ISA (reworded)")


# ---------------------------------------------------------------------------------------------- shape
def test_every_topic_is_short_practical_and_sourced(content):
    for topic in content.topics:
        words = len(topic.answer.split())
        assert words <= 170, f"{topic.id}: {words} words"  # room to state legal conditions accurately
        assert topic.sources, topic.id
        assert len(topic.examples) >= 4, f"{topic.id}: {len(topic.examples)} examples"  # the router learns from them
        assert topic.related, f"{topic.id} has no related topics"


def test_sources_are_cited_by_name(content):
    titles = {source.title for topic in content.topics for source in topic.sources}
    for expected in ("One Minute Guide: Information Sharing (August 2021)",
                     "Information sharing: advice for practitioners (HM Government, May 2024)",
                     "UK GDPR", "Data Protection Act 2018", "Working Together to Safeguard Children (2023)",
                     "ICO Data Sharing Code of Practice (2021)",
                     "ICO: A 10 step guide to sharing information to safeguard children (2023)"):
        assert expected in titles


# ---------------------------------------------------------------------------------------------- completeness
# Every statement of the One Minute Guide (2021): a question a practitioner might ask about it, the topic
# that must answer it, and words that answer must contain.
GUIDE_STATEMENTS = [
    # why sharing matters
    ("why does sharing information matter?", "why_share", ["right time", "more acute"]),
    ("what have serious case reviews found?", "why_share", ["serious case review"]),
    ("does everyone have a role in sharing concerns?", "everyone_has_a_role", ["no single practitioner"]),
    ("can I assume a colleague will share it?", "dont_assume_others_shared", ["do not assume"]),
    # GDPR lawful bases
    ("which lawful basis do councils use?", "lawful_basis_public_bodies", ["legal obligation", "public task"]),
    ("what does exercising official authority mean?", "lawful_basis_public_bodies",
     ["no extra public interest test", "necessary"]),
    # six responsibilities
    ("what are the six responsibilities?", "six_responsibilities",
     ["lawfully, fairly and in a transparent way", "specified, explicit and legitimate",
      "adequate, relevant and limited to what is necessary", "up to date", "no longer than necessary", "secure",
      "accountability", "1998"]),
    # Article 6
    ("what are the article 6 conditions?", "article6_conditions",
     ["consent", "contract", "legal obligation", "vital interests", "public task", "legitimate interests"]),
    # seven principles, each explained
    ("what are the seven principles?", "seven_principles",
     ["necessary and proportionate", "relevant", "adequate", "accurate", "timely", "secure", "record"]),
    ("what does necessary and proportionate mean?", "necessary_and_proportionate", ["limiting the amount"]),
    ("what does relevant mean in the principles?", "relevant_information", ["only with the people"]),
    ("what does adequate mean in the principles?", "adequate_information", ["enough"]),
    ("what does accurate mean in the principles?", "accurate_information", ["up to date"]),
    ("what does timely mean in the principles?", "timely_sharing", ["without delay", "do not delay"]),
    ("what does secure mean in the principles?", "share_securely", ["secure"]),
    ("what does the record principle mean?", "record_decision", ["with whom", "purpose"]),
    # myth-busting
    ("does GDPR prohibit sharing?", "data_protection_not_a_barrier", ["do not prohibit", "framework"]),
    ("do I always need consent?", "consent_not_always_needed",
     ["do not necessarily need", "open and honest", "cannot give consent", "public interest"]),
    ("can one organisation disclose information to another?", "sharing_between_organisations",
     ["incompatible", "which processing condition"]),
    ("does the common law duty of confidence stop me sharing?", "human_rights_and_confidentiality",
     ["common law duty of confidence", "human rights act 1998", "do not prevent", "limit"]),
    ("are IT systems a barrier to sharing?", "it_systems_not_a_barrier", ["not a barrier", "professional judgement"]),
    ("do I need consent to start an early help assessment?", "early_help_no_consent_to_assess",
     ["do not need consent", "early help module", "must normally be told"]),
    ("do I need consent to refer a family to a family hub?", "early_help_engagement_consent",
     ["need the family's agreement", "family hub", "what is early help?", "not the same as consent"]),
    ("what leaflet do I give about early help?", "early_help_leaflet", ["what is early help?"]),
    # consent rules
    ("when should I seek consent?", "when_to_seek_consent", ["freely given"]),
    ("when should I not seek consent?", "when_not_to_seek_consent", ["increased risk"]),
    ("should I ask for consent if I will share anyway?", "seek_consent_only_if_you_will_honour_it",
     ["honour and abide", "engagement"]),
    ("should I tell the family I have shared?", "inform_family", ["unless"]),
    # practice tips
    ("can I get advice without naming the family?", "seek_advice", ["without disclosing the identity"]),
    ("should I record a decision not to share?", "record_decision", ["whether you decide to share or not"]),
    ("should I think about the safety of others before sharing?", "consider_safety_and_wellbeing",
     ["safety and wellbeing", "others"]),
    ("how do I make an early help assessment effective?", "early_help_agreement", ["agreement and involvement"]),
    # ISAs, contacts
    ("which information sharing agreements are in place?", "which_isas_apply", ["manager"]),
    ("who are the key contacts?", "key_contacts",
     ["coventry safeguarding children partnership", "west midlands", "information commissioner"]),
    ("where can I find further information?", "further_information", ["data protection act 2018", "ico"]),
]

# Where current guidance corrects or adds to the guide.
CURRENT_GUIDANCE = [
    ("is article 6 in the data protection act 2018?", "article6_in_uk_gdpr", ["the 2021 guide says", "uk gdpr"]),
    ("can a council use legitimate interests?", "legitimate_interests", ["public authority", "cannot"]),
    ("is health data special category?", "special_category_data", ["article 9", "schedule 1 paragraph 18"]),
    ("when does vital interests apply?", "vital_interests", ["life-or-death"]),
    ("do I need an ISA or DPIA in an emergency?", "emergency_sharing", ["do not need", "dpia"]),
    ("what are the golden rules?", "golden_rules", ["seven golden rules", "lawful basis"]),
    ("what is the 2024 information sharing advice?", "national_advice_2024", ["may 2024", "replaces the 2018"]),
    ("how do I protect the person who reported the concern?", "protect_reporter_identity", ["identity"]),
    ("how do I check who is asking for information?", "verify_requester", ["switchboard"]),
    ("should I keep fact and opinion separate?", "fact_and_opinion", ["fact", "opinion"]),
    ("what are the caldicott principles?", "caldicott_principles", ["caldicott guardian"]),
    ("the police want information about a family", "police_requests", ["verify"]),
    ("what makes consent valid?", "consent_as_lawful_basis", ["freely given", "withdraw"]),
]


@pytest.mark.parametrize(("question", "topic_id", "phrases"), GUIDE_STATEMENTS + CURRENT_GUIDANCE,
                         ids=[t for _, t, _ in GUIDE_STATEMENTS + CURRENT_GUIDANCE])
def test_guide_statement_is_covered(content, engine, question, topic_id, phrases):
    topic = content.topic(topic_id)
    assert topic is not None, f"no topic {topic_id}"
    text = topic.answer.lower()
    for phrase in phrases:
        assert phrase in text, f"{topic_id} does not say {phrase!r}"
    answer = engine.answer(question)
    assert answer.topic == topic_id, f"{question!r} -> {answer.topic}"


def test_corrections_say_what_the_guide_got_wrong(content):
    corrected = [t for t in content.topics if "the 2021 guide says" in t.answer.lower()]
    assert {"article6_conditions", "article6_in_uk_gdpr"} <= {t.id for t in corrected}
