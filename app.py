#!/usr/bin/env python3
"""The composition root, and the only one: builds the assistant, and the one aiohttp server every
channel plugs into. The command line (cli/) builds through the same functions, so the server and the
CLI get the same assistant, the same address parsers and, through :data:`CHANNELS`, the same senders.

``python3 app.py`` creates ``.venv`` and installs requirements on first run, then serves the local
web chat on http://localhost:3978 (SQLite under data/ by default), plus Slack at /slack/events and
Teams at /api/messages when they are configured.
"""

from __future__ import annotations

if __name__ == "__main__":  # bootstrap before importing anything outside the standard library
    from scripts.bootstrap import ensure_venv

    ensure_venv(["requirements.txt"])

import logging
import sys

from aiohttp import web
from sqlalchemy.engine import make_url

from adapters import Channel, Close
from adapters.slack.channel import SlackChannel
from adapters.teams.channel import TeamsChannel
from adapters.web import WebChannel
from bot.config import ConfigError, Settings, load_settings
from bot.content import load_content
from bot.core import DATABASE_ERRORS, Assistant
from bot.http import (
    ASSISTANT,
    PortInUse,
    error_middleware,
    install_http_protections,
    port_in_use,
    run_server,
    setup_health,
)
from bot.identity import AddressError, Addresses, AddressKind
from bot.isa import install_isa
from bot.logs import configure_logging
from bot.metrics import setup_metrics
from bot.qa import QuestionEngine
from bot.reminders.scheduler import start_reminder_scheduler
from bot.retention import start_retention_schedule
from bot.storage.db import create_engine, migrate
from bot.walkthrough import install_walkthrough
from bot.yamlload import ContentError

log = logging.getLogger("app")

# Every channel the bot can serve; each decides from the settings whether it is switched on.
CHANNELS: tuple[Channel, ...] = (WebChannel(), SlackChannel(), TeamsChannel())
ENABLED = web.AppKey("enabled_channels", list)  # what build_app mounted, by name ("local web chat", ...)


async def build_assistant(settings: Settings) -> Assistant:
    """Everything channel-neutral: content, database, question engine, dialogs and commands."""
    content = load_content(settings.content_dir)
    engine = create_engine(settings.database_url)
    await migrate(engine)
    assistant = Assistant(settings, engine, content, QuestionEngine(content), addresses=address_book())
    assistant.admins = admin_keys(settings.admins, assistant.addresses)
    install_walkthrough(assistant)  # `decide`, `records`, the walkthrough and amendment dialogs
    install_isa(assistant)  # the ISA register: `isa` command, register questions, ISA dialog
    return assistant


def address_book() -> Addresses:
    """Every channel's address parser: how typed owners, reminder channels and ADMINS are read."""
    addresses = Addresses()
    for channel in CHANNELS:
        addresses.register(channel.addresses)
    return addresses


def admin_keys(entries: tuple[str, ...], addresses: Addresses) -> frozenset[str]:
    """ADMINS as canonical user keys; an entry that names no one exactly grants nothing and is logged.

    ``slack:U1`` (no workspace) is such an entry: it could be anyone called U1 in any workspace.
    """
    keys = set()
    for entry in entries:
        try:
            keys.add(addresses.key(entry, AddressKind.USER))
        except AddressError as exc:
            log.warning("ADMINS entry ignored", extra={"reason": str(exc)})
    return frozenset(keys)


async def open_senders(assistant: Assistant) -> list[Close]:
    """Register the proactive sender of every configured channel without a server (the CLI's way).

    Returns what to close afterwards. A channel whose sender is already registered is left alone.
    """
    closers = []
    for channel in CHANNELS:
        if channel.name in assistant.delivery.channels():
            continue
        opened = await channel.open_sender(assistant)
        if opened is not None:
            sender, close = opened
            assistant.delivery.register(channel.name, sender)
            closers.append(close)
    return closers


async def build_app(settings: Settings) -> web.Application:
    """The aiohttp application with every enabled channel mounted on it."""
    assistant = await build_assistant(settings)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[error_middleware])
    app[ASSISTANT] = assistant
    install_http_protections(app, settings)
    setup_health(app)
    # Each channel mounts itself and registers its sender (SDKs are imported only when mounted).
    enabled = [mounted for channel in CHANNELS if (mounted := channel.mount(app, assistant))]
    setup_metrics(app, assistant)
    start_retention_schedule(app, settings)
    start_reminder_scheduler(app, assistant)  # ISA review and channel reminders, exactly once
    app[ENABLED] = enabled
    log.info("channels enabled: " + (", ".join(enabled) or "none"))

    async def _close(_app: web.Application) -> None:
        await assistant.close()  # the turns still being written first

    app.on_cleanup.append(_close)
    return app


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, log_format=settings.log_format)
    if port_in_use(settings.host, settings.port):
        print(_port_in_use_line(settings), file=sys.stderr)
        return 1

    def announce(app: web.Application) -> None:
        print(_ready_line(settings, app[ENABLED]), file=sys.stderr, flush=True)

    try:
        run_server(build_app(settings), settings, shutdown_timeout=15, on_listening=announce)
    except PortInUse:  # taken between the check and the bind
        print(_port_in_use_line(settings), file=sys.stderr)
        return 1
    except ContentError as exc:
        print(f"Content is invalid; fix these and start again:\n{exc}", file=sys.stderr)
        return 2
    except DATABASE_ERRORS as exc:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        print(f"Cannot use the database at {where}: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    return 0


def _port_in_use_line(settings: Settings) -> str:
    return (f"Cannot start: port {settings.port} on {settings.host} is already in use (is the assistant already "
            f"running?). Stop the other program, or choose another port: PORT={settings.port + 1} python3 app.py")


def _ready_line(settings: Settings, enabled: list[str]) -> str:
    """The one line meant for the person who started the server: where to go now."""
    if WebChannel.name_shown in enabled:
        return f"Information sharing assistant: open http://{_display_host(settings.host)}:{settings.port}"
    served = ", ".join(enabled) or "no channels (set up Slack or Teams: see README.md)"
    return (f"Information sharing assistant: listening on {settings.host}:{settings.port} for {served}. "
            "The web chat is off: it has no sign-in, so it is on by default only on a loopback HOST "
            "(WEB_CHAT_ENABLED, docs/security.md).")


def _display_host(host: str) -> str:
    return "localhost" if host in {"127.0.0.1", "0.0.0.0", "::"} else host


if __name__ == "__main__":
    sys.exit(main())
