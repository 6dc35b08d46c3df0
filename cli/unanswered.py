"""``python -m bot unanswered``: the questions the bot could not answer, most frequent first.

Content owners use this to see what guidance is missing. Questions were redacted by the privacy guard
before they were logged; they are grouped by their normalised text.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("unanswered", help="list questions the bot could not answer, with counts")
    parser.add_argument("--limit", type=int, default=50, help="show at most this many (default 50)")
    parser.set_defaults(func=list_unanswered)


async def list_unanswered(args: argparse.Namespace) -> int:

    from bot.config import load_settings
    from bot.storage.db import create_engine, migrate

    settings = load_settings()
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        rows = await unanswered_counts(engine, args.limit)
    finally:
        await engine.dispose()
    if not rows:
        print("No unanswered questions logged.")
        return 0
    print(f"{'count':>5}  {'last asked':<16}  question")
    for count, last, question in rows:
        print(f"{count:>5}  {last:%Y-%m-%d %H:%M}  {question}")
    return 0


async def unanswered_counts(engine, limit: int) -> list[tuple[int, object, str]]:
    """(count, last asked, normalised question) grouped by normalised text, most frequent first."""
    from sqlalchemy import func, select

    from bot.storage.tables import unanswered_questions as table

    count = func.count().label("count")
    last = func.max(table.c.created_at).label("last")
    query = (select(count, last, table.c.normalised).group_by(table.c.normalised)
             .order_by(count.desc(), last.desc()).limit(limit))
    async with engine.connect() as conn:
        return [(row.count, row.last, row.normalised) for row in await conn.execute(query)]
