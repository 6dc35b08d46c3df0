"""The privacy guard end to end: what reaches the database and the logs, the walkthrough's refusal with its
"It is not a person" path in every channel's rendering, mentions, Teams references, subject access and
erasure for Slack, Teams and local users, and the SQLite file's permissions."""

from __future__ import annotations

import io
import json
import logging
import re
import stat
from pathlib import Path

import yaml
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount, Entity
from sqlalchemy import insert, select

from adapters.slack.blocks import BlockRenderer
from adapters.slack.listeners import user_text
from adapters.teams.cards import adaptive_card
from adapters.teams.references import ReferenceStore
from adapters.teams.translate import text_without_bot_mention
from adapters.terminal import render_reply, run_json
from app import build_assistant
from bot.logs import configure_logging
from bot.messages import ReplyKind
from bot.retention import erase_user, export_user
from bot.storage.db import create_engine, migrate, utcnow
from bot.storage.tables import (
    audit_log,
    conversation_refs,
    conversation_state,
    decision_records,
    isa_snoozes,
    isas,
    privacy_confirmations,
    reminder_subscriptions,
    teams_dialog_routes,
    transcripts,
    users,
)
from dialogs.engine import NOT_A_PERSON
from tests.conftest import make_settings, turn

DEV_CORPUS = Path(__file__).resolve().parent.parent / "bench" / "data" / "privacy-dev.yaml"
# The walkthrough up to "who would you share with?", a free-text step (tests/transcripts).
TO_RECIPIENT = ("decide", "CR-11", "no_purpose", "address")


# ---------------------------------------------------------------------- nothing raw in the database or logs
async def test_no_identifying_span_reaches_the_database_file_or_the_logs_through_chat_json(tmp_path):
    corpus = yaml.safe_load(DEV_CORPUS.read_text(encoding="utf-8"))
    messages = [m["text"] for m in corpus["identifying"]]
    spans = {s["value"] for m in corpus["identifying"] for s in m["spans"]}
    log_stream = io.StringIO()
    configure_logging("DEBUG", stream=log_stream)  # the most a deployment can log, SQL drivers included
    settings = make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'data' / 'bot.db'}")
    assistant = await build_assistant(settings)
    stdin = io.StringIO("".join(json.dumps({"text": text}) + "\n" for text in messages))
    stdout = io.StringIO()
    try:
        await run_json(assistant, "local:web-privacy", stdin, stdout)
    finally:
        await assistant.engine.dispose()
        logging.getLogger().handlers[:] = []
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert len(lines) == len(messages)
    assert all("error" not in line for line in lines)
    stored = b"".join(path.read_bytes() for path in (tmp_path / "data").iterdir()).decode("utf-8", "ignore")
    logged = log_stream.getvalue()
    assert "unanswered question" in logged or "privacy guard fired" in logged  # the logs were written
    for value in spans:
        pattern = re.compile(rf"(?<![\w]){re.escape(value)}(?![\w])")
        assert not pattern.search(stored), f"{value!r} is in the database file"
        assert not pattern.search(logged), f"{value!r} is in the logs"
    # and each reply line says which kinds were found and what was stored
    assert all(line["privacy"]["kinds"] for line in lines)
    assert all(line["privacy"]["kinds"] == sorted(line["privacy"]["kinds"]) for line in lines)


def test_sql_drivers_never_log_parameters_whatever_the_level():
    configure_logging("DEBUG", stream=io.StringIO())
    try:
        for name in ("aiosqlite", "sqlalchemy.engine", "asyncpg", "slack_sdk", "botbuilder"):
            assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name
    finally:
        logging.getLogger().handlers[:] = []


# ---------------------------------------------------------------------- the walkthrough's refusal and confirm path
async def test_a_typed_name_or_place_is_refused_with_a_way_to_confirm_it_is_not_a_person(assistant):
    for text in TO_RECIPIENT:
        await assistant.handle(turn(text))
    replies = await assistant.handle(turn("Oakwood Surgery"))
    assert replies[0].kind is ReplyKind.NOTICE  # the usual warning first, then the step's refusal
    refusal = replies[1]
    assert refusal.text == assistant.strings.get("walkthrough.privacy_confirmable",
                                                 kinds=assistant.strings.get("privacy.kind.institution"))
    assert [c.value for c in refusal.choices] == [NOT_A_PERSON]
    assert refusal.private
    state = await assistant.dialogs.load("local:tester", "local:tester")
    assert "oakwood" not in json.dumps(state).lower()  # a refused answer is never kept

    replies = await assistant.handle(turn(choice=NOT_A_PERSON))
    assert replies[0].text == assistant.strings.get("walkthrough.not_a_person_ok")
    await assistant.handle(turn("Oakwood Surgery, ask for siobhan"))  # confirmed: only the unsure name goes
    state = await assistant.dialogs.load("local:tester", "local:tester")
    assert any(value == "Oakwood Surgery, ask for [name]" for _, value in state["answers"]), state["answers"]
    async with assistant.engine.connect() as conn:
        noted = (await conn.execute(select(privacy_confirmations))).mappings().all()
    assert [(row["word"], row["times"]) for row in noted] == [("oakwood surgery", 1)]
    assert "local:tester" not in json.dumps([dict(r) for r in noted], default=str)


