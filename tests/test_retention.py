"""Retention purges exactly what is past its period (with an audit entry) and subject access finds everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from bot.retention import ERASE_ACTION, PURGE_ACTION, erase_user, export_user, run_retention
from bot.storage.db import create_engine, migrate, utcnow
from bot.storage.tables import (
    audit_log,
    conversation_state,
    decision_records,
    local_outbox,
    processed_events,
    slack_oauth_states,
    transcripts,
    unanswered_questions,
    users,
)
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent
NOW = utcnow()
OLD = NOW - timedelta(days=31)
RECENT = NOW - timedelta(days=1)
ANCIENT = NOW - timedelta(days=2556)


async def _engine(url: str):
    engine = create_engine(url)
    await migrate(engine)
    return engine


def _record(record_id: int, user: str, at, amends: int | None = None) -> dict:
    return dict(id=record_id, user_id=user, reference=f"CASE-{record_id}", decision="share",
                summary={"purpose": "secret purpose text"}, content_version="1", amends_id=amends,
                idempotency_key=f"record-{record_id}", created_at=at)


async def _seed(engine) -> None:
    async with engine.begin() as conn:
        for user, at in (("local:old", OLD), ("local:new", RECENT)):
            await conn.execute(insert(users).values(user_id=user, first_seen=at, last_seen=at))
            await conn.execute(insert(conversation_state).values(
                user_id=user, conversation_id=user, state={"dialog": "decide"}, updated_at=at))
            await conn.execute(insert(transcripts).values(
                user_id=user, conversation_id=user, direction="in", text="hello", created_at=at))
            await conn.execute(insert(processed_events).values(key=f"turn:{user}", created_at=at))
            await conn.execute(insert(unanswered_questions).values(question="q", normalised="q", created_at=at))
            await conn.execute(insert(local_outbox).values(conversation_id=user, reply={"text": "x"}, created_at=at))
        await conn.execute(insert(decision_records), [
            _record(1, "local:old", ANCIENT),  # expired, nothing newer in its chain: purged
            _record(2, "local:old", ANCIENT),  # expired, but amended recently: kept
            _record(3, "local:old", ANCIENT, amends=2),  # an old amendment in a live chain: kept
            _record(4, "local:old", RECENT, amends=3),
            _record(5, "local:new", RECENT),
        ])
        await conn.execute(insert(audit_log).values(at=ANCIENT, actor="x", action="isa.edit", details={}))


async def _count(engine, table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_run_purges_expired_rows_keeps_recent_and_audits_counts_only(db_url, tmp_path):
    engine = await _engine(db_url)
    try:
        await _seed(engine)
        async with engine.begin() as conn:  # a Slack install begun long ago and never finished
            await conn.execute(insert(slack_oauth_states).values(state="abandoned", expires_at=OLD))
        settings = make_settings(tmp_path, database_url=db_url)
        report = await run_retention(engine, settings, now=NOW)
        assert report.purged == {"conversation_state": 1, "transcripts": 1, "processed_events": 1,
                                 "unanswered_questions": 1, "local_outbox": 1, "users": 1,
                                 "teams_dialog_routes": 0, "slack_oauth_states": 1, "decision_records": 1,
                                 "audit_log": 1}
        async with engine.connect() as conn:
            assert (await conn.execute(select(users.c.user_id))).scalars().all() == ["local:new"]
            assert (await conn.execute(select(transcripts.c.user_id))).scalars().all() == ["local:new"]
            kept = (await conn.execute(select(decision_records.c.id).order_by(decision_records.c.id))).scalars().all()
            assert kept == [2, 3, 4, 5]
            audits = (await conn.execute(select(audit_log))).mappings().all()
        assert [a["action"] for a in audits] == [PURGE_ACTION]
        details = audits[0]["details"]
        assert details["purged"]["decision_records"] == 1
        assert "cutoff" in details
        assert "record_cutoff" in details
        assert "secret purpose" not in json.dumps(details)
        assert "CASE-1" not in json.dumps(details)

        again = await run_retention(engine, settings, now=NOW)
        assert again.total == 0
        assert await _count(engine, audit_log) == 1  # nothing purged, nothing to audit
    finally:
        await engine.dispose()


async def test_dry_run_counts_and_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'dry.db'}"
    engine = await _engine(url)
    try:
        await _seed(engine)
        report = await run_retention(engine, make_settings(tmp_path, database_url=url), now=NOW, dry_run=True)
        assert report.total == 8
        assert await _count(engine, transcripts) == 2
        assert await _count(engine, decision_records) == 5
    finally:
        await engine.dispose()


async def test_periods_are_configurable(tmp_path):
    url = f"sqlite:///{tmp_path / 'cfg.db'}"
    engine = await _engine(url)
    try:
        await _seed(engine)
        settings = replace(make_settings(tmp_path, database_url=url), retention_days=60)
        report = await run_retention(engine, settings, now=NOW)
        assert report.purged["transcripts"] == 0
        assert report.purged["decision_records"] == 1
    finally:
        await engine.dispose()


async def test_scheduled_run_happens_once_per_key_across_replicas(db_url, tmp_path):
    engine = await _engine(db_url)
    try:
        await _seed(engine)
        settings = make_settings(tmp_path, database_url=db_url)
        first = await run_retention(engine, settings, now=NOW, once_key="retention:test-day")
        second = await run_retention(engine, settings, now=NOW, once_key="retention:test-day")
        assert first is not None
        assert first.total == 8
        assert second is None
    finally:
        await engine.dispose()


async def test_subject_access_export_finds_everything_about_one_user_only(db_url):
    engine = await _engine(db_url)
    try:
        await _seed(engine)
        export = await export_user(engine, "local:old")
        tables = export["tables"]
        assert {"users", "conversation_state", "transcripts", "local_outbox", "decision_records"} <= set(tables)
        assert len(tables["decision_records"]) == 4
        rendered = json.dumps(export)
        assert "local:new" not in rendered
        assert json.loads(rendered)["user_id"] == "local:old"
    finally:
        await engine.dispose()


def test_cli_run_and_export(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "SCHEDULER_ENABLED": "false"}
    run = subprocess.run([sys.executable, "-m", "bot", "retention", "run", "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["total"] == 0
    sar = subprocess.run([sys.executable, "-m", "bot", "sar", "local:nobody"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert sar.returncode == 0, sar.stderr
    assert json.loads(sar.stdout)["tables"] == {}


async def test_erase_user_removes_working_data_keeps_records_unless_told(db_url):
    engine = await _engine(db_url)
    try:
        await _seed(engine)
        erased = await erase_user(engine, "local:old")
        assert erased == {"users": 1, "conversation_state": 1, "transcripts": 1, "local_outbox": 1,
                          "teams_dialog_routes": 0, "conversation_refs": 0, "isas.owner": 0, "audit_log.actor": 0,
                          "audit_log.subject": 0, "isa_snoozes.snoozed_by": 0, "reminder_subscriptions.created_by": 0}
        export = await export_user(engine, "local:old")
        assert set(export["tables"]) == {"decision_records"}
        assert (await erase_user(engine, "local:old", include_records=True))["decision_records"] == 4
        async with engine.connect() as conn:
            audits = (await conn.execute(select(audit_log).where(audit_log.c.action == ERASE_ACTION))).mappings().all()
        assert len(audits) == 2
        assert all("local:old" not in json.dumps(dict(a), default=str) for a in audits)
        assert (await export_user(engine, "local:new"))["tables"]["decision_records"]
    finally:
        await engine.dispose()


def test_readme_data_protection_section_names_every_table():
    from bot.storage.tables import metadata

    page = (ROOT / "docs" / "data-protection.md").read_text()
    section = page.split("# Data protection: what is stored", 1)[1].split("\n## ", 1)[0]
    missing = [t.name for t in metadata.sorted_tables if f"`{t.name}`" not in section]
    assert not missing, f"docs/data-protection.md must describe tables: {missing}"
