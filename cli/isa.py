"""``python -m bot isa import FILE`` and ``python -m bot isa export [--format csv|yaml]``."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("isa", help="import or export the register of Information Sharing Agreements")
    actions = parser.add_subparsers(dest="isa_command", metavar="ACTION", required=True)
    importer = actions.add_parser("import", help="add or update agreements from a CSV or YAML file (all or nothing)")
    importer.add_argument("file", help="a .csv file with the fixed header, or a .yaml/.yml list of agreements")
    importer.set_defaults(func=run_import)
    exporter = actions.add_parser("export", help="write the register to standard output")
    exporter.add_argument("--format", choices=("csv", "yaml"), default="csv")
    exporter.set_defaults(func=run_export)


async def _engine():
    from bot.config import load_settings
    from bot.logs import configure_logging

    configure_logging("WARNING")
    from bot.storage.db import create_engine, migrate

    engine = create_engine(load_settings().database_url)
    await migrate(engine)
    return engine


async def run_import(args) -> int:
    import getpass
    from pathlib import Path

    from app import address_book
    from bot.isa.importexport import ImportFailed, import_agreements, read_file
    from bot.storage.db import utcnow

    try:
        agreements = read_file(Path(args.file), address_book())
    except ImportFailed as exc:
        print(f"{args.file}: nothing imported; fix these and try again:", file=sys.stderr)
        for error in exc.errors:
            print(f"{args.file}: {error}", file=sys.stderr)
        return 1
    engine = await _engine()
    try:
        counts = await import_agreements(engine, agreements, f"cli:{getpass.getuser()}", utcnow())
    finally:
        await engine.dispose()
    print(f"Imported {args.file}: {counts['added']} added, {counts['updated']} updated, "
          f"{counts['unchanged']} unchanged.")
    return 0


async def run_export(args) -> int:
    from bot.isa.importexport import export_agreements

    engine = await _engine()
    try:
        sys.stdout.write(await export_agreements(engine, args.format))
    finally:
        await engine.dispose()
    return 0
