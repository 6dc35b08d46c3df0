"""Reminder occurrences (``reminder_occurrences``): the exactly-once outbox the scheduler works from.

Each planned reminder is one row with a unique key, so every replica may insert the same plan. A
replica sends a row only after its UPDATE took the lease (status ``claimed``, ``lease_owner`` its
id), and finishes it only while it still holds that lease.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.db import insert_ignore
from bot.storage.tables import reminder_occurrences as occ


class OccurrenceStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Due, and pending, failed and due for a retry, or claimed by a replica whose lease ran out."""
    return and_(occ.c.due_at <= now, or_(
        occ.c.status == OccurrenceStatus.PENDING,
        and_(occ.c.status == OccurrenceStatus.FAILED, occ.c.next_attempt_at <= now),
        and_(occ.c.status == OccurrenceStatus.CLAIMED, occ.c.lease_until < now),
    ))


async def keys_due_after(conn: AsyncConnection, start: datetime) -> set[str]:
    """The keys already stored for occurrences due after ``start`` (so a plan adds only new ones)."""
    return set((await conn.execute(select(occ.c.key).where(occ.c.due_at > start))).scalars())


async def add(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """Store one occurrence; False if its key is already stored (another replica planned it too)."""
    return (await conn.execute(insert_ignore(conn, occ).values(**row))).rowcount == 1


async def claimable(conn: AsyncConnection, now: datetime, limit: int | None = None) -> list[Any]:
    """Occurrences a replica may claim at ``now``, oldest due first."""
    query = select(occ).where(_claimable(now)).order_by(occ.c.due_at, occ.c.id)
    return list((await conn.execute(query.limit(limit) if limit else query)).all())


async def claim(conn: AsyncConnection, occurrence_id: int, now: datetime, worker_id: str,
                lease_until: datetime) -> bool:
    """Take the lease on one occurrence; True only for the one replica whose UPDATE matched."""
    result = await conn.execute(
        update(occ).where(occ.c.id == occurrence_id, _claimable(now))
        .values(status=OccurrenceStatus.CLAIMED, lease_owner=worker_id, lease_until=lease_until,
                attempts=occ.c.attempts + 1))
    return result.rowcount == 1


async def finish(conn: AsyncConnection, occurrence_id: int, worker_id: str, **values: Any) -> bool:
    """Give up the lease with the outcome (``status`` and its details); False if the lease was lost."""
    result = await conn.execute(update(occ).where(occ.c.id == occurrence_id, occ.c.lease_owner == worker_id,
                                                  occ.c.status == OccurrenceStatus.CLAIMED)
                                .values(lease_owner=None, lease_until=None, **values))
    return result.rowcount == 1


async def release(conn: AsyncConnection, worker_id: str, sending: Collection[int]) -> int:
    """Give back the worker's claims except those ``sending`` (their leases must expire instead)."""
    query = update(occ).where(occ.c.lease_owner == worker_id, occ.c.status == OccurrenceStatus.CLAIMED)
    if sending:
        query = query.where(occ.c.id.not_in(sending))
    result = await conn.execute(query.values(status=OccurrenceStatus.PENDING, lease_owner=None, lease_until=None,
                                             attempts=occ.c.attempts - 1))
    return result.rowcount
