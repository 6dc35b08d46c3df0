"""``python -m bot privacy confirmations``: words users confirmed are not a person, most often first.

When the privacy guard refuses a typed walkthrough answer as a likely name or place, the user may press
"It is not a person". Only the flagged words are kept (never the answer, never who typed it), so a
safeguarding lead can add the services and places the guard keeps mistaking for people to
``content/privacy.yaml`` (``not_names``) and then run ``python -m bot content check``.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("privacy", help="the privacy guard: words users confirmed are not a person")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("confirmations", help="list words users confirmed are not a person, with counts")
    listing.add_argument("--limit", type=int, default=100, help="show at most this many (default 100)")
    listing.set_defaults(func=list_confirmations)


async def list_confirmations(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.storage.confirmations import most_confirmed
    from bot.storage.db import create_engine, migrate

    engine = create_engine(load_settings().database_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            rows = await most_confirmed(conn, args.limit)
    finally:
        await engine.dispose()
    if not rows:
        print("No words confirmed as not a person yet.")
        return 0
    print("Add a word to content/privacy.yaml (not_names) if it is never a person.")
    print(f"{'times':>5}  {'last confirmed':<16}  word")
    for row in rows:
        print(f"{row.times:>5}  {row.last_confirmed:%Y-%m-%d %H:%M}  {row.word}")
    return 0
