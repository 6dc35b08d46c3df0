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
        if not assistant.settings.slack_enabled:
            log.info("Slack not enabled: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to turn it on")
            return None
        from adapters.slack import setup_slack

        return setup_slack(app, assistant, assistant.settings)

    async def open_sender(self, assistant: Assistant) -> tuple[SlackSender, Close] | None:
        if not assistant.settings.slack_enabled:
            return None
        from adapters.slack.blocks import BlockRenderer
        from adapters.slack.client import SlackApi, make_web_client
        from adapters.slack.sender import SlackSender

        api = SlackApi(make_web_client(assistant.settings))
        await api.start()
        return SlackSender(api, BlockRenderer(assistant.strings)), api.close