async def test_a_confirmation_counts_once_and_numbers_can_never_be_confirmed(assistant):
    for text in TO_RECIPIENT:
        await assistant.handle(turn(text))
    refused = assistant.strings.get("walkthrough.privacy_refused", kinds="")[:30]
    replies = await assistant.handle(turn("NHS 943 476 5919"))
    assert replies[1].text.startswith(refused)
    assert replies[1].choices == []
    replies = await assistant.handle(turn("Kayden Price"))
    assert [c.value for c in replies[1].choices] == [NOT_A_PERSON]
    await assistant.handle(turn(choice=NOT_A_PERSON))
    replies = await assistant.handle(turn("Jane Smith, NHS 943 476 5919"))  # a number still refuses
    assert replies[1].text.startswith(refused)
    assert replies[1].choices == []
    state = await assistant.dialogs.load("local:tester", "local:tester")
    assert "943 476" not in json.dumps(state)
    assert "Kayden" not in json.dumps(state)


async def test_an_unsure_detail_in_an_accepted_answer_is_stored_redacted(assistant):
    for text in TO_RECIPIENT:
        await assistant.handle(turn(text))
    await assistant.handle(turn("The aunt who looks after kayden"))  # a lower-case first name: unsure
    state = await assistant.dialogs.load("local:tester", "local:tester")
    assert "kayden" not in json.dumps(state).lower()
    assert "[name]" in json.dumps(state)


def test_the_confirm_button_is_rendered_in_every_channel(assistant):
    from bot.messages import Choice, Reply

    strings = assistant.strings
    label = strings.get("walkthrough.choice.not_a_person")
    refusal = Reply(strings.get("walkthrough.privacy_confirmable", kinds="a name"), private=True,
                    choices=[Choice(label, NOT_A_PERSON)])
    slack = BlockRenderer(strings).render(refusal, "D1")
    assert any(e.get("value", "").endswith(NOT_A_PERSON) or NOT_A_PERSON in json.dumps(e)
               for m in slack for b in m.blocks if b["type"] == "actions" for e in b["elements"])
    card = json.dumps(adaptive_card(refusal, strings))
    assert label in card
    assert NOT_A_PERSON in card
    assert label in render_reply(refusal, strings)  # terminal; the web chat shows the same choices list


# ---------------------------------------------------------------------- mentions and Teams references
def test_slack_mentions_read_as_the_name_slack_shows_so_the_guard_can_see_it():
    assert user_text("<@UBOT> can I tell <@U123|alex.smith> about it?", "UBOT") == "can I tell @alex.smith about it?"
    assert user_text("<@UBOT> ask <@U9>") == "ask @someone"  # without the bot's id, the leading mention is it
    assert user_text("ask <@U9> &amp; <@U8|jo>", "", {"U9": "Sam Jones"}) == "ask @Sam Jones & @jo"


def test_teams_mentions_of_colleagues_become_a_colleague():
    activity = Activity(
        text="<at>InfoShare</at> should <at>Alex Smith</at> tell the school?",
        recipient=ChannelAccount(id="28:bot", name="InfoShare"),
        entities=[Entity(type="mention", additional_properties={
                      "mentioned": {"id": "28:bot", "name": "InfoShare"}, "text": "<at>InfoShare</at>"}),
                  Entity(type="mention", additional_properties={
                      "mentioned": {"id": "29:alex", "name": "Alex Smith"}, "text": "<at>Alex Smith</at>"})])
    assert text_without_bot_mention(activity) == "should a colleague tell the school?"


async def test_teams_references_are_stored_without_display_names(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'refs.db'}")
    await migrate(engine)
    try:
        reference = {"user": {"id": "29:user-one", "name": "Alex Smith", "aadObjectId": "aad-1"},
                     "conversation": ConversationAccount(id="a:1").serialize(), "bot": {"id": "28:bot"}}
        await ReferenceStore(engine).save("a:1", reference)
        async with engine.connect() as conn:
            stored = (await conn.execute(select(conversation_refs.c.reference))).scalar_one()
        assert stored["user"] == {"id": "29:user-one", "aadObjectId": "aad-1"}
        assert "Alex" not in json.dumps(stored)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------- subject access and erasure
