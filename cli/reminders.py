"""``python -m bot reminders run-due [--now 2027-03-29T09:00] [--json] [--dry-run]``: one scheduler pass.

A ``--now`` without an offset is local time (``TIMEZONE``). Sends through the same exactly-once
machinery as the server, so running twice for the same time sends nothing the second time. Local
reminders go to the local outbox (the web chat and terminal show them); Slack and Teams are used when
configured (SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET; MicrosoftAppId).
Sends that fail are listed on standard error and retried on a later run, never dropped.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime


def register(subparsers) -> None:
    parser = subparsers.add_parser("reminders", help="run due ISA review and channel reminders")
    actions = parser.add_subparsers(dest="reminders_command", metavar="ACTION", required=True)
    run = actions.add_parser("run-due", help="send the reminders due at a time (default: now), once")
    run.add_argument("--now", help="ISO date-time, e.g. 2027-03-29T09:00 (local time unless it has an offset)")
    run.add_argument("--json", action="store_true", help="print one JSON line per reminder sent")
    run.add_argument("--dry-run", action="store_true", help="show what would be sent; send and record nothing")
    run.set_defaults(func=run_due)


def parse_now(text: str | None, timezone) -> datetime:
    from bot.storage.db import utcnow

    if not text:
        return utcnow()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--now must be an ISO date-time such as 2027-03-29T09:00, got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone)


async def run_due(args) -> int:
    from app import build_assistant, open_senders
    from bot.config import ConfigError, load_settings
    from bot.logs import configure_logging
    from bot.reminders.scheduler import ReminderScheduler

    configure_logging("WARNING")  # skipped and failed reminders are logged; stdout stays for the results

    try:
        settings = load_settings()
        now = parse_now(args.now, settings.tz)
    except (ConfigError, ValueError) as exc:
        print(f"reminders run-due: {exc}", file=sys.stderr)
        return 2
    assistant = await build_assistant(settings)
    closers = []
    try:
        scheduler = ReminderScheduler(assistant)
        if args.dry_run:
            sent, failed = await scheduler.preview(now), []
        else:
            closers = await open_senders(assistant)
            report = await scheduler.run_due(now)
            sent, failed = report.sent, report.failed
    finally:
        for close in closers:
            await close()
        await assistant.close()
    for item in sent:
        if args.json:
            print(json.dumps(item.to_json(), ensure_ascii=False))
        else:
            verb = "would send" if args.dry_run else "sent"
            print(f"{verb} {item.kind} {item.isa or ''} to {item.channel} (due {item.occurrence})".replace("  ", " "))
    for failure in failed:
        kind = "undeliverable" if failure.permanent else "failed, will retry"
        print(f"{failure.kind} to {failure.channel}: {kind}: {failure.reason}", file=sys.stderr)
    if not args.json:
        print(f"{len(sent)} reminder(s) {'due' if args.dry_run else 'sent'}, {len(failed)} failed.", file=sys.stderr)
    return 0
