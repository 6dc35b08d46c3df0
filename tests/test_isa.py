"""The ISA register as people meet it: reading it in chat, changing it (admins and owners only),
the audit trail, register questions, and CSV/YAML import that is all-or-nothing."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import address_book, build_assistant
from bot.isa.importexport import ImportFailed, import_agreements, read_csv, read_yaml, write_csv, write_yaml
from bot.isa.model import CSV_FIELDS, ISAStatus
from bot.storage.register import list_isas
from bot.storage.tables import audit_log, isas, reminder_subscriptions
from tests.conftest import make_settings, turn

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT / "content" / "isa-example.csv"
NOW = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
ADMIN = "local:admin"
ADDRESSES = address_book()
OWNER = "local:ig-lead"  # owns "Schools attendance..." in the example file
HEADER = ",".join(CSV_FIELDS)
GOOD_ROW = ("Police ISA,Police; Children's services,Share concerns,Contact details,Article 6(1)(e) public task,"
            "slack:T1:U0POLICE,2026-01-01,2027-06-01,active,https://example.org/isa.pdf,slack:T1:C0TEAM")


@pytest.fixture
async def isa_assistant(tmp_path):
    built = await build_assistant(make_settings(tmp_path, admins=(ADMIN, "slack:T1:U0BOSS", "slack:U0LEGACY")))
    built.clock = lambda: NOW
    await import_agreements(built.engine, read_csv(EXAMPLE.read_text(), ADDRESSES), "test", NOW)
    yield built
    await built.engine.dispose()


async def ask(assistant, text: str, user: str = "local:reader", **kwargs):
    """The replies after the one-time disclaimer and the privacy guard's notice (dates look like birth dates)."""
    replies = await assistant.handle(turn(text, user=user, conversation=user, **kwargs))
    return [r for r in replies if "not legal advice" not in r.text and "It looks like your message" not in r.text]


async def titles(assistant) -> list[str]:
    async with assistant.engine.connect() as conn:
        return [isa.title for isa in await list_isas(conn)]


# ---------------------------------------------------------------- import / export
def test_example_file_is_valid_and_round_trips():
    agreements = read_csv(EXAMPLE.read_text(), ADDRESSES)
    assert len(agreements) >= 4
    assert read_csv(write_csv(agreements), ADDRESSES) == agreements
    assert read_yaml(write_yaml(agreements), ADDRESSES) == agreements
    police = next(a for a in agreements if "Encompass" in a.title)
    assert police.article9_condition
    assert police.channels == ["slack:T0COUNCIL:C0SCHOOLS"]


def test_bad_rows_report_line_field_and_reason():
    bad = (f"{HEADER}\n{GOOD_ROW}\n"
           "Health ISA,NHS,Care,Health information,Article 6(1)(e),slack:T1:U0X,2026-01-01,2027-13-01,active,,\n"
           "Other,Schools,Attendance,Attendance,Art 6,bob,2026-01-01,2027-01-01,maybe,,slack:#general\n")
    with pytest.raises(ImportFailed) as caught:
        read_csv(bad, ADDRESSES)
    found = {(e.line, e.field) for e in caught.value.errors}
    assert {(3, "review_date"), (4, "owner"), (4, "status"), (4, "channels")} <= found
    reasons = str(caught.value)
    assert "line 3: review_date: '2027-13-01' is not a date in the form YYYY-MM-DD" in reasons


def test_special_category_data_needs_an_article_9_condition():
    row = "Health ISA,NHS,Care,Health information,Article 6(1)(e),slack:T1:U0X,2026-01-01,2027-01-01,active,,"
    with pytest.raises(ImportFailed, match="line 2: lawful_basis: special category"):
        read_csv(f"{HEADER}\n{row}\n", ADDRESSES)
    ok = read_csv(f"{HEADER}\n{row.replace('Article 6(1)(e),', 'Article 6(1)(e); Article 9(2)(h),')}\n", ADDRESSES)
    assert ok[0].article9_condition == "Article 9(2)(h)"


def test_wrong_header_and_yaml_errors_are_located():
    with pytest.raises(ImportFailed, match="line 1: header: must be exactly title,parties"):
        read_csv("title,parties\nx,y\n", ADDRESSES)
    with pytest.raises(ImportFailed, match="line 3: colour: is not a field"):
        read_yaml("- title: A\n  parties: [x]\n  colour: red\n", ADDRESSES)


