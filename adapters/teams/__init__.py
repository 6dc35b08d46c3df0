"""Microsoft Teams: the bot on botbuilder's CloudAdapter at POST /api/messages.

Every botbuilder / botframework / msrest import lives in this package, so replacing the archived Bot
Framework SDK with the Microsoft 365 Agents SDK changes this package alone (see the README).
``setup_teams`` mounts the endpoint and registers the proactive sender for ``teams:`` addresses.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.config import Settings
from bot.core import Assistant

log = logging.getLogger(__name__)
ROUTE = "/api/messages"


def setup_teams(app: web.Application, assistant: Assistant, settings: Settings) -> str | None:
    """Mount Teams on ``app``; returns the channel's name, or None (with the reason logged) if refused."""
    from adapters.teams.auth import anonymous_refusal

    refusal = anonymous_refusal(settings)
    if refusal:
        log.error("Teams not mounted", extra={"reason": refusal})
        return None

    from botbuilder.integration.aiohttp import CloudAdapter

    from adapters.teams.auth import PooledBotFrameworkAuthentication, keep_signing_keys_fresh
    from adapters.teams.endpoint import MessagesEndpoint, allowed_tenants, turn_error_handler
    from adapters.teams.handler import TeamsBot
    from adapters.teams.references import ReferenceStore
    from adapters.teams.sender import TeamsSender

    if not settings.microsoft_app_id:
        log.info("Teams: /api/messages is in local emulator mode (unauthenticated, loopback only); set "
                 "MicrosoftAppId and MicrosoftAppPassword to connect to Teams")
    authentication = PooledBotFrameworkAuthentication.from_settings(settings)
    adapter = CloudAdapter(authentication)
    adapter.on_turn_error = turn_error_handler(assistant.strings)
    references = ReferenceStore(assistant.engine)
    bot = TeamsBot(assistant, references)
    tenants = allowed_tenants(settings)
    if not tenants:
        log.info("Teams answers any tenant: set ALLOWED_TENANTS to restrict a MultiTenant bot")
    app.router.add_post(ROUTE, MessagesEndpoint(adapter, authentication, bot, tenants).handle)
    assistant.delivery.register("teams", TeamsSender(adapter, references, assistant.strings,
                                                     settings.microsoft_app_id))

    async def start_key_refresh(_app: web.Application) -> None:
        if settings.microsoft_app_id:
            key_refresh.append(asyncio.create_task(keep_signing_keys_fresh(authentication.metadata_url)))

    async def close_connections(_app: web.Application) -> None:
        for task in key_refresh:
            task.cancel()
        await authentication.pool.close()

    key_refresh: list[asyncio.Task] = []
    app.on_startup.append(start_key_refresh)
    app.on_cleanup.append(close_connections)
    return "Microsoft Teams"
