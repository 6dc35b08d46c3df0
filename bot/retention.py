"""Retention and subject access: keep data only as long as the README says, and show all of it on request.

Two periods, both configurable:

* ``RETENTION_DAYS`` (default 30): conversation state, redacted transcripts, idempotency keys,
  unanswered questions, the local outbox, Teams dialog routes and the "met this user" rows.
* ``RECORD_RETENTION_DAYS`` (default 2555, about seven years): confirmed decision records and the
  audit log. A record is purged only when its whole amendment chain is older than the cutoff, so an
  amendment never points at nothing.

Every run that purges writes one ``audit_log`` entry with the cutoffs and the counts per table,
never any content. ``export_user`` gathers every row that names one user id, in every table, for a
subject access request. Same code on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, String, cast, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from bot.config import Settings
from bot.metrics import metrics
from bot.storage.db import claim_once, utcnow
from bot.storage.tables import (
    audit_log,
    conversation_refs,
    conversation_state,
    decision_records,
    isa_snoozes,
    isas,
    local_outbox,
    metadata,
    processed_events,
    reminder_subscriptions,
    teams_dialog_routes,
    transcripts,
    unanswered_questions,
    users,
)

log = logging.getLogger(__name__)

ACTOR = "system:retention"
PURGE_ACTION = "retention.purge"
DELETE_CHUNK = 500

# Short-lived working data: (table, the column that says how old a row is).
SHORT_LIVED = (
    (conversation_state, conversation_state.c.updated_at),
    (transcripts, transcripts.c.created_at),
    (processed_events, processed_events.c.created_at),
    (unanswered_questions, unanswered_questions.c.created_at),
    (local_outbox, local_outbox.c.created_at),
    (users, users.c.last_seen),
    (teams_dialog_routes, teams_dialog_routes.c.updated_at),
)

# Columns that hold a user id (or a conversation id, which for a personal chat is the user's own);
# any column named ``*_by`` (created_by, snoozed_by ...) counts too, so new tables are covered.
USER_COLUMNS = ("user_id", "owner", "actor", "subject", "conversation_id")


@dataclass
class RetentionReport:
    now: datetime
    cutoff: datetime
    record_cutoff: datetime
    purged: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.purged.values())

    def to_dict(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "cutoff": self.cutoff.isoformat(),
                "record_cutoff": self.record_cutoff.isoformat(), "purged": self.purged,
                "total": self.total, "dry_run": self.dry_run}


async def run_retention(engine: AsyncEngine, settings: Settings, *, now: datetime | None = None,
                        dry_run: bool = False, once_key: str | None = None) -> RetentionReport | None:
    """Purge everything past its retention period; one audit entry says what went (counts only).

    With ``once_key`` the run happens at most once for that key across all replicas (None if it
    already ran); the key commits with the purge, so a failed run is retried next time.
    """
    now = now or utcnow()
    report = RetentionReport(now=now, cutoff=now - timedelta(days=settings.retention_days),
                             record_cutoff=now - timedelta(days=settings.record_retention_days), dry_run=dry_run)
    async with engine.begin() as conn:
        if once_key and not await claim_once(conn, once_key):
            return None
        for table, age in SHORT_LIVED:
            report.purged[table.name] = await _purge(conn, table, age < report.cutoff, dry_run)
        record_ids = await _expired_record_ids(conn, report.record_cutoff)
        report.purged[decision_records.name] = len(record_ids)
        if not dry_run:
            # Newest first: an amendment always has a higher id than what it amends.
            for start in range(0, len(record_ids), DELETE_CHUNK):
                chunk = record_ids[start:start + DELETE_CHUNK]
                await conn.execute(delete(decision_records).where(decision_records.c.id.in_(chunk)))
        report.purged[audit_log.name] = await _purge(conn, audit_log, audit_log.c.at < report.record_cutoff, dry_run)
        if not dry_run and report.total:
            await conn.execute(insert(audit_log).values(
                at=now, actor=ACTOR, action=PURGE_ACTION, subject=None,
                details={"cutoff": report.cutoff.isoformat(), "record_cutoff": report.record_cutoff.isoformat(),
                         "retention_days": settings.retention_days,
                         "record_retention_days": settings.record_retention_days, "purged": report.purged}))
    if not dry_run:
        for table_name, count in report.purged.items():
            if count:
                metrics.inc("retention_rows_purged", count, table=table_name)
    log.info("retention run", extra=report.to_dict())
    return report


async def _purge(conn, table, condition, dry_run: bool) -> int:
    if dry_run:
        return len((await conn.execute(select(*table.primary_key.columns).where(condition))).all())
    return (await conn.execute(delete(table).where(condition))).rowcount or 0


async def _expired_record_ids(conn, cutoff: datetime) -> list[int]:
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


async def run_daily_retention(engine: AsyncEngine, settings: Settings) -> RetentionReport | None:
    """The scheduled run: once a day across all replicas (an idempotency key per UTC date)."""
    return await run_retention(engine, settings, once_key=f"retention:{utcnow().date().isoformat()}")


def start_retention_schedule(app, settings: Settings) -> None:
    """Run retention daily in the background when the scheduler is enabled (called from app.py)."""
    if not settings.scheduler_enabled:
        return
    from bot.background import add_background_task, every
    from bot.http import ASSISTANT

    async def job() -> None:
        await run_daily_retention(app[ASSISTANT].engine, settings)

    add_background_task(app, "retention", every(3600, job, name="retention", first_delay=60))


# ---------------------------------------------------------------------- subject access
async def export_user(engine: AsyncEngine, user_id: str, legacy_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every row, in every table, that names ``user_id``: the answer to a subject access request.

    ``user_id`` is a canonical identity key. ``legacy_keys`` are older forms of it that a migration
    could not rewrite (a Slack id whose workspace was unknown): rows under them may be this person's
    or someone with the same id in another workspace, so they are listed apart, for review.
    """
    async with engine.connect() as conn:
        tables = await _rows_naming(conn, (user_id,))
        legacy = await _rows_naming(conn, legacy_keys) if legacy_keys else {}
    export: dict[str, Any] = {"user_id": user_id, "exported_at": utcnow().isoformat(), "tables": tables,
                              "not_linked_to_users": ["unanswered_questions (redacted, anonymous)",
                                                      "processed_events (delivery ids only)"]}
    if legacy:
        export["legacy_matches"] = {"keys": list(legacy_keys), "tables": legacy,
                                    "note": "stored without a workspace; check they are this person's"}
    return export


