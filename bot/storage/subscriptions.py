"""Weekly channel reminders (``reminder_subscriptions``): one row per conversation, turned off, not deleted.

Functions run in the caller's transaction, so a change commits with its audit line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.db import upsert
from bot.storage.tables import reminder_subscriptions as subs


async def for_channel(conn: AsyncConnection, channel: str) -> Any | None:
    """The conversation's subscription row (active or not), or None."""
    return (await conn.execute(select(subs).where(subs.c.channel == channel))).first()


async def turn_off(conn: AsyncConnection, subscription_id: int, reason: str) -> None:
    await conn.execute(update(subs).where(subs.c.id == subscription_id).values(active=0, paused_reason=reason))


async def subscribe(conn: AsyncConnection, channel: str, actor: str, now: datetime, *, weekday: int,
                    time_of_day: str, timezone: str) -> None:
    """Set (or reset and resume) the conversation's weekly reminder, in one statement."""
    values = {"weekday": weekday, "time_of_day": time_of_day, "timezone": timezone, "active": 1,
              "paused_reason": None, "created_by": actor}
    await upsert(conn, subs, {"channel": channel}, values, new_only={"created_at": now})


async def active(conn: AsyncConnection) -> list[Any]:
    """The subscriptions in force."""
    return list((await conn.execute(select(subs).where(subs.c.active == 1))).all())


async def get(conn: AsyncConnection, subscription_id: int) -> Any | None:
    return (await conn.execute(select(subs).where(subs.c.id == subscription_id))).first()
