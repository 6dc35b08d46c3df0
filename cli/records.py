"""``python -m bot records list|show|export``: a user's decision records as text, JSON, CSV or PDF.

Records belong to the practitioner who made them, so every action needs ``--user`` and only ever
reads that user's records (the same rule as ``records`` in chat).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("text", "json", "csv", "pdf")


def record_number(text: str) -> int:
    """argparse type: a record number the database can hold (an absurd one is a usage error, not a crash)."""
    from bot.numbers import whole_number

    number = whole_number(text)
    if number is None:
        raise argparse.ArgumentTypeError(f"{text[:30]!r} is not a record number")
    return number


def register(subparsers) -> None:
    parser = subparsers.add_parser("records", help="list, show or export your decision records")
    sub = parser.add_subparsers(dest="records_command", metavar="ACTION", required=True)
    for name, help_text in (("list", "list recent records"), ("show", "show one record"),
                            ("export", "export one record or all of them")):
        action = sub.add_parser(name, help=help_text)
        action.add_argument("--user", required=True, help="whose records (for example local:alice)")
        if name == "show":
            action.add_argument("id", type=record_number, help="the record number")
        if name == "export":
            action.add_argument("--id", type=record_number, default=None, help="one record (default: all)")
            action.add_argument("--output", "-o", type=Path, default=None,
                                help="file to write (default: standard output; required for pdf)")
        if name == "list":
            action.add_argument("--limit", type=record_number, default=20, help="how many (0 for all; default 20)")
        action.add_argument("--format", choices=FORMATS, default="text")
        action.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot import records
    from bot.config import load_settings
    from bot.storage import records as record_store
    from bot.storage.db import create_engine, migrate
    from bot.strings import load_strings

    settings = load_settings()
    if args.format == "pdf" and not getattr(args, "output", None):
        print("PDF needs a file: add --output records.pdf", file=sys.stderr)
        return 2
    strings = load_strings(settings.content_dir)
    user = args.user if ":" in args.user else f"local:{args.user}"
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        if args.records_command == "list":
            found = await record_store.list_records(engine, user, args.limit or None)
        elif args.records_command == "show" or args.id is not None:
            record_id = args.id
            try:
                found = [await record_store.get_record(engine, user, record_id)]
            except records.RecordNotFound:
                print(strings.get("records.not_found", id=record_id), file=sys.stderr)
                return 1
        else:
            found = list(reversed(await record_store.list_records(engine, user, None)))
    except (SQLAlchemyError, OSError) as exc:
        print(f"Cannot read the records database: {type(exc).__name__}. Check DATABASE_URL.", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()

    if args.format == "pdf":
        args.output.write_bytes(records.export_pdf(found, strings))
        print(f"wrote {len(found)} record(s) to {args.output}", file=sys.stderr)
        return 0
    if args.format == "json":
        output = records.export_json(found) + "\n"
    elif args.format == "csv":
        output = records.export_csv(found)
    elif args.records_command == "list":
        output = "\n".join(records.list_line(r, strings) for r in found) + "\n" if found else \
            strings.get("records.none") + "\n"
    else:
        output = records.export_text(found, strings)
    if getattr(args, "output", None):
        args.output.write_text(output, encoding="utf-8")
        print(f"wrote {len(found)} record(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(output)
    return 0
