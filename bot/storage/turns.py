"""What a turn reads first, and the "met this user" row of a turn that changes something.

A question turn reads with :func:`read_turn` and leaves its rows (key, user, transcript, unanswered
questions) to the group commit (:mod:`bot.storage.group_commit`); a dialog step or a command claims its
key with :func:`begin_turn` in a transaction of its own first, so it runs at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.db import insert_ignore
from bot.storage.tables import conversation_state, processed_events, unanswered_questions, users

LAST_SEEN_RESOLUTION = timedelta(hours=1)  # ``last_seen`` (which retention reads) is refreshed at most hourly
TRANSCRIPT_CHARS = 4000
KEY_CHARS = 300  # processed_events.key


def seen_long_ago(now: datetime, last_seen: datetime) -> bool:
    """Whether a known user's ``last_seen`` is due a refresh (it is written at most hourly)."""
    return now - last_seen > LAST_SEEN_RESOLUTION


@dataclass(frozen=True, slots=True)
class TurnStart:
    claimed: bool  # False: a turn with this key was already handled (a retried delivery)
    dialog_state: dict[str, Any] | None  # the user's dialog in this conversation, if one is running
    last_seen: datetime | None  # None: we have never met this user
    display_name: str | None = None  # the name (and role) the user typed for their records


# What a turn reads, built once: a statement object keeps its compiled form's cache key, so a turn spends
# nothing building or fingerprinting it (about a tenth of a question turn's CPU when rebuilt every turn).
_STATE = select(conversation_state.c.state).where(
    conversation_state.c.user_id == bindparam("turn_user"),
    conversation_state.c.conversation_id == bindparam("turn_conversation")).scalar_subquery().label("state")
_SEEN = select(users.c.last_seen).where(users.c.user_id == bindparam("turn_user")).scalar_subquery().label("last_seen")
_NAME = select(users.c.display_name).where(
    users.c.user_id == bindparam("turn_user")).scalar_subquery().label("display_name")
_READ = select(_STATE, _SEEN, _NAME)
_HANDLED = exists().where(processed_events.c.key == bindparam("claim_key")).label("handled")
_READ_UNCLAIMED = select(_STATE, _SEEN, _NAME, _HANDLED)
_CLAIMS: dict[str, Any] = {}  # dialect name -> the claim that also reads, INSERT .. ON CONFLICT DO NOTHING RETURNING


def _claim_and_read(conn: AsyncConnection) -> Any:
    name = conn.dialect.name
    if name not in _CLAIMS:
        _CLAIMS[name] = insert_ignore(conn, processed_events).values(
            key=bindparam("claim_key"), created_at=bindparam("claimed_at")).returning(_STATE, _SEEN, _NAME)
    return _CLAIMS[name]


async def begin_turn(conn: AsyncConnection, user_id: str, conversation_id: str, key: str | None,
                     now: datetime) -> TurnStart:
    """Claim the turn's idempotency key and read what the turn needs, in one statement.

    The claim commits with the rest of the caller's transaction, so a failed turn leaves no key
    behind and a retry is handled; a concurrent duplicate finds the key and does nothing.
    """
    who = {"turn_user": user_id, "turn_conversation": conversation_id}
    if key is None:
        row = (await conn.execute(_READ, who)).one()
    else:
        claim = {**who, "claim_key": key[:KEY_CHARS], "claimed_at": now}
        claimed = (await conn.execute(_claim_and_read(conn), claim)).first()
        if claimed is None:
            return TurnStart(False, None, None)
        row = claimed
    return _started(row)


async def read_turn(conn: AsyncConnection, user_id: str, conversation_id: str, key: str | None) -> TurnStart:
    """What :func:`begin_turn` reads, and whether the key was handled already, without claiming it (the
    group commit claims it with the turn's other rows); ``claimed`` is False for a handled key."""
    row = (await conn.execute(_READ_UNCLAIMED, {"turn_user": user_id, "turn_conversation": conversation_id,
                                                 "claim_key": key[:KEY_CHARS] if key else None})).one()
    if row.handled:
        return TurnStart(False, None, None)
    return _started(row)


def _started(row: Any) -> TurnStart:
    return TurnStart(True, dict(row.state) if row.state is not None else None, row.last_seen, row.display_name)


async def touch_user(conn: AsyncConnection, user_id: str, now: datetime, last_seen: datetime | None) -> bool:
    """Remember the user; True the first time we meet them (so the disclaimer shows once).

    ``last_seen`` is what :func:`begin_turn` read; it is refreshed at most hourly, sparing a write per turn.
    """
    if last_seen is None:
        created = await conn.execute(insert_ignore(conn, users).values(user_id=user_id, first_seen=now, last_seen=now))
        return created.rowcount == 1  # a concurrent first turn may have won the race
    if seen_long_ago(now, last_seen):
        await conn.execute(update(users).where(users.c.user_id == user_id).values(last_seen=now))
    return False


async def set_display_name(conn: AsyncConnection, user_id: str, name: str) -> None:
    """Remember the name (and role) the user gave for "Decided by"; the users row exists (touch_user)."""
    await conn.execute(update(users).where(users.c.user_id == user_id).values(display_name=name[:200]))


async def display_name(conn: AsyncConnection, user_id: str) -> str | None:
    """The name a user gave or their platform reported, if any (shown beside their opaque id)."""
    return (await conn.execute(select(users.c.display_name).where(users.c.user_id == user_id))).scalar_one_or_none()


async def unanswered_counts(engine: AsyncEngine, limit: int | None = None) -> list[tuple[int, Any, str]]:
    """(count, last asked, normalised question), most frequent first."""
    table = unanswered_questions
    count, last = func.count().label("count"), func.max(table.c.created_at).label("last")
    query = select(count, last, table.c.normalised).group_by(table.c.normalised).order_by(count.desc(), last.desc())
    if limit:
        query = query.limit(limit)
    async with engine.connect() as conn:
        return [(times, last_asked, question) for times, last_asked, question in await conn.execute(query)]
