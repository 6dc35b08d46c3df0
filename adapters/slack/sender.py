"""Proactive Slack messages (reminders, notices) for :class:`bot.delivery.Delivery`.

Addresses are ``slack:<channel or user id>`` or a conversation id ``slack:<team>:<channel>``. A user id
(``U…``/``W…``) is turned into the user's DM with ``conversations.open`` first. Installed through OAuth,
each workspace's message goes with that workspace's own bot token (``token_for``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from adapters.slack.blocks import BlockRenderer
from adapters.slack.client import SlackApi
from bot.delivery import DeliveryError, DeliveryFailure
from bot.messages import Reply


class SlackSender:
    def __init__(self, api: SlackApi, renderer: BlockRenderer,
                 token_for: Callable[[str], Awaitable[str | None]] | None = None):
        self.api = api
        self.renderer = renderer
        self.token_for = token_for

    async def send(self, address: str, replies: list[Reply]) -> None:
        target = address.rsplit(":", 1)[-1] if address.startswith("slack:") else ""
        if not target:
            raise DeliveryError(DeliveryFailure.NOT_AN_ADDRESS, permanent=True, channel="Slack", address=address)
        api = self.api
        parts = address.split(":")
        if self.token_for is not None:
            token = await self.token_for(parts[1]) if len(parts) == 3 else None
            if token is None:
                raise DeliveryError(DeliveryFailure.NOT_INSTALLED, permanent=True, channel="Slack", address=address)
            api = api.bound(token)
        channel = await api.dm_channel(target) if target[0] in "UW" else target
        for reply in replies:
            if reply.private and not channel.startswith("D"):
                raise DeliveryError(DeliveryFailure.PRIVATE_TO_SHARED, permanent=True, channel="Slack")
            for message in self.renderer.render(reply, channel):
                await api.post(channel, message)
