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
        first, created = await records.store(engine, "local:alice", summary(), "decision:abc", NOW)
        again, created_again = await records.store(engine, "local:alice", summary(), "decision:abc", NOW)
        assert created and not created_again and again.id == first.id
        await records.store(engine, "local:bob", summary("CR-2"), "decision:def", NOW)
        assert [r.reference for r in await records.list_records(engine, "local:alice")] == ["CR-1"]
        assert (await records.get_record(engine, "local:alice", first.id)).summary["information"] == "address history"
        with pytest.raises(records.RecordNotFound):
            await records.get_record(engine, "local:bob", first.id)
        async with engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(decision_records))).scalar() == 2
    finally:
        await engine.dispose()


async def test_an_amendment_is_a_new_linked_record_and_the_original_is_unchanged(db_url):
    engine = create_engine(db_url)
    try:
        await migrate(engine)
        original, _ = await records.store(engine, "local:alice", summary(), "decision:one", NOW)
        amended = await records.amend(engine, "local:alice", original.id, {"information": "previous addresses"},
                                      "typo in the first version", NOW, idempotency_key="amend:x")
        assert amended.id != original.id and amended.amends_id == original.id
        assert amended.summary["information"] == "previous addresses"
        assert amended.summary["amendment_note"] == "typo in the first version"
        kept = await records.get_record(engine, "local:alice", original.id)
        assert kept.summary["information"] == "address history"
        with pytest.raises(records.RecordNotFound):
            await records.amend(engine, "local:bob", original.id, {"information": "x"}, "not mine", NOW)
        with pytest.raises(ValueError):
            await records.amend(engine, "local:alice", original.id, {"decision": "share"}, "no", NOW)
    finally:
        await engine.dispose()


def test_exports_are_copy_ready(tmp_path):
    from bot.config import PROJECT_ROOT
    from bot.strings import load_strings

    strings = load_strings(PROJECT_ROOT / "content")
    record = records.DecisionRecord(1, "local:alice", "CR-1", "do_not_share", summary(), "2026.11.1", None, NOW)
    text = records.export_text([record], strings)
    assert "case reference CR-1 (record #1)" in text and "Decision: Do not share" in text
    assert "Reasons:\n- There is no purpose." in text
    rows = list(csv.DictReader(io.StringIO(records.export_csv([record]))))
    assert rows[0]["reference"] == "CR-1" and rows[0]["decision"] == "do_not_share"
    assert json.loads(records.export_json([record]))[0]["summary"]["recipient"] == "a neighbour"
    assert records.export_pdf([record], strings).startswith(b"%PDF")


async def test_records_in_chat_list_show_and_hide_other_users_records(assistant):
    for text in ("decide", "CR-21", "no_purpose", "address history", "a neighbour"):
        await assistant.handle(turn(text))
    await assistant.handle(turn(choice="record_decision"))
    listing = (await assistant.handle(turn("records")))[-1]
    assert "#1" in listing.text and "CR-21" in listing.text and "Do not share" in listing.text
    assert listing.private and listing.choices[0].value == "records show 1"
    shown = (await assistant.handle(turn(choice="records show 1")))[-1]
    assert shown.summary["reference"] == "CR-21" and "Information: address history" in shown.text
    other = await assistant.handle(turn("records show 1", user="local:mallory", conversation="local:mallory"))
    assert "can't find decision record #1" in other[-1].text
    assert "no decision records" in (await assistant.handle(
        turn("records", user="local:mallory", conversation="local:mallory")))[-1].text
    assert "records show N" in (await assistant.handle(turn("records frobnicate")))[-1].text


async def test_records_amend_in_chat_stores_a_linked_record(assistant):
    for text in ("decide", "CR-22", "no_purpose", "address history", "a neighbour"):
        await assistant.handle(turn(text))
    await assistant.handle(turn(choice="record_decision"))
    menu = (await assistant.handle(turn("records amend 1")))[-1]
    assert any(c.value == "information" for c in menu.choices)
    await assistant.handle(turn(choice="information"))
    await assistant.handle(turn("previous addresses"))
    await assistant.handle(turn("done"))
    review = (await assistant.handle(turn("wrong description first time")))[-1]
    assert "amends #1" in review.text and "previous addresses" in review.text
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
        await records.store(engine, "local:alice", summary("CR-31"), "decision:31", NOW)
        await records.store(engine, "local:bob", summary("CR-32", "share"), "decision:32", NOW)
        await engine.dispose()

    asyncio.run(seed())
    assert cli_main(["records", "list", "--user", "alice"]) == 0
    out = capsys.readouterr().out
    assert "CR-31" in out and "CR-32" not in out
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