async def _rows_naming(conn, keys: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
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


def _names_user(table, keys: tuple[str, ...]) -> ColumnElement[bool] | None:
    """Where ``table`` names one of ``keys``: an id column equal to it, or a JSON column holding it
    (walkthrough state, decision summaries, Teams conversation references, reminder payloads)."""
    conditions: list[ColumnElement[bool]] = [
        c.in_(keys) for c in table.c if c.name in USER_COLUMNS or c.name.endswith("_by") or c.name == "channel"]
    conditions += [cast(c, String).contains(form, autoescape=True)
                   for c in table.c if isinstance(c.type, JSON) for key in keys for form in _json_forms(key)]
    return or_(*conditions) if conditions else None


async def _pseudonymise_json(conn, user_id: str, pseudonym: str) -> None:
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


# ---------------------------------------------------------------------- erasure
ERASE_ACTION = "retention.erase_user"
# Working data about a user that an erasure request removes; decision records only on instruction,
# because they are case records the organisation may be obliged to keep.
ERASABLE = (
    (users, users.c.user_id),
    (conversation_state, conversation_state.c.user_id),
    (transcripts, transcripts.c.user_id),
    (local_outbox, local_outbox.c.conversation_id),
    (teams_dialog_routes, teams_dialog_routes.c.user_id),
)
# Accountability data that names a user: kept, but the name becomes the erasure's pseudonym, so the
# register's history still shows that one person made those changes, and no longer who.
PSEUDONYMISED = (
    (isas, isas.c.owner),
    (audit_log, audit_log.c.actor),
    (audit_log, audit_log.c.subject),
    (isa_snoozes, isa_snoozes.c.snoozed_by),
    (reminder_subscriptions, reminder_subscriptions.c.created_by),
)


async def erase_user(engine: AsyncEngine, user_id: str, *, include_records: bool = False,
                     actor: str = "cli") -> dict[str, int]:
    """Delete what is held about ``user_id``; the audit entry names a hash of the id, not the id.

    The register and audit rows that name the user keep their place with the pseudonym
    ``erased:sha256:…`` instead (an agreement they owned then needs a new owner: ``isa edit``).
    """
    import hashlib

    digest = hashlib.sha256(user_id.encode()).hexdigest()[:16]
    erased: dict[str, int] = {}
    async with engine.begin() as conn:
        for table, column in ERASABLE:
            erased[table.name] = (await conn.execute(delete(table).where(column == user_id))).rowcount or 0
        # The user's personal chat with the bot (a Teams reference holds their ids; never used again).
        personal = conversation_refs.c.team_id.is_(None) & _names_user(conversation_refs, (user_id,))
        erased[conversation_refs.name] = (await conn.execute(delete(conversation_refs).where(personal))).rowcount or 0
        for table, column in PSEUDONYMISED:
            changed = (await conn.execute(update(table).where(column == user_id)
                                          .values({column.name: f"erased:sha256:{digest}"}))).rowcount or 0
            erased[f"{table.name}.{column.name}"] = changed
        await _pseudonymise_json(conn, user_id, f"erased:sha256:{digest}")
        if include_records:
            ids = (await conn.execute(select(decision_records.c.id).where(decision_records.c.user_id == user_id)
                                      .order_by(decision_records.c.id.desc()))).scalars().all()
            if ids:
                await conn.execute(delete(decision_records).where(decision_records.c.id.in_(ids)))
            erased[decision_records.name] = len(ids)
        await conn.execute(insert(audit_log).values(
            at=utcnow(), actor=actor, action=ERASE_ACTION, subject=f"sha256:{digest}",
            details={"erased": erased, "include_records": include_records}))
    log.info("user data erased", extra={"subject": f"sha256:{digest}", "erased": erased})
    return erased
