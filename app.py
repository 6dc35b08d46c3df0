#!/usr/bin/env python3
"""The composition root: builds the one aiohttp server that every channel plugs into.

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

from adapters.teams import setup_teams
from adapters.web import setup_web
from bot.config import ConfigError, Settings, load_settings
from bot.content import load_content
from bot.core import DATABASE_ERRORS, Assistant
from bot.http import ASSISTANT, error_middleware, install_http_protections, run_server, setup_health
from bot.isa import install_isa
from bot.logs import configure_logging
from bot.metrics import setup_metrics
from bot.qa import QuestionEngine
from bot.reminders.scheduler import start_reminder_scheduler
from bot.retention import start_retention_schedule
from bot.storage.db import create_engine, migrate
from bot.yamlload import ContentError
from dialogs.walkthrough import install_walkthrough

log = logging.getLogger("app")


async def build_assistant(settings: Settings) -> Assistant:
    """Everything channel-neutral: content, database, question engine, dialogs and commands."""
    content = load_content(settings.content_dir)
    engine = create_engine(settings.database_url)
    await migrate(engine)
    assistant = Assistant(settings, engine, content, QuestionEngine(content))
    install_walkthrough(assistant)  # runner as assistant.dialogs; `decide`, `records`, walkthrough
    install_isa(assistant)  # the ISA register: `isa` command, register questions, ISA dialog
    return assistant


async def build_app(settings: Settings) -> web.Application:
    """The aiohttp application with every enabled channel mounted on it."""
    assistant = await build_assistant(settings)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[error_middleware])
    app[ASSISTANT] = assistant
    install_http_protections(app, settings)
    setup_health(app)
    if settings.web_chat_enabled:  # off by default off loopback: the local chat has no sign-in
        setup_web(app, assistant)
    setup_metrics(app, assistant)
    start_retention_schedule(app, settings)
    start_reminder_scheduler(app, assistant)  # ISA review and channel reminders, exactly once
    enabled = ["local web chat"] if settings.web_chat_enabled else []
    if settings.slack_enabled:  # imported only when used: slack-bolt adds start-up time
        from adapters.slack import setup_slack

        enabled.append(setup_slack(app, assistant, settings))
    else:
        log.info("Slack not enabled: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to turn it on")
    if teams := setup_teams(app, assistant, settings):  # botbuilder is imported inside, only when mounted
        enabled.append(teams)
    log.info("channels enabled", extra={"channels": enabled})

    async def _close(_app: web.Application) -> None:
        await assistant.engine.dispose()

    app.on_cleanup.append(_close)
    return app


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)

    async def serve() -> web.Application:
        app = await build_app(settings)

        async def announce(_app: web.Application) -> None:
            print(f"Information sharing assistant: open http://{_display_host(settings.host)}:{settings.port}",
                  file=sys.stderr, flush=True)

        app.on_startup.append(announce)
        return app

    try:
        run_server(serve(), settings, shutdown_timeout=15)
    except ContentError as exc:
        print(f"Content is invalid; fix these and start again:\n{exc}", file=sys.stderr)
        return 2
    except DATABASE_ERRORS as exc:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        print(f"Cannot use the database at {where}: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    return 0


def _display_host(host: str) -> str:
    return "localhost" if host in {"127.0.0.1", "0.0.0.0", "::"} else host


if __name__ == "__main__":
    sys.exit(main())
