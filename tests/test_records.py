"""Decision records: append-only and idempotent storage, owner-only reading, amendments that link to the
original, and the chat and command-line views (text, JSON, CSV, PDF)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot import records
from bot.storage import records as record_store
from bot.storage.db import create_engine, migrate
from bot.storage.tables import decision_records
from cli import main as cli_main
from tests.conftest import make_settings, turn

NOW = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)


def summary(reference: str = "CR-1", decision: str = "do_not_share") -> dict:
    return {"decision": decision, "reference": reference, "purpose": "No clear or legitimate purpose",
            "information": "address history", "recipient": "a neighbour", "lawful_basis": "Not considered",
            "consent": "Not needed", "family_informed": "Not considered", "reasons": ["There is no purpose."],
            "next_steps": ["Review if anything changes."], "content_version": "2026.11.1",
            "decided_at": NOW.isoformat(), "decided_by": "local:alice"}


async def test_store_is_idempotent_and_reading_is_owner_only(db_url):
    engine = create_engine(db_url)
    try:
        await migrate(engine)
        first, created = await record_store.store(engine, "local:alice", summary(), "decision:abc", NOW)
        again, created_again = await record_store.store(engine, "local:alice", summary(), "decision:abc", NOW)
        assert created
        assert not created_again
        assert again.id == first.id
        await record_store.store(engine, "local:bob", summary("CR-2"), "decision:def", NOW)
        assert [r.reference for r in await record_store.list_records(engine, "local:alice")] == ["CR-1"]
        alices = await record_store.get_record(engine, "local:alice", first.id)
        assert alices.summary["information"] == "address history"
        with pytest.raises(records.RecordNotFound):
            await record_store.get_record(engine, "local:bob", first.id)
        async with engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(decision_records))).scalar() == 2
    finally:
        await engine.dispose()


async def test_an_amendment_is_a_new_linked_record_and_the_original_is_unchanged(db_url):
    engine = create_engine(db_url)
    try:
        await migrate(engine)
        original, _ = await record_store.store(engine, "local:alice", summary(), "decision:one", NOW)
        amended = await record_store.amend(engine, "local:alice", original.id, {"information": "previous addresses"},
                                      "typo in the first version", NOW, idempotency_key="amend:x")
        assert amended.id != original.id
        assert amended.amends_id == original.id
        assert amended.summary["information"] == "previous addresses"
        assert amended.summary["amendment_note"] == "typo in the first version"
        kept = await record_store.get_record(engine, "local:alice", original.id)
        assert kept.summary["information"] == "address history"
        with pytest.raises(records.RecordNotFound):
            await record_store.amend(engine, "local:bob", original.id, {"information": "x"}, "not mine", NOW)
        with pytest.raises(ValueError, match="can be amended, not decision"):
            await record_store.amend(engine, "local:alice", original.id, {"decision": "share"}, "no", NOW)
    finally:
        await engine.dispose()


def test_exports_are_copy_ready(tmp_path):
    from bot.config import PROJECT_ROOT
    from bot.strings import load_strings

    strings = load_strings(PROJECT_ROOT / "content")
    record = records.DecisionRecord(1, "local:alice", "CR-1", "do_not_share", summary(), "2026.11.1", None, NOW)
    text = records.export_text([record], strings)
    assert "case reference CR-1 (record #1)" in text
    assert "Decision: Do not share" in text
    assert "Reasons:\n- There is no purpose." in text
    rows = list(csv.DictReader(io.StringIO(records.export_csv([record]))))
    assert rows[0]["reference"] == "CR-1"
    assert rows[0]["decision"] == "do_not_share"
    assert json.loads(records.export_json([record]))[0]["summary"]["recipient"] == "a neighbour"
    assert records.export_pdf([record], strings).startswith(b"%PDF")


async def test_records_in_chat_list_show_and_hide_other_users_records(assistant):
    for text in ("decide", "CR-21", "no_purpose", "address history", "a neighbour"):
        await assistant.handle(turn(text))
    await assistant.handle(turn(choice="record_decision", display_name="Sam Carter"))
    listing = (await assistant.handle(turn("records")))[-1]
    assert "#1" in listing.text
    assert "CR-21" in listing.text
    assert "Do not share" in listing.text
    assert listing.private
    assert listing.choices[0].value == "records show 1"
    shown = (await assistant.handle(turn(choice="records show 1")))[-1]
    assert shown.summary["reference"] == "CR-21"
    assert "Information: address history" in shown.text
    other = await assistant.handle(turn("records show 1", user="local:mallory", conversation="local:mallory"))
    assert "can't find decision record #1" in other[-1].text
    assert "no decision records" in (await assistant.handle(
        turn("records", user="local:mallory", conversation="local:mallory")))[-1].text
    assert "records show N" in (await assistant.handle(turn("records frobnicate")))[-1].text


async def test_records_amend_in_chat_stores_a_linked_record(assistant):
    for text in ("decide", "CR-22", "no_purpose", "address history", "a neighbour"):
        await assistant.handle(turn(text))
    await assistant.handle(turn(choice="record_decision", display_name="Sam Carter"))
    menu = (await assistant.handle(turn("records amend 1")))[-1]
    assert any(c.value == "information" for c in menu.choices)
    await assistant.handle(turn(choice="information"))
    await assistant.handle(turn("previous addresses"))
    await assistant.handle(turn("done"))
    review = (await assistant.handle(turn("wrong description first time")))[-1]
    assert "amends #1" in review.text
    assert "previous addresses" in review.text
    done = (await assistant.handle(turn("Record this")))[-1]
    assert "decision record #2, amending #1" in done.text
    listing = (await assistant.handle(turn("records")))[-1]
    assert "(amends #1)" in listing.text


def test_records_command_line_exports_only_the_users_records(tmp_path, monkeypatch, capsys):
    settings = make_settings(tmp_path)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)

    async def seed() -> None:
        engine = create_engine(settings.database_url)
        await migrate(engine)
        await record_store.store(engine, "local:alice", summary("CR-31"), "decision:31", NOW)
        await record_store.store(engine, "local:bob", summary("CR-32", "share"), "decision:32", NOW)
        await engine.dispose()

    asyncio.run(seed())
    assert cli_main(["records", "list", "--user", "alice"]) == 0
    out = capsys.readouterr().out
    assert "CR-31" in out
    assert "CR-32" not in out
    assert cli_main(["records", "show", "1", "--user", "alice", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["reference"] == "CR-31"
    assert cli_main(["records", "show", "2", "--user", "alice"]) == 1
    assert "can't find" in capsys.readouterr().err
    assert cli_main(["records", "export", "--user", "local:bob", "--format", "csv"]) == 0
    assert "CR-32" in capsys.readouterr().out
    pdf = tmp_path / "out.pdf"
    assert cli_main(["records", "export", "--user", "alice", "--format", "pdf", "--output", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")


def test_decision_time_is_shown_in_local_time_with_its_zone():
    """A social worker reads "14:05 BST", not a UTC offset."""
    from pathlib import Path

    from bot.records import summary_text
    from bot.strings import load_strings

    strings = load_strings(Path(__file__).resolve().parent.parent / "content")
    summary = {"reference": "CR-1", "decision": "share", "decided_at": "2027-07-01T14:05:00+01:00",
               "decided_tz": "BST", "content_version": "x"}
    assert "01 July 2027 14:05 BST" in summary_text(summary, strings)


DO_NOT_SHARE = ("CR-31", "no_purpose", "address history", "a neighbour")


async def walk(assistant, *inputs: str, user: str = "local:tester", conversation: str | None = None,
               display_name: str | None = None) -> list:
    replies: list = []
    for text in ("decide", *inputs):
        replies = await assistant.handle(turn(text, user=user, conversation=conversation or user,
                                              display_name=display_name))
    return replies


async def test_decided_by_names_the_local_user_asked_once_then_remembered_and_changeable(assistant):
    summer = datetime(2026, 7, 1, 11, 59, 40, tzinfo=UTC)  # BST: local time is UTC+1
    assistant.clock = lambda: summer
    draft = (await walk(assistant, *DO_NOT_SHARE))[-1]
    # Before it is recorded the summary does not show an opaque id as if it named someone.
    assert "Decided by: you (Record this asks for your name)" in draft.text
    assert "local:tester" not in draft.text  # an opaque id names nobody to the reader
    assistant.clock = lambda: summer.replace(minute=0, hour=12, second=20)  # the press is a minute later
    asked = await assistant.handle(turn(choice="record_decision"))
    assert "what name should the record show as who decided" in asked[-1].text
    recorded = await assistant.handle(turn("Jane Smith, DSL"))
    assert "Recorded as decision record #1" in recorded[-1].text
    assert not any("identifying details" in r.text for r in recorded)  # their own name: no privacy warning
    shown = (await assistant.handle(turn("records show 1")))[-1]
    assert "Decided by: Jane Smith (DSL) — id local:tester" in shown.text
    assert "Date and time: 01 July 2026 13:00 BST" in shown.text  # the moment it was recorded
    assert "#1 · 01 Jul 2026 13:00 · CR-31" in (await assistant.handle(turn("records")))[-1].text
    stored = await record_store.get_record(assistant.engine, "local:tester", 1)
    for text in (shown.text, records.export_text([stored], assistant.strings), json.dumps(stored.summary)):
        assert "press Record this" not in text
        assert "named below" not in text

    await walk(assistant, *DO_NOT_SHARE)  # the second time: no question, the remembered name
    assert "Recorded as decision record #2" in (await assistant.handle(turn(choice="record_decision")))[-1].text
    changed = await assistant.handle(turn("my name Ali Khan, social worker"))
    assert "Ali Khan, social worker" in changed[-1].text
    assert not any("identifying details" in r.text for r in changed)
    assistant.clock = lambda: summer.replace(hour=14)  # a new walkthrough (its id comes from its start time)
    await walk(assistant, *DO_NOT_SHARE)
    await assistant.handle(turn(choice="record_decision"))
    third = (await assistant.handle(turn("records show 3")))[-1]
    assert "Decided by: Ali Khan (social worker) — id local:tester" in third.text
    assert "Jane Smith" in (await assistant.handle(turn("records show 1")))[-1].text  # records never rewritten
    refused = await assistant.handle(turn("my name 07700 900123"))
    assert "letters only" in refused[-1].text


async def test_a_platform_user_is_named_as_the_platform_knows_them_and_why_in_a_channel_is_private(assistant):
    user, channel = "slack:T1:U1", "slack:T1:C1"
    step = (await walk(assistant, "CR-32", user=user, conversation=channel, display_name="Jane Smith"))[-1]
    assert [a.value for a in step.actions] == ["back", "why", "cancel"]
    why = await assistant.handle(turn(choice="why", user=user, conversation=channel))
    assert why[0].title == "Why I ask this"
    assert all(r.private for r in why)
    typed = await assistant.handle(turn("why", user=user, conversation=channel))
    assert all(r.private for r in typed)
    for text in DO_NOT_SHARE[1:]:
        await assistant.handle(turn(text, user=user, conversation=channel))
    recorded = await assistant.handle(turn(choice="record_decision", user=user, conversation=channel,
                                           display_name="Jane Smith"))
    assert "Recorded as decision record #1" in recorded[-1].text
    shown = (await assistant.handle(turn("records show 1", user=user, conversation=channel)))[-1]
    assert "Decided by: Jane Smith — id slack:T1:U1" in shown.text
    cancelled = await assistant.handle(turn(choice="cancel", user=user, conversation=channel))
    assert "already ended" in cancelled[-1].text  # an old step's Cancel pressed later


def test_an_amendment_moves_through_named_phases_and_confirming_is_an_effect_carrying_the_changes():
    from bot.strings import shipped_strings
    from dialogs.base import Complete, End, Inbound
    from dialogs.walkthrough import Amendment, AmendPhase, AmendRecordDialog

    dialog = AmendRecordDialog(shipped_strings())

    def said(text: str = "", choice: str | None = None) -> Inbound:
        return Inbound(text=text, choice=choice, now=NOW, user_id="local:alice",
                       extra={"record": {"id": 7, "summary": {"information": "address history"}}})

    begun = dialog.start("amend 7", said())
    assert begun.state["phase"] == AmendPhase.PICK
    typing = dialog.step(begun.state, said(choice="information"))
    assert (typing.state["phase"], typing.state["editing"]) == (AmendPhase.TEXT, "information")
    picked = dialog.step(typing.state, said("previous addresses"))
    assert picked.state["phase"] == AmendPhase.PICK
    noting = dialog.step(picked.state, said(choice="back_to_summary"))
    assert noting.state["phase"] == AmendPhase.NOTE
    review = dialog.step(noting.state, said("typo in the first version"))
    assert review.state["phase"] == AmendPhase.REVIEW
    assert review.effects == ()
    [confirmed] = dialog.step(review.state, said(choice="record_decision")).effects
    assert confirmed == Complete(Amendment(7, {"information": "previous addresses"}, "typo in the first version",
                                           begun.state["id"]))
    assert dialog.step(review.state, said("cancel")).effects == (End(),)
