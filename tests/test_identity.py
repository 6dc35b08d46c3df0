"""One identity key per person: subject access and erasure find a Slack user's register and audit rows,
another workspace's user with the same id is never an admin, and migration 0008 rewrites old ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, select

from app import address_book, build_assistant
from bot.identity import AddressError, AddressKind, AddressProblem
from bot.storage.db import alembic_config, create_engine, migrate
from bot.storage.tables import audit_log, isas, reminder_occurrences, reminder_subscriptions, users
from bot.strings import shipped_strings
from tests.conftest import make_settings, turn

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
BOSS = "slack:T1:U0BOSS"
ADD_FORM = ("isa add title=Fire ISA | parties=Fire service; Children's services | purpose=Home fire safety visits | "
            "data_categories=Address | lawful_basis=Article 6(1)(e) | start_date=2027-01-01 | review_date=2028-01-01")


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, "SCHEDULER_ENABLED": "false", "ADMINS": ""}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


async def _slack_admin_assistant(tmp_path, db_url: str, admins=(BOSS,)):
    built = await build_assistant(make_settings(tmp_path, database_url=db_url, admins=admins))
    built.clock = lambda: NOW
    return built


async def test_subject_access_and_erasure_of_a_slack_user_cover_the_register_and_audit_rows(tmp_path, db_url):
    assistant = await _slack_admin_assistant(tmp_path, db_url)
    try:
        added = await assistant.handle(turn(ADD_FORM, user=BOSS, conversation="slack:T1:D0BOSS"))
        assert any("Added agreement" in r.text for r in added)
        await assistant.handle(turn("isa remind weekly mon 09:00", user=BOSS, conversation="slack:T1:C0TEAM"))
    finally:
        await assistant.engine.dispose()

    sar = _cli(db_url, "sar", BOSS)
    assert sar.returncode == 0, sar.stderr
    tables = json.loads(sar.stdout)["tables"]
    assert {"users", "transcripts", "isas", "audit_log", "reminder_subscriptions"} <= set(tables)
    assert [row["owner"] for row in tables["isas"]] == [BOSS]
    assert {row["action"] for row in tables["audit_log"]} >= {"isa.create", "reminder.set"}
    assert "legacy_matches" not in json.loads(sar.stdout)  # migration left nothing without a workspace

    erased = _cli(db_url, "retention", "erase-user", BOSS)
    assert erased.returncode == 0, erased.stderr
    counts = json.loads(erased.stdout)["erased"]
    assert counts["isas.owner"] == 1
    assert counts["audit_log.actor"] >= 2
    assert counts["users"] == 1
    after = _cli(db_url, "sar", BOSS)
    assert json.loads(after.stdout)["tables"] == {}, "erasure left rows that still name the user"
    assert BOSS not in _cli(db_url, "isa", "export").stdout


async def test_another_workspaces_user_with_the_same_id_is_never_an_admin(tmp_path, db_url):
    assistant = await _slack_admin_assistant(tmp_path, db_url, admins=(BOSS, "slack:U0LEGACY", "nobody"))
    try:
        assert assistant.admins == frozenset({BOSS})  # entries naming no one exactly grant nothing
        for impostor in ("slack:T2:U0BOSS", "slack:T1:U0LEGACY", "slack:T9:U0LEGACY"):
            refused = await assistant.handle(turn(ADD_FORM, user=impostor, conversation=impostor))
            assert "Only an admin" in refused[-1].text, impostor
        allowed = await assistant.handle(turn(ADD_FORM, user=BOSS, conversation=BOSS))
        assert any("Added agreement" in r.text for r in allowed)
        async with assistant.engine.connect() as conn:
            assert (await conn.execute(select(isas.c.owner))).scalars().all() == [BOSS]
    finally:
        await assistant.engine.dispose()


async def test_a_slack_user_typing_an_address_means_their_own_workspace(tmp_path, db_url):
    assistant = await _slack_admin_assistant(tmp_path, db_url)
    try:
        await assistant.handle(turn(ADD_FORM + " | owner=slack:U0LEAD | channels=slack:C0FIRE; local",
                                    user=BOSS, conversation=BOSS))
        async with assistant.engine.connect() as conn:
            row = (await conn.execute(select(isas.c.owner, isas.c.channels))).one()
        assert (row.owner, row.channels) == ("slack:T1:U0LEAD", ["slack:T1:C0FIRE", "local"])
    finally:
        await assistant.engine.dispose()
    addresses = address_book()
    with pytest.raises(AddressError) as caught:
        addresses.parse("slack:U0LEAD", AddressKind.USER)  # the command line has no workspace to assume
    assert caught.value.key == AddressProblem.NO_WORKSPACE
    assert caught.value.reason(shipped_strings()) == shipped_strings().get(
        "address.no_workspace", text="slack:U0LEAD", kind="user", id="U0LEAD")


def _upgrade_to_before_identity(sync_connection) -> None:
    for head in ("0004_teams", "0007_isa"):
        command.upgrade(alembic_config(sync_connection), head)


async def _legacy_database(db_url: str, known_users: list[str]):
    engine = create_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_to_before_identity)
        for user in known_users:
            await conn.execute(insert(users).values(user_id=user, first_seen=NOW, last_seen=NOW))
        await conn.execute(insert(isas).values(
            title="MASH", parties=["Police"], purpose="p", data_categories=["Address"], lawful_basis="6(1)(e)",
            owner="slack:U1", start_date=date(2026, 1, 1), review_date=date(2028, 1, 1), status="active",
            channels=["slack:C1", "teams:19:abc@thread.tacv2"], created_at=NOW, updated_at=NOW))
        await conn.execute(insert(audit_log), [
            {"at": NOW, "actor": "slack:U1", "action": "isa.add", "subject": "isa:1", "details": {}},
            {"at": NOW, "actor": "slack:U9", "action": "reminder.set", "subject": "slack:C1", "details": {}}])
        await conn.execute(insert(reminder_subscriptions).values(
            channel="slack:C1", weekday=0, time_of_day="09:00", timezone="Europe/London", active=1,
            created_by="slack:U9", created_at=NOW))
        await conn.execute(insert(reminder_occurrences).values(
            key="channel:1:2027-03-01T09:00:slack:C1", kind="channel_reminder", channel="slack:C1", due_at=NOW,
            status="sent", attempts=1))
    return engine


async def test_migration_gives_legacy_slack_ids_the_workspace_the_database_knows(db_url):
    engine = await _legacy_database(db_url, ["slack:T1:U1", "local:someone"])
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            isa = (await conn.execute(select(isas))).one()
            actors = (await conn.execute(select(audit_log.c.actor, audit_log.c.subject).order_by(audit_log.c.id))).all()
            sub = (await conn.execute(select(reminder_subscriptions))).one()
            occurrence = (await conn.execute(select(reminder_occurrences))).one()
        assert isa.owner == "slack:T1:U1"
        assert isa.channels == ["slack:T1:C1", "teams:19:abc@thread.tacv2"]
        # U9 was never seen, but T1 is the only workspace this database knows: a single-workspace install.
        assert [tuple(a) for a in actors] == [("slack:T1:U1", "isa:1"), ("slack:T1:U9", "slack:T1:C1")]
        assert (sub.channel, sub.created_by) == ("slack:T1:C1", "slack:T1:U9")
        assert (occurrence.channel, occurrence.key) == ("slack:T1:C1", "channel:1:2027-03-01T09:00:slack:T1:C1")
    finally:
        await engine.dispose()


async def test_migration_leaves_an_id_whose_workspace_is_unknown_and_sar_lists_it_for_review(db_url, tmp_path):
    engine = await _legacy_database(db_url, ["slack:T1:U1", "slack:T2:U2"])
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            actors = (await conn.execute(select(audit_log.c.actor).order_by(audit_log.c.id))).scalars().all()
        assert actors == ["slack:T1:U1", "slack:U9"]  # U9: two workspaces known, never seen in either
    finally:
        await engine.dispose()
    sar = json.loads(_cli(db_url, "sar", "slack:T2:U9").stdout)
    assert sar["tables"] == {}
    assert sar["legacy_matches"]["keys"] == ["slack:U9"]
    assert {"audit_log", "reminder_subscriptions"} <= set(sar["legacy_matches"]["tables"])
