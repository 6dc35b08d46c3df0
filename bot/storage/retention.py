"""The retention and subject-access statements: purge by age, find every row naming a user, erase.

The policy (the periods, the schedule, the once-a-day key, the metrics) is in :mod:`bot.retention`;
each function here runs in the caller's transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, String, Table, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from bot.storage.tables import (
    DELETE,
    PSEUDONYMISE,
    WORKING,
    audit_log,
    conversation_refs,
    decision_records,
    metadata,
)

DELETE_CHUNK = 500

# Every rule below is derived from the policy each table declares (``info=policy(...)`` in tables.py), so a
# new table is purged, erased and pseudonymised as it says without a second list to keep in step.
_POLICIES = [(table, table.info) for table in metadata.tables.values() if table.info]

# Short-lived working data: (table, the column that says how old a row is).
SHORT_LIVED = tuple((table, table.c[rule["age"]]) for table, rule in _POLICIES
                    if rule["retention"] == WORKING and rule["age"])

# Columns that hold a user id (or a conversation id, which for a personal chat is the user's own);
# any column named ``*_by`` (created_by, snoozed_by ...) counts too, so new tables are covered.
USER_COLUMNS = ("user_id", "owner", "actor", "subject", "conversation_id")


# Working data about a user that an erasure request removes; decision records only on instruction,
# because they are case records the organisation may be obliged to keep.
ERASABLE = tuple((table, table.c[rule["erase_by"] or rule["subject"][0]]) for table, rule in _POLICIES
                 if rule["erase"] == DELETE)
# Accountability data that names a user: kept, but the name becomes the erasure's pseudonym, so the
# register's history still shows that one person made those changes, and no longer who.
PSEUDONYMISED = tuple((table, table.c[name]) for table, rule in _POLICIES if rule["erase"] == PSEUDONYMISE
                      for name in ((rule["erase_by"],) if rule["erase_by"] else rule["subject"]))


async def purge_expired(conn: AsyncConnection, cutoff: datetime, record_cutoff: datetime,
                        dry_run: bool) -> dict[str, int]:
    """Rows past their period, per table (working data before ``cutoff``, records and audit before
    ``record_cutoff``); with ``dry_run`` only counted."""
    purged = {table.name: await _purge(conn, table, age < cutoff, dry_run) for table, age in SHORT_LIVED}
    record_ids = await _expired_record_ids(conn, record_cutoff)
    purged[decision_records.name] = len(record_ids)
    if not dry_run:
        # Newest first: an amendment always has a higher id than what it amends.
        for start in range(0, len(record_ids), DELETE_CHUNK):
            chunk = record_ids[start:start + DELETE_CHUNK]
            await conn.execute(delete(decision_records).where(decision_records.c.id.in_(chunk)))
    purged[audit_log.name] = await _purge(conn, audit_log, audit_log.c.at < record_cutoff, dry_run)
    return purged


async def _purge(conn: AsyncConnection, table: Table, condition: ColumnElement[bool], dry_run: bool) -> int:
    if dry_run:
        return len((await conn.execute(select(*table.primary_key.columns).where(condition))).all())
    return (await conn.execute(delete(table).where(condition))).rowcount or 0


async def _expired_record_ids(conn: AsyncConnection, cutoff: datetime) -> list[int]:
    """Records older than the cutoff whose amendment chain has nothing newer, newest id first."""
    rows = (await conn.execute(select(decision_records.c.id, decision_records.c.amends_id,
                                      decision_records.c.created_at))).all()
    parent = {row.id: row.amends_id for row in rows}
    keep: set[int] = set()
    for row in rows:
        if _aware(row.created_at) >= cutoff:
            node: int | None = row.id
            while node is not None and node not in keep:
                keep.add(node)
                node = parent.get(node)
    return sorted((row.id for row in rows if row.id not in keep), reverse=True)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def rows_naming(conn: AsyncConnection, keys: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """Every row, per table, that names one of ``keys`` (values made JSON-plain)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in metadata.sorted_tables:
        condition = _names_user(table, keys)
        if condition is None:
            continue
        rows = (await conn.execute(select(table).where(condition))).mappings().all()
        if rows:
            tables[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
    return tables


def _json_forms(key: str) -> list[str]:
    """How an identity key appears inside JSON: quoted, as itself and as the channel's own id after its
    prefix (a Teams conversation reference holds the bare object id; a Slack payload the bare user id)."""
    forms = {key}
    bare = key.rsplit(":", 1)[-1]
    if not key.startswith("local:") and len(bare) >= 6 and any(ch.isdigit() for ch in bare):
        forms.add(bare)  # an opaque channel id ("U012AB3CD", an Entra GUID), never an everyday word
    return [json.dumps(form) for form in sorted(forms)]


def _names_user(table: Table, keys: tuple[str, ...]) -> ColumnElement[bool] | None:
    """Where ``table`` names one of ``keys``: an id column equal to it, or a JSON column holding it
    (walkthrough state, decision summaries, Teams conversation references, reminder payloads)."""
    conditions: list[ColumnElement[bool]] = [
        c.in_(keys) for c in table.c if c.name in USER_COLUMNS or c.name.endswith("_by") or c.name == "channel"]
    conditions += [cast(c, String).contains(form, autoescape=True)
                   for c in table.c if isinstance(c.type, JSON) for key in keys for form in _json_forms(key)]
    return or_(*conditions) if conditions else None


async def erase_rows(conn: AsyncConnection, user_id: str, pseudonym: str, include_records: bool) -> dict[str, int]:
    """Delete the user's working data, put ``pseudonym`` where accountability data names them, and
    (``include_records``) delete their decision records; the counts per table (and column)."""
    erased: dict[str, int] = {}
    for table, column in ERASABLE:
        erased[table.name] = (await conn.execute(delete(table).where(column == user_id))).rowcount or 0
    # The user's personal chat with the bot (a Teams reference holds their ids; never used again).
    personal = conversation_refs.c.team_id.is_(None) & _names_user(conversation_refs, (user_id,))
    erased[conversation_refs.name] = (await conn.execute(delete(conversation_refs).where(personal))).rowcount or 0
    for table, column in PSEUDONYMISED:
        changed = (await conn.execute(update(table).where(column == user_id)
                                      .values({column.name: pseudonym}))).rowcount or 0
        erased[f"{table.name}.{column.name}"] = changed
    await _pseudonymise_json(conn, user_id, pseudonym)
    if include_records:
        ids = (await conn.execute(select(decision_records.c.id).where(decision_records.c.user_id == user_id)
                                  .order_by(decision_records.c.id.desc()))).scalars().all()
        if ids:
            await conn.execute(delete(decision_records).where(decision_records.c.id.in_(ids)))
        erased[decision_records.name] = len(ids)
    return erased


async def _pseudonymise_json(conn: AsyncConnection, user_id: str, pseudonym: str) -> None:
    """The same pseudonym inside the JSON the organisation keeps (an audit entry's changes, a reminder's
    payload); decision records are case records and are left to ``--include-records``."""
    bare = {json.loads(form) for form in _json_forms(user_id)} - {user_id}
    for table in metadata.sorted_tables:
        if table is decision_records or any(table is erasable for erasable, _ in ERASABLE):
            continue
        for column in (c for c in table.c if isinstance(c.type, JSON)):
            condition = or_(*(cast(column, String).contains(form, autoescape=True) for form in _json_forms(user_id)))
            key = list(table.primary_key.columns)
            for row in (await conn.execute(select(*key, column).where(condition))).all():
                value = _scrub(row[-1], user_id, bare, pseudonym)
                await conn.execute(update(table).where(*(k == row[i] for i, k in enumerate(key)))
                                   .values({column.name: value}))


def _scrub(value: Any, user_id: str, bare: set[str], pseudonym: str) -> Any:
    if isinstance(value, str):
        return pseudonym if value in bare else value.replace(user_id, pseudonym)
    if isinstance(value, list):
        return [_scrub(v, user_id, bare, pseudonym) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, user_id, bare, pseudonym) for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (datetime, date)) else value
