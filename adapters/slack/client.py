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
from bot.delivery import DeliveryError, DeliveryFailure

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
        data = exc.response.data if exc.response is not None else None
        error = str(data.get("error", "")) if isinstance(data, dict) else ""
        return DeliveryError(DeliveryFailure.REFUSED, permanent=error in PERMANENT_ERRORS, channel="Slack",
                             detail=f"{what}: {error or exc.response.status_code}")
    return DeliveryError(DeliveryFailure.UNREACHABLE, channel="Slack", detail=f"{what}: {type(exc).__name__}")


class SlackApi:
    """The Web API calls the adapter makes, each raising :class:`DeliveryError` on failure."""

    def __init__(self, client: AsyncWebClient, token: str | None = None,
                 dm_channels: dict[tuple[str | None, str], str] | None = None):
        self.client = client
        self.token = token  # another workspace's bot token; None: the client's own
        self._auth: dict[str, Any] = {"token": token} if token else {}  # each Web API call's token (OAuth)
        self._dm_channels = {} if dm_channels is None else dm_channels  # (token, user) -> DM channel id

    def bound(self, token: str | None) -> SlackApi:
        """The same client and session, calling Slack with ``token`` (one workspace's bot token)."""
        return self if token is None or token == self.token else SlackApi(self.client, token, self._dm_channels)

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
        key = (self.token, user)
        if key not in self._dm_channels:
            response = await self._call("conversations.open",
                                        self.client.conversations_open(users=user, **self._auth))
            self._dm_channels[key] = response["channel"]["id"]
        return self._dm_channels[key]

    async def post(self, channel: str, message: SlackMessage, thread_ts: str | None = None) -> str:
        response = await self._call("chat.postMessage", self.client.chat_postMessage(
            channel=channel, text=message.text, blocks=message.blocks, thread_ts=thread_ts, unfurl_links=False,
            **self._auth))
        return str(response.get("ts", ""))

    async def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        await self._call("chat.update", self.client.chat_update(channel=channel, ts=ts, text=message.text,
                                                                 blocks=message.blocks, **self._auth))

    async def ephemeral(self, channel: str, user: str, message: SlackMessage, thread_ts: str | None = None) -> None:
        await self._call("chat.postEphemeral", self.client.chat_postEphemeral(
            channel=channel, user=user, text=message.text, blocks=message.blocks, thread_ts=thread_ts,
            **self._auth))

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
            raise DeliveryError(DeliveryFailure.REFUSED, permanent=response.status_code == 404, channel="Slack",
                                detail=f"response_url: {response.status_code} {response.body[:100]}")

    async def user_profile(self, user: str) -> dict[str, Any]:
        """``users.info``'s profile (needs the ``users:read`` scope)."""
        response = await self._call("users.info", self.client.users_info(user=user, **self._auth))
        return dict((response.get("user") or {}).get("profile") or {})

    async def is_member(self, channel: str) -> bool | None:
        """Whether the bot is in ``channel`` (``conversations.info``), None when Slack won't say. A
        private channel the bot is not in is invisible to it: ``channel_not_found`` means no."""
        try:
            response = await self._call("conversations.info",
                                        self.client.conversations_info(channel=channel, **self._auth))
        except DeliveryError as exc:
            if "channel_not_found" in str(exc):
                return False
            log.info("conversations.info failed; membership unknown", extra={"reason": str(exc)})
            return None
        member = (response.get("channel") or {}).get("is_member")
        return member if isinstance(member, bool) else None

    async def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._call("views.open", self.client.views_open(trigger_id=trigger_id, view=view,
                                                                  **self._auth))

    async def publish_home(self, user: str, blocks: list[dict[str, Any]]) -> None:
        await self._call("views.publish", self.client.views_publish(user_id=user,
                                                                   view={"type": "home", "blocks": blocks},
                                                                   **self._auth))
