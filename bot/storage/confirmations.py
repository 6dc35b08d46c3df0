"""Words users confirmed are not a person: counted for the content owner's veto list (content/privacy.yaml).

Only the word, how often and when: never the answer it came from nor who typed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.db import upsert
from bot.storage.tables import privacy_confirmations as table

WORD_CHARS = 200


async def count_not_people(conn: AsyncConnection, words: Iterable[str], now: datetime) -> None:
    """One more confirmation for each word (a first one starts its count)."""
    for word in words:
        await upsert(conn, table, {"word": word[:WORD_CHARS]}, {"last_confirmed": now},
                     new_only={"times": 1, "first_confirmed": now}, update_only={"times": table.c.times + 1})


async def most_confirmed(conn: AsyncConnection, limit: int) -> list[Any]:
    """The most often confirmed words first (ties alphabetically)."""
    return list((await conn.execute(select(table).order_by(table.c.times.desc(), table.c.word)
                                    .limit(max(1, limit)))).all())