async def _seed_everywhere(engine, user: str, raw_id: str) -> None:
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(insert(users).values(user_id=user, first_seen=now, last_seen=now))
        await conn.execute(insert(conversation_state).values(user_id=user, conversation_id=f"{user}-dm",
                                                             state={"dialog": "walkthrough"}, updated_at=now))
        await conn.execute(insert(transcripts).values(user_id=user, conversation_id=f"{user}-dm", direction="in",
                                                      text="hello", created_at=now))
        await conn.execute(insert(decision_records).values(
            user_id=user, reference="CR-1", decision="share", summary={"decided_by": user}, content_version="1",
            idempotency_key=f"k-{user}", created_at=now))
        await conn.execute(insert(teams_dialog_routes).values(user_id=user, personal_conversation_id="a:p",
                                                              dialog_conversation_id="c:1", updated_at=now))
        await conn.execute(insert(conversation_refs).values(
            channel="teams", conversation_id=f"a:{raw_id}", team_id=None, updated_at=now,
            reference={"user": {"id": "29:x", "aadObjectId": raw_id}, "conversation": {"id": f"a:{raw_id}"}}))
        isa = await conn.execute(insert(isas).values(
            title="Police ISA", parties=["Police", "School"], purpose="p", data_categories=["contact"],
            lawful_basis="public task", start_date=now.date(), review_date=now.date(), status="active",
            owner=user, channels=[], created_at=now, updated_at=now))
        await conn.execute(insert(isa_snoozes).values(isa_id=isa.inserted_primary_key[0], review_date=now.date(),
                                                      snoozed_until=now.date(), snoozed_by=user, snoozed_at=now))
        await conn.execute(insert(audit_log).values(at=now, actor=user, action="isa.create", details={}))
        await conn.execute(insert(reminder_subscriptions).values(
            channel=f"slack:C-{raw_id}", weekday=0, time_of_day="09:00", timezone="Europe/London", created_by=user,
            created_at=now, active=1))


async def test_sar_and_erasure_cover_every_table_for_slack_teams_and_local_users(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'sar.db'}")
    await migrate(engine)
    try:
        for user, raw in (("slack:T1:U012AB3CD", "U012AB3CD"), ("teams:aad-0000-1111", "aad-0000-1111"),
                          ("local:web-1a2b", "web-1a2b")):
            await _seed_everywhere(engine, user, raw)
        for user in ("slack:T1:U012AB3CD", "teams:aad-0000-1111", "local:web-1a2b"):
            found = set((await export_user(engine, user))["tables"])
            expected = {"users", "conversation_state", "transcripts", "decision_records", "teams_dialog_routes",
                        "isas", "isa_snoozes", "audit_log", "reminder_subscriptions"}
            assert expected <= found, (user, expected - found)
            assert ("conversation_refs" in found) == (not user.startswith("local:")), user
        teams = await export_user(engine, "teams:aad-0000-1111")
        assert "slack:T1:U012AB3CD" not in json.dumps(teams)
        assert "local:web-1a2b" not in json.dumps(teams)

        erased = await erase_user(engine, "teams:aad-0000-1111")
        assert erased["conversation_refs"] == 1
        assert erased["transcripts"] == 1
        remaining = set((await export_user(engine, "teams:aad-0000-1111"))["tables"])
        assert remaining == {"decision_records"}  # case records only on the records manager's instruction
        assert (await erase_user(engine, "teams:aad-0000-1111", include_records=True))["decision_records"] == 1
        assert (await export_user(engine, "teams:aad-0000-1111"))["tables"] == {}
        assert set((await export_user(engine, "slack:T1:U012AB3CD"))["tables"]) >= {"isas", "transcripts"}
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------- the SQLite file
async def test_the_sqlite_file_is_private_to_its_owner(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'fresh' / 'infoshare.db'}")
    await migrate(engine)
    await engine.dispose()
    folder = tmp_path / "fresh"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    (folder / "infoshare.db").chmod(0o644)
    folder.chmod(0o755)
    create_engine(f"sqlite:///{folder / 'infoshare.db'}")  # an existing, too-open file is tightened
    assert stat.S_IMODE((folder / "infoshare.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_ask_json_reports_the_kinds_found_and_the_question_as_stored():
    import subprocess
    import sys

    question = "Can I share Kayden Price's address, 22 Elm Grove, with the school?"
    done = subprocess.run([sys.executable, "-m", "bot", "ask", "--json", question], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    privacy = json.loads(done.stdout)["privacy"]
    assert privacy == {"kinds": ["address", "name"],
                       "redacted": "Can I share [name] address, [address], with the school?"}
