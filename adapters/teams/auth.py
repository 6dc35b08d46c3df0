"""Who may talk to /api/messages, and with which credentials the bot answers.

Built from our Settings through botbuilder's ``ConfigurationBotFrameworkAuthentication``, always with the
explicit public-cloud parameters, so production and the tests take the same validation path and only the
OpenID metadata URL differs (``TEAMS_OPENID_METADATA_URL``, unset = Microsoft's). Every inbound token is
checked for signature (keys from that metadata's JWKS), issuer, audience (our app id), expiry and the
``serviceurl`` claim. The connector factory is swapped for the pooled one in ``connector``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass

from botbuilder.integration.aiohttp import (
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

from adapters.teams.connector import CachedCredentialsFactory, ConnectorPool
from bot.config import Settings

log = logging.getLogger(__name__)
LOGIN_ENDPOINT = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
OAUTH_SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE


@dataclass(frozen=True)
class BotConfiguration:
    """The attribute names botbuilder's configuration readers look for (as in Microsoft's config.py)."""

    APP_ID: str | None
    APP_PASSWORD: str | None
    APP_TYPE: str
    APP_TENANTID: str | None
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
    TO_CHANNEL_FROM_BOT_LOGIN_URL: str = LOGIN_ENDPOINT
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE: str = OAUTH_SCOPE
    TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL: str = AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
    OAUTH_URL: str = AuthenticationConstants.OAUTH_URL
    CALLER_ID: str = CallerIdConstants.public_azure_channel
    VALIDATE_AUTHORITY: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> BotConfiguration:
        return cls(
            APP_ID=settings.microsoft_app_id,
            APP_PASSWORD=settings.microsoft_app_password,
            APP_TYPE=settings.microsoft_app_type,
            APP_TENANTID=settings.microsoft_app_tenant_id,
            TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=(
                settings.teams_openid_metadata_url or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL),
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def anonymous_refusal(settings: Settings) -> str | None:
    """Why Teams must not be mounted, or None. Without an app id only a loopback server is acceptable."""
    if settings.microsoft_app_id or is_loopback(settings.host):
        return None
    return (f"MicrosoftAppId is not set and HOST={settings.host} is not loopback: /api/messages would accept "
            "unauthenticated requests from the network, so Teams is not mounted. Set MicrosoftAppId and "
            "MicrosoftAppPassword, or listen on 127.0.0.1 for local emulator testing.")


def _app_id(claims_identity: ClaimsIdentity) -> str | None:
    """As botbuilder: the channel puts our app id in ``aud``; the emulator in ``appid``."""
    return (claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
            or claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM))


class PooledBotFrameworkAuthentication(ConfigurationBotFrameworkAuthentication):
    """Stock validation; outbound connectors come from the pool and token clients are reused."""

    def __init__(self, configuration: BotConfiguration, pool: ConnectorPool):
        super().__init__(configuration, credentials_factory=pool.credentials_factory)
        self._pool = pool
        self.metadata_url = configuration.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
        self._validate_authority = configuration.VALIDATE_AUTHORITY
        self._user_token_clients: dict[str | None, UserTokenClient] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> PooledBotFrameworkAuthentication:
        configuration = BotConfiguration.from_settings(settings)
        credentials = CachedCredentialsFactory(ConfigurationServiceClientCredentialFactory(configuration))
        return cls(configuration, ConnectorPool(credentials))

    @property
    def pool(self) -> ConnectorPool:
        return self._pool

    def _factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._pool.factory(_app_id(claims_identity), OAUTH_SCOPE, LOGIN_ENDPOINT, self._validate_authority)

    async def authenticate_request(self, activity: Activity, auth_header: str | None) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header or None)
        result.connector_factory = self._factory(result.claims_identity)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._factory(claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = _app_id(claims_identity)
        if app_id not in self._user_token_clients:
            self._user_token_clients[app_id] = await super().create_user_token_client(claims_identity)
        return self._user_token_clients[app_id]


async def keep_signing_keys_fresh(metadata_url: str, every_seconds: float = 6 * 3600) -> None:
    """Refresh the Bot Connector signing keys in a worker thread, well inside botbuilder's one-day cache.

    botbuilder fetches them with blocking ``requests`` (no timeout) on the event loop when its cache is a
    day old; refreshing here first means a slow or hanging Microsoft endpoint never stalls the server.
    """
    metadata = JwtTokenExtractor.get_open_id_metadata(metadata_url)
    while True:
        try:
            await asyncio.to_thread(asyncio.run, metadata._refresh())
            delay = every_seconds
        except Exception as exc:  # keep the old keys; try again soon
            log.warning("Teams signing keys not refreshed", extra={"reason": type(exc).__name__})
            delay = 300
        await asyncio.sleep(delay)
