"""Slack as a :class:`adapters.Channel`; slack-bolt is imported only when Slack is configured."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from adapters.slack.identity import CHANNEL, SlackAddresses

if TYPE_CHECKING:
    from aiohttp import web

    from adapters import Close
    from adapters.slack.sender import SlackSender
    from bot.core import Assistant

log = logging.getLogger(__name__)


class SlackChannel:
    name = CHANNEL
    addresses = SlackAddresses()

    def mount(self, app: web.Application, assistant: Assistant) -> str | None:
        settings = assistant.settings
        if not settings.slack_enabled:
            log.info("Slack not enabled: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN (one workspace), or "
                     "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (installs through OAuth), to turn it on")
            return None
        if settings.slack_oauth and not settings.slack_token_key:
            log.error("Slack not enabled: SLACK_CLIENT_ID is set but SLACK_TOKEN_KEY is not (installed "
                      "workspaces' tokens are encrypted with it)")
            return None
        from adapters.slack import setup_slack

        return setup_slack(app, assistant, assistant.settings)

    async def open_sender(self, assistant: Assistant) -> tuple[SlackSender, Close] | None:
        if not assistant.settings.slack_enabled:
            return None
        from adapters.slack.blocks import BlockRenderer
        from adapters.slack.client import SlackApi, make_web_client
        from adapters.slack.sender import SlackSender

        settings = assistant.settings
        installations = None
        if settings.slack_oauth:
            from adapters.slack.oauth import installation_store

            installations = installation_store(assistant.engine, settings)
        api = SlackApi(make_web_client(settings), settings.slack_bot_token)
        await api.start()
        return SlackSender(api, BlockRenderer(assistant.strings),
                           installations and installations.find_token_for_team), api.close
