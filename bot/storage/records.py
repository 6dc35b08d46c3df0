"""Decision records in the database: appended once, read only by their owner, amended by a new row.

A record is stored in a durable transaction (fsync on SQLite) before anything is posted, so a confirmed
decision survives a crash; the idempotency key makes a retried "Record this" find the earlier record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.records import DecisionRecord, RecordNotFound
from bot.storage.db import durable_transaction
from bot.storage.tables import decision_records
from bot.summary import AMENDABLE_FIELDS


def _record(row: Any) -> DecisionRecord:
    return DecisionRecord(id=row.id, user_id=row.user_id, reference=row.reference, decision=row.decision,
                          summary=dict(row.summary), content_version=row.content_version,
                          amends_id=row.amends_id, created_at=row.created_at)


async def _by_key(conn: AsyncConnection, key: str) -> DecisionRecord | None:
    row = (await conn.execute(select(decision_records).where(decision_records.c.idempotency_key == key))).first()
    return _record(row) if row else None


async def store(engine: AsyncEngine, user_id: str, summary: dict[str, Any], idempotency_key: str,
                now: datetime, amends_id: int | None = None) -> tuple[DecisionRecord, bool]:
    """Store a confirmed summary once; (record, True) if new, (the earlier record, False) on a retry."""
    reference = str(summary.get("reference", ""))[:100]
    decision = str(summary["decision"])
    content_version = str(summary.get("content_version", ""))[:40]
    values = dict(user_id=user_id, reference=reference, decision=decision, summary=summary,
                  content_version=content_version, amends_id=amends_id, idempotency_key=idempotency_key,
                  created_at=now)
    try:
        async with durable_transaction(engine) as conn:
            existing = await _by_key(conn, idempotency_key)
            if existing is not None:
                return existing, False
            record_id = (await conn.execute(insert(decision_records).values(**values)
                                            .returning(decision_records.c.id))).scalar_one()
    except IntegrityError:  # a concurrent retry won the race on the unique key
        async with engine.connect() as conn:
            existing = await _by_key(conn, idempotency_key)
        if existing is None:
            raise
        return existing, False
    return DecisionRecord(id=record_id, user_id=user_id, reference=reference, decision=decision, summary=summary,
                          content_version=content_version, amends_id=amends_id, created_at=now), True


async def list_records(engine: AsyncEngine, user_id: str, limit: int | None = 10) -> list[DecisionRecord]:
    """The user's own records, newest first."""
    query = (select(decision_records).where(decision_records.c.user_id == user_id)
             .order_by(decision_records.c.created_at.desc(), decision_records.c.id.desc()))
    if limit:
        query = query.limit(limit)
    async with engine.connect() as conn:
        return [_record(row) for row in await conn.execute(query)]


async def get_record(engine: AsyncEngine, user_id: str, record_id: int) -> DecisionRecord:
    """One of the user's own records; RecordNotFound for a missing id or someone else's."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(decision_records).where(
            decision_records.c.id == record_id, decision_records.c.user_id == user_id))).first()
    if row is None:
        raise RecordNotFound(record_id)
    return _record(row)


async def amend(engine: AsyncEngine, user_id: str, record_id: int, changes: dict[str, str], note: str,
                now: datetime, idempotency_key: str | None = None) -> DecisionRecord:
    """A new record linked to ``record_id`` with some free-text fields corrected; the original stays."""
    unknown = set(changes) - set(AMENDABLE_FIELDS)
    if unknown:
        raise ValueError(f"only {', '.join(AMENDABLE_FIELDS)} can be amended, not {', '.join(sorted(unknown))}")
    original = await get_record(engine, user_id, record_id)
    summary = {**original.summary, **changes, "amendment_note": note, "amends_id": record_id,
               "amended_at": now.isoformat()}
    key = idempotency_key or f"amend:{record_id}:{now.isoformat()}"
    record, _ = await store(engine, user_id, summary, key, now, amends_id=record_id)
    return record
