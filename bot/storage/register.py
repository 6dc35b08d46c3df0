"""The ISA register in the database: create, update, find, and the audit trail of every change.

Every write goes through :func:`save_isa` inside the caller's transaction, which records who changed
what and when (a field-by-field diff) in ``audit_log``; so an import of many rows, or one chat edit,
is all-or-nothing together with its audit lines.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.isa.model import ISA, REVIEWABLE, ISAStatus, diff
from bot.storage.tables import audit_log, isa_snoozes, isas


class ISANotFound(LookupError):
    pass


def subject(isa_id: int) -> str:
    return f"isa:{isa_id}"


async def audit(conn: AsyncConnection, actor: str, action: str, subject_: str | None, details: dict[str, Any],
                at: datetime) -> None:
    await conn.execute(insert(audit_log).values(at=at, actor=actor, action=action, subject=subject_,
                                                details=details))


async def save_isa(conn: AsyncConnection, isa: ISA, actor: str, now: datetime, action: str | None = None) -> ISA:
    """Insert (``isa.id is None``) or update an ISA and audit the change; returns it with its id."""
    if isa.id is None:
        isa.id = (await conn.execute(insert(isas).values(**isa.values(), created_at=now, updated_at=now)
                                     .returning(isas.c.id))).scalar_one()
        await audit(conn, actor, action or "isa.create", subject(isa.id), {"changes": diff(None, isa)}, now)
        return isa
    before = await get_isa(conn, isa.id)
    changes = diff(before, isa)
    if not changes:
        return isa
    await conn.execute(update(isas).where(isas.c.id == isa.id).values(**isa.values(), updated_at=now))
    await audit(conn, actor, action or "isa.update", subject(isa.id), {"changes": changes}, now)
    return isa


async def get_isa(conn: AsyncConnection, isa_id: int) -> ISA:
    row = (await conn.execute(select(isas).where(isas.c.id == isa_id))).first()
    if row is None:
        raise ISANotFound(isa_id)
    return ISA.from_row(row)


async def isas_by_id(conn: AsyncConnection, isa_ids: set[int]) -> dict[int, ISA]:
    """The agreements with these ids (a deleted one is simply absent)."""
    if not isa_ids:
        return {}
    return {row.id: ISA.from_row(row) for row in await conn.execute(select(isas).where(isas.c.id.in_(isa_ids)))}


async def list_isas(conn: AsyncConnection, statuses: tuple[ISAStatus, ...] | None = None,
                    by_review_date: bool = True) -> list[ISA]:
    query = select(isas).order_by(isas.c.review_date, isas.c.id) if by_review_date else select(isas).order_by(isas.c.id)
    if statuses:
        query = query.where(isas.c.status.in_([str(s) for s in statuses]))
    return [ISA.from_row(row) for row in await conn.execute(query)]


async def due_isas(conn: AsyncConnection, today: date, within_days: int) -> list[ISA]:
    """Agreements in force whose review is overdue or falls within ``within_days``."""
    query = (select(isas).where(isas.c.status.in_([str(s) for s in REVIEWABLE]),
                                isas.c.review_date <= today + timedelta(days=within_days))
             .order_by(isas.c.review_date, isas.c.id))
    return [ISA.from_row(row) for row in await conn.execute(query)]


async def upsert_by_title(conn: AsyncConnection, agreements: list[ISA], actor: str, now: datetime) -> dict[str, int]:
    """Import: a row whose title matches an existing ISA updates it, others are added (audited each)."""
    existing = {isa.title.strip().lower(): isa for isa in await list_isas(conn)}
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    for isa in agreements:
        current = existing.get(isa.title.strip().lower())
        if current is None:
            await save_isa(conn, isa, actor, now, action="isa.import")
            counts["added"] += 1
            continue
        isa.id = current.id
        if diff(current, isa):
            await save_isa(conn, isa, actor, now, action="isa.import")
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return counts


async def history(conn: AsyncConnection, isa_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(select(audit_log).where(audit_log.c.subject == subject(isa_id))
                              .order_by(audit_log.c.at, audit_log.c.id))
    return [dict(row._mapping) for row in rows]


# ---------------------------------------------------------------- snoozes
async def snooze(conn: AsyncConnection, isa: ISA, until: date, actor: str, now: datetime) -> None:
    """Hold the review reminders of the current review cycle until ``until`` (then one reminder)."""
    if isa.id is None:
        raise ValueError("an agreement must be saved before its review can be snoozed")
    await conn.execute(delete(isa_snoozes).where(isa_snoozes.c.isa_id == isa.id))
    await conn.execute(insert(isa_snoozes).values(isa_id=isa.id, review_date=isa.review_date, snoozed_until=until,
                                                  snoozed_by=actor, snoozed_at=now))
    await audit(conn, actor, "isa.snooze", subject(isa.id),
                {"review_date": isa.review_date.isoformat(), "snoozed_until": until.isoformat()}, now)


async def snoozes(conn: AsyncConnection) -> dict[int, tuple[date, date]]:
    """isa id -> (review date the snooze applies to, snoozed until)."""
    rows = await conn.execute(select(isa_snoozes))
    return {row.isa_id: (row.review_date, row.snoozed_until) for row in rows}