async def test_import_with_a_bad_row_leaves_the_register_unchanged(isa_assistant, tmp_path):
    before = await titles(isa_assistant)
    path = tmp_path / "bad.csv"
    path.write_text(f"{HEADER}\n{GOOD_ROW}\nBroken,,,,,,,,,,\n")
    result = subprocess.run([sys.executable, "-m", "bot", "isa", "import", str(path)], cwd=PROJECT,
                            env={"DATABASE_URL": isa_assistant.settings.database_url, "PATH": "/usr/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{path}: line 3: parties: list at least one" in result.stderr
    assert "nothing imported" in result.stderr
    assert await titles(isa_assistant) == before


async def test_cli_import_then_export(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "PATH": "/usr/bin"}
    run = [sys.executable, "-m", "bot", "isa"]
    imported = subprocess.run([*run, "import", str(EXAMPLE)], cwd=PROJECT, env=env, capture_output=True, text=True,
                              timeout=60)
    assert imported.returncode == 0, imported.stderr
    assert "4 added" in imported.stdout
    exported = subprocess.run([*run, "export"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert exported.stdout.splitlines()[0] == HEADER
    assert read_csv(exported.stdout, ADDRESSES) == read_csv(EXAMPLE.read_text(), ADDRESSES)


async def test_yaml_export_imports_back(isa_assistant):
    from bot.isa.importexport import export_agreements

    exported = await export_agreements(isa_assistant.engine, "yaml")
    assert read_yaml(exported, ADDRESSES) == read_csv(EXAMPLE.read_text(), ADDRESSES)


# ---------------------------------------------------------------- reading in chat
async def test_everyone_can_list_show_and_see_due_reviews(isa_assistant):
    listing = (await ask(isa_assistant, "isa list"))[-1]
    assert "MASH partnership agreement" in listing.text
    assert listing.choices
    found = (await ask(isa_assistant, "isa list police"))[-1]
    assert "Encompass" in found.text
    assert "Health visiting" not in found.text
    shown = (await ask(isa_assistant, "isa show 1"))[-1]
    assert shown.title
    assert any(f.label == "Review date" for f in shown.fields)
    due = (await ask(isa_assistant, "isa due"))[-1]  # 1 March 2027: reviews on 29 March and 5 April within 30 days
    assert "Health visiting" in due.text
    assert "Encompass" not in due.text
    missing = (await ask(isa_assistant, "isa show 99"))[-1]
    assert "no agreement #99" in missing.text


async def test_an_agreement_names_its_owner_once_the_owner_has_given_a_name(isa_assistant):
    def owner(reply) -> str:
        return next(f.value for f in reply.fields if f.label == "Owner")

    assert owner((await ask(isa_assistant, "isa show 4"))[-1]) == "local:ig-lead"  # no name known yet
    await ask(isa_assistant, "my name Jo Patel, IG lead", user="local:ig-lead")
    assert owner((await ask(isa_assistant, "isa show 4"))[-1]) == "Jo Patel, IG lead (local:ig-lead)"


async def test_register_questions_are_answered_citing_the_agreement(isa_assistant):
    health = (await ask(isa_assistant, "which ISAs cover health visitors?"))[-1]
    assert "Health visiting and children's centres" in health.text
    assert any(s.title == "Health visiting and children's centres" for s in health.sources)
    police = (await ask(isa_assistant, "is there an agreement with the police?"))[-1]
    assert "Operation Encompass" in police.text
    assert "MASH" in police.text
    nobody = (await ask(isa_assistant, "is there an agreement with the fire service?"))[-1]
    assert "can't find an agreement" in nobody.text
    general = (await ask(isa_assistant, "what should an information sharing agreement contain?"))[-1]
    assert general.title != "From the ISA register"


# ---------------------------------------------------------------- changing
async def test_non_admins_cannot_edit_and_nothing_changes(isa_assistant):
    refused = (await ask(isa_assistant, "isa edit 1 review_date=2030-01-01", user="local:someone"))[-1]
    assert "Only an admin or the agreement's owner" in refused.text
    assert refused.private, "a refusal is for the person who asked, never posted to a shared channel"
    refused = (await ask(isa_assistant, "isa reviewed 1 2028-01-01", user="slack:T1:U0NOBODY"))[-1]
    assert "Only an admin" in refused.text
    async with isa_assistant.engine.connect() as conn:
        assert (await conn.execute(select(isas.c.review_date).where(isas.c.id == 1))).scalar() != date(2030, 1, 1)
        assert (await conn.execute(select(func.count()).select_from(audit_log)
                                   .where(audit_log.c.action != "isa.import"))).scalar() == 0


async def test_admin_and_owner_edits_are_audited_with_a_diff(isa_assistant):
    replies = await ask(isa_assistant, "isa edit 1 review_date=2028-04-28 | status=under review", user=ADMIN)
    assert "Updated agreement #1" in replies[0].text
    schools = next(i for i, t in enumerate(await titles(isa_assistant)) if t.startswith("Schools")) + 1
    async with isa_assistant.engine.connect() as conn:
        schools_id = (await conn.execute(select(isas.c.id).where(isas.c.title.like("Schools%")))).scalar()
    assert schools
    owner_edit = await ask(isa_assistant, f"isa edit {schools_id} purpose=Follow up children missing education",
                           user=OWNER)
    assert "Updated" in owner_edit[0].text
    slack_admin = await ask(isa_assistant, "isa reviewed 1 2029-01-31", user="slack:T1:U0BOSS")
    assert "next review is due on 2029-01-31" in slack_admin[-1].text
    history = (await ask(isa_assistant, "isa history 1"))[-1]
    assert "an administrator – isa.update: review_date" in history.text
    assert "an administrator – isa.reviewed" in history.text
    assert "local:admin" not in history.text
    assert "U0BOSS" not in history.text
    own = (await ask(isa_assistant, "isa history 1", user=ADMIN))[-1]
    assert "you – isa.update: review_date" in own.text
    async with isa_assistant.engine.connect() as conn:
        entry = (await conn.execute(select(audit_log).where(audit_log.c.action == "isa.update",
                                                            audit_log.c.subject == "isa:1"))).one()
    assert entry.actor == ADMIN
    assert entry.details["changes"]["review_date"] == {"from": "2027-04-28", "to": "2028-04-28"}
    assert entry.details["changes"]["status"] == {"from": "active", "to": "under review"}
    assert set(entry.details["changes"]) == {"review_date", "status"}


async def test_add_with_the_one_line_form_validates_every_field(isa_assistant):
    bad = (await ask(isa_assistant, "isa add title=Fire ISA | parties=Fire service | review_date=soon", user=ADMIN))
    assert "couldn't save" in bad[-1].text
    assert "Review date" in bad[-1].text
    assert "Purpose" in bad[-1].text
    good = await ask(isa_assistant, "isa add title=Fire ISA | parties=Fire service; Children's services | "
                     "purpose=Home fire safety visits | data_categories=Address | lawful_basis=Article 6(1)(e) | "
                     "start_date=2027-01-01 | review_date=2028-01-01", user=ADMIN)
    assert "Added agreement" in good[0].text
    assert "Fire ISA" in await titles(isa_assistant)


async def test_snooze_and_reviewed_buttons(isa_assistant):
    snoozed = (await ask(isa_assistant, "", user=ADMIN, choice="isa snooze 2 7"))[-1]
    assert "snoozed until 2027-03-08" in snoozed.text
    reviewed = (await ask(isa_assistant, "", user=ADMIN, choice="isa reviewed 2 2028-03-29"))[-1]
    assert "2028-03-29" in reviewed.text
    past = (await ask(isa_assistant, "isa reviewed 2 2020-01-01", user=ADMIN))[-1]
    assert "must be in the future" in past.text


async def test_channel_reminder_can_be_set_and_turned_off(isa_assistant):
    conversation = "local:team-room"
    set_reply = (await isa_assistant.handle(turn("isa remind weekly mon 09:00", conversation=conversation)))[-1]
    assert "every mon at 09:00 (Europe/London)" in set_reply.text
    bad = (await isa_assistant.handle(turn("isa remind daily 9am", conversation=conversation)))[-1]
    assert "isa remind weekly mon 09:00" in bad.text
    off = (await isa_assistant.handle(turn("isa remind off", conversation=conversation)))[-1]
    assert "off" in off.text
    async with isa_assistant.engine.connect() as conn:
        row = (await conn.execute(select(reminder_subscriptions))).one()
    assert row.channel == conversation
    assert row.active == 0
    assert row.weekday == 0


async def test_status_values_are_named():
    assert [s.value for s in ISAStatus] == ["draft", "active", "under review", "ended"]


async def test_add_and_edit_through_the_dialog(isa_assistant):
    steps = ["isa add", "Fire safety ISA", "Fire service; Children's services", "Home fire safety visits",
             "Address; Household vulnerabilities", "Article 6(1)(e) public task", "me", "2027-01-01", "not a date",
             "2028-01-01", "active", "skip", "slack:T1:C0FIRE"]
    replies = []
    for text in steps:
        replies = await ask(isa_assistant, text, user=ADMIN)
    assert replies[-1].title == "Check the agreement"
    assert [c.value for c in replies[-1].choices] == ["isa_save", "isa_change", "isa_cancel"]
    saved = await ask(isa_assistant, "", user=ADMIN, choice="isa_save")
    assert "Added agreement" in saved[0].text
    async with isa_assistant.engine.connect() as conn:
        fire = next(i for i in await list_isas(conn) if i.title == "Fire safety ISA")
    assert fire.owner == ADMIN
    assert fire.channels == ["slack:T1:C0FIRE"]
    assert fire.review_date == date(2028, 1, 1)

    await ask(isa_assistant, f"isa edit {fire.id}", user=ADMIN)
    await ask(isa_assistant, "", user=ADMIN, choice="field:review_date")
    confirm = await ask(isa_assistant, "2029-02-01", user=ADMIN)
    assert confirm[-1].title == "Check the agreement"
    await ask(isa_assistant, "", user=ADMIN, choice="isa_save")
    async with isa_assistant.engine.connect() as conn:
        from bot.storage.register import get_isa

        assert (await get_isa(conn, fire.id)).review_date == date(2029, 2, 1)
    refused = await ask(isa_assistant, f"isa edit {fire.id}", user="local:someone")
    assert "Only an admin" in refused[-1].text
    refused = await ask(isa_assistant, "isa add", user="local:someone")
    assert "only an admin can add" in refused[-1].text


async def test_the_dialog_re_asks_a_bad_answer_with_the_reason(isa_assistant):
    await ask(isa_assistant, "isa add", user=ADMIN)
    await ask(isa_assistant, "Title", user=ADMIN)
    await ask(isa_assistant, "Police", user=ADMIN)
    await ask(isa_assistant, "Purpose", user=ADMIN)
    await ask(isa_assistant, "Health records", user=ADMIN)
    asked = await ask(isa_assistant, "Article 6(1)(e)", user=ADMIN)
    assert "Article 9 condition" in asked[-1].text  # health data is special category
    await ask(isa_assistant, "Article 9(2)(h)", user=ADMIN)
    bad_owner = await ask(isa_assistant, "bob", user=ADMIN)
    assert "is not a user" in bad_owner[0].text
    cancelled = await ask(isa_assistant, "cancel", user=ADMIN)
    assert "Nothing was saved" in cancelled[-1].text


async def test_a_slack_channel_subscribes_under_its_canonical_key(isa_assistant):
    await isa_assistant.handle(turn("isa remind weekly fri 16:30", user="slack:T1:U0ANY",
                                    conversation="slack:T1:C0MASH01"))
    async with isa_assistant.engine.connect() as conn:
        row = (await conn.execute(select(reminder_subscriptions))).one()
    assert (row.channel, row.weekday, row.time_of_day) == ("slack:T1:C0MASH01", 4, "16:30")
    assert row.created_by == "slack:T1:U0ANY"


@pytest.mark.parametrize(("name", "raw", "key", "fields"), [
    ("review_date", "2027-13-01", "not_a_date", {"value": "2027-13-01"}),
    ("document_url", "intranet/isa.pdf", "not_a_web_address", {"value": "intranet/isa.pdf"}),
    ("purpose", "  ", "required", {}),
    ("title", "x" * 301, "too_long", {"limit": 300}),
    ("parties", "", "list_empty", {}),
])
def test_a_wrong_field_value_is_a_keyed_problem_worded_by_content(name, raw, key, fields):
    from bot.isa.model import FieldProblem, validate_field
    from bot.strings import shipped_strings

    with pytest.raises(FieldProblem) as caught:
        validate_field(name, raw, address_book())
    assert caught.value.key == key
    assert caught.value.fields == fields
    assert caught.value.reason(shipped_strings()) == shipped_strings().get(f"isa.problem.{key}", **fields)


def test_the_form_moves_through_named_phases_and_saving_is_an_effect_carrying_the_values():
    from bot.identity import AddressKind
    from bot.strings import shipped_strings
    from dialogs.base import Complete, End, Inbound
    from dialogs.isa_form import ISADialog, ISAForm, ISAPhase

    form = ISADialog(shipped_strings(), ADDRESSES)
    admin = ADDRESSES.parse(ADMIN, AddressKind.USER)

    def said(text: str) -> Inbound:
        return Inbound(text=text, choice=None, now=NOW, user_id=ADMIN, user=admin)

    begun = form.start("edit 4", said(""))
    assert begun.state["phase"] == ISAPhase.PICK
    asked = form.step(begun.state, said("field:review_date"))
    assert (asked.state["phase"], asked.state["field"]) == (ISAPhase.ASK, "review_date")
    refused = form.step(asked.state, said("next spring"))
    assert refused.state["phase"] == ISAPhase.ASK
    assert refused.replies[0].text == shipped_strings().get(
        "isa.dialog.invalid", reason=shipped_strings().get("isa.problem.not_a_date", value="next spring"))
    shown = form.step(asked.state, said("2028-04-28"))
    assert shown.state["phase"] == ISAPhase.CONFIRM
    assert shown.effects == ()
    assert form.step(shown.state, said("isa_save")).effects == (Complete(ISAForm(4, {"review_date": "2028-04-28"})),)
    assert form.step(shown.state, said("cancel")).effects == (End(),)
