"""``python -m bot retention run|export-user|erase-user`` (and ``python -m bot sar USER_ID``).

``run`` purges what is past its retention period now (``--dry-run`` only counts; ``--json`` prints
the report). ``export-user`` prints, as JSON, everything held about one user id: the answer to a
subject access request. ``erase-user`` deletes a user's working data (and, with
``--include-records``, their decision records), leaving an audit entry without the id itself.
"""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("retention", help="purge expired data; export or erase what is held about a user")
    commands = parser.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    run = commands.add_parser("run", help="purge everything past its retention period")
    run.add_argument("--dry-run", action="store_true", help="count what would be purged, change nothing")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.set_defaults(func=_run)
    export = commands.add_parser("export-user", help="print everything held about USER_ID as JSON")
    export.add_argument("user_id", metavar="USER_ID", help="a user's canonical id, e.g. slack:T1:U1 or local:alice")
    export.set_defaults(func=_export)
    erase = commands.add_parser("erase-user", help="delete the working data held about USER_ID (audited)")
    erase.add_argument("user_id", metavar="USER_ID")
    erase.add_argument("--include-records", action="store_true",
                       help="also delete the user's decision records (only on your records manager's instruction)")
    erase.set_defaults(func=_erase)
    sar = subparsers.add_parser("sar", help="subject access: everything held about USER_ID, as JSON")
    sar.add_argument("user_id", metavar="USER_ID")
    sar.set_defaults(func=_export, retention_command=None)


async def _engine():
    from bot.config import load_settings
    from bot.storage.db import create_engine, migrate

    settings = load_settings()
    engine = create_engine(settings.database_url)
    await migrate(engine)
    return settings, engine


async def _run(args) -> int:
    from bot.retention import run_retention

    settings, engine = await _engine()
    try:
        report = await run_retention(engine, settings, dry_run=args.dry_run)
    finally:
        await engine.dispose()
    if report is None:  # only a run with a once-only key can be skipped, and this one has none
        return 1
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    verb = "would purge" if args.dry_run else "purged"
    print(f"Retention: {verb} {report.total} rows (working data before {report.cutoff:%Y-%m-%d %H:%M} UTC, "
          f"decision records before {report.record_cutoff:%Y-%m-%d %H:%M} UTC)")
    for table, count in report.purged.items():
        print(f"  {table:<24} {count}")
    return 0


def _identity(args):
    """The canonical identity USER_ID names (read by its channel), or None after saying what is wrong."""
    from app import address_book
    from bot.identity import AddressError, AddressKind
    from bot.strings import shipped_strings

    try:
        return address_book().parse(args.user_id, AddressKind.USER)
    except AddressError as exc:
        print(f"{args.retention_command or 'sar'}: {exc.reason(shipped_strings())}", file=sys.stderr)
        return None


async def _export(args) -> int:
    from app import address_book
    from bot.retention import export_user

    identity = _identity(args)
    if identity is None:
        return 2
    _settings, engine = await _engine()
    try:
        data = await export_user(engine, identity.key, address_book().legacy_keys(identity))
    finally:
        await engine.dispose()
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    print()
    return 0


async def _erase(args) -> int:
    from bot.retention import erase_user

    identity = _identity(args)
    if identity is None:
        return 2
    _settings, engine = await _engine()
    try:
        erased = await erase_user(engine, identity.key, include_records=args.include_records)
    finally:
        await engine.dispose()
    print(json.dumps({"erased": erased}))
    return 0
