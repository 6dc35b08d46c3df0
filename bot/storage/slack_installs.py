"""Slack workspaces the app is installed in (``slack_installations``, tokens already encrypted) and the
OAuth ``state`` values of installs in progress (``slack_oauth_states``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.db import upsert
from bot.storage.tables import slack_installations as installs
from bot.storage.tables import slack_oauth_states as states

STATE_CHARS = 64


async def save(conn: AsyncConnection, key: dict[str, str], values: dict[str, Any]) -> None:
    """Insert or replace the installation with this key (``enterprise_id``, ``team_id``)."""
    await upsert(conn, installs, key, values)


async def find(conn: AsyncConnection, enterprise_id: str, team_id: str) -> Any | None:
    return (await conn.execute(select(installs).where(installs.c.enterprise_id == enterprise_id,
                                                      installs.c.team_id == team_id))).first()


async def find_for_team(conn: AsyncConnection, team_id: str) -> Any | None:
    return (await conn.execute(select(installs).where(installs.c.team_id == team_id))).first()


async def remove(conn: AsyncConnection, enterprise_id: str, team_ids: list[str]) -> int:
    """Delete the installations of these teams in this enterprise; how many rows went."""
    result = await conn.execute(delete(installs).where(installs.c.enterprise_id == enterprise_id,
                                                       installs.c.team_id.in_(team_ids)))
    return result.rowcount


async def issue_state(conn: AsyncConnection, state: str, now: datetime, expires_at: datetime) -> None:
    """Store a new state, clearing the expired ones."""
    await conn.execute(delete(states).where(states.c.expires_at < now))
    await conn.execute(states.insert().values(state=state, expires_at=expires_at))


async def consume_state(conn: AsyncConnection, state: str, now: datetime) -> bool:
    """Use a state once: True if it existed and had not expired (it is gone either way)."""
    deleted = await conn.execute(delete(states).where(states.c.state == state[:STATE_CHARS],
                                                      states.c.expires_at >= now))
    return deleted.rowcount == 1
