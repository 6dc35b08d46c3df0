"""Talking to Slack's Web API: one client with retries, and the few calls the adapter makes.

The client retries 429s after their ``Retry-After`` and 500/503s with backoff (slack_sdk's retry
handlers), so a rate limit or a blip never drops a message. Errors that retrying cannot fix (the
bot was removed from the channel, the channel was archived) become a permanent :class:`DeliveryError`.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import ClientSession
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.blocks import SlackMessage
from bot.config import Settings
from bot.delivery import DeliveryError

log = logging.getLogger(__name__)

# Slack errors after which the same call can never succeed.
PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "user_not_found", "account_inactive",
    "user_disabled", "cannot_dm_bot", "invalid_auth", "not_authed", "token_revoked", "missing_scope",
    "restricted_action", "message_not_found", "cant_update_message", "invalid_blocks", "msg_too_long",
})


def retry_handlers() -> list[AsyncRetryHandler]:
    return [AsyncRateLimitErrorRetryHandler(max_retry_count=3), AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2)]


def make_web_client(settings: Settings) -> AsyncWebClient:
    """The bot's Web API client; ``SLACK_API_BASE_URL`` points it elsewhere (tests use a fake on loopback)."""
    kwargs: dict[str, Any] = {"token": settings.slack_bot_token, "retry_handlers": retry_handlers(), "timeout": 15}
    if settings.slack_api_base_url:
        kwargs["base_url"] = settings.slack_api_base_url.rstrip("/") + "/"
    return AsyncWebClient(**kwargs)


def delivery_error(exc: Exception, what: str) -> DeliveryError:
    """Map a Slack failure to our DeliveryError, permanent when retrying cannot help."""
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error", "")) if exc.response is not None else ""
        return DeliveryError(f"Slack {what} failed: {error or exc.response.status_code}",
                             permanent=error in PERMANENT_ERRORS)
    return DeliveryError(f"Slack {what} failed: {type(exc).__name__}")


class SlackApi:
    """The Web API calls the adapter makes, each raising :class:`DeliveryError` on failure."""

    def __init__(self, client: AsyncWebClient):
        self.client = client
        self._dm_channels: dict[str, str] = {}  # user id -> DM channel id (stable in Slack)

    async def start(self) -> None:
        """Share one HTTP session across calls (a new one per call costs a TCP handshake each time)."""
        if self.client.session is None:
            self.client.session = ClientSession()

    async def close(self) -> None:
        if self.client.session is not None:
            await self.client.session.close()
            self.client.session = None

    async def _call(self, what: str, coro) -> Any:
        try:
            return await coro
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            raise delivery_error(exc, what) from exc

    async def dm_channel(self, user: str) -> str:
        if user not in self._dm_channels:
            response = await self._call("conversations.open", self.client.conversations_open(users=user))
            self._dm_channels[user] = response["channel"]["id"]
        return self._dm_channels[user]

    async def post(self, channel: str, message: SlackMessage, thread_ts: str | None = None) -> str:
        response = await self._call("chat.postMessage", self.client.chat_postMessage(
            channel=channel, text=message.text, blocks=message.blocks, thread_ts=thread_ts, unfurl_links=False))
        return str(response.get("ts", ""))

    async def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        await self._call("chat.update", self.client.chat_update(channel=channel, ts=ts, text=message.text,
                                                                 blocks=message.blocks))

    async def ephemeral(self, channel: str, user: str, message: SlackMessage, thread_ts: str | None = None) -> None:
        await self._call("chat.postEphemeral", self.client.chat_postEphemeral(
            channel=channel, user=user, text=message.text, blocks=message.blocks, thread_ts=thread_ts))

    async def respond(self, response_url: str, message: SlackMessage, *, replace_original: bool = False) -> None:
        """Post through an interaction's response_url (private to the user: ephemeral)."""
        webhook = AsyncWebhookClient(response_url, session=self.client.session, retry_handlers=retry_handlers(),
                                     timeout=15)
        try:
            response = await webhook.send(text=message.text, blocks=message.blocks, response_type="ephemeral",
                                          replace_original=replace_original)
        except (SlackClientError, OSError, TimeoutError) as exc:
            raise delivery_error(exc, "response_url") from exc
        if response.status_code >= 400:
            raise DeliveryError(f"Slack response_url failed: {response.status_code} {response.body[:100]}",
                                permanent=response.status_code == 404)

    async def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._call("views.open", self.client.views_open(trigger_id=trigger_id, view=view))

    async def publish_home(self, user: str, blocks: list[dict[str, Any]]) -> None:
        await self._call("views.publish", self.client.views_publish(user_id=user,
                                                                   view={"type": "home", "blocks": blocks}))
