"""Who may talk to /api/messages, and with which credentials the bot answers.

Built from our Settings through botbuilder's ``ConfigurationBotFrameworkAuthentication``, always with the
explicit public-cloud parameters, so production and the tests take the same validation path and only the
OpenID metadata URL differs (``TEAMS_OPENID_METADATA_URL``, unset = Microsoft's). Every inbound token is
checked for signature (keys from that metadata's JWKS), issuer, audience (our app id), expiry and the
``serviceurl`` claim. The connector factory is swapped for the pooled one in ``connector``.

With an app id set, only the Bot Connector's issuer is accepted, and that is checked before anything
else: an emulator or skill token is refused without fetching any keys. botbuilder's own key fetch
(blocking ``requests`` with no timeout, on the event loop, failures not remembered) is replaced by
:class:`AsyncOpenIdMetadata`, so no request can ever stall the server waiting for Microsoft.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import jwt
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
    jwt_token_extractor,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from botframework.connector.auth.skill_validation import SkillValidation

from adapters.teams.connector import CachedCredentialsFactory, ConnectorPool
from bot.config import Settings

log = logging.getLogger(__name__)
LOGIN_ENDPOINT = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
OAUTH_SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
CHANNEL_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
KEY_FETCH_TIMEOUT = 10.0  # seconds for the metadata and the JWKS together
KEY_FAILURE_BACKOFF = 60.0  # a failed fetch is not retried (by any request) for this long


class KeysUnavailable(RuntimeError):
    """The signing keys could not be fetched (now, or recently: the failure is remembered)."""


class AsyncOpenIdMetadata(jwt_token_extractor._OpenIdMetadata):
    """botbuilder's OpenID metadata cache with its fetch made asynchronous: aiohttp with a timeout, one
    fetch at a time per URL, and a failure remembered for ``KEY_FAILURE_BACKOFF`` seconds so a burst of
    requests cannot each wait for a dead endpoint. Keys already held are kept when a refresh fails."""

    keys: list[dict[str, Any]]  # the JWKS the base class holds (botbuilder leaves it unannotated)

    def __init__(self, url: str):
        super().__init__(url)
        self._inflight: asyncio.Future | None = None
        self._failed_at: float | None = None
        self._failure = ""

    async def _refresh(self) -> None:
        if self._failed_at is not None and time.monotonic() - self._failed_at < KEY_FAILURE_BACKOFF:
            if self.keys:
                return
            raise KeysUnavailable(f"signing keys unavailable (recent failure: {self._failure})")
        inflight = self._inflight
        if inflight is None or inflight.done() or inflight.get_loop() is not asyncio.get_running_loop():
            inflight = self._inflight = asyncio.ensure_future(self._fetch())
        await asyncio.shield(inflight)

    async def _fetch(self) -> None:
        try:
            timeout = aiohttp.ClientTimeout(total=KEY_FETCH_TIMEOUT)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(self.url) as response:
                    response.raise_for_status()
                    keys_url = (await response.json(content_type=None))["jwks_uri"]
                async with session.get(keys_url) as response:
                    response.raise_for_status()
                    keys = (await response.json(content_type=None))["keys"]
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, KeyError, TypeError) as exc:
            self._failed_at, self._failure = time.monotonic(), type(exc).__name__
            log.warning("Teams signing keys not fetched", extra={"url": self.url, "reason": self._failure})
            if not self.keys:
                raise KeysUnavailable(f"signing keys unavailable ({self._failure})") from None
            return
        self.keys, self.last_updated, self._failed_at = keys, datetime.now(), None  # noqa: DTZ005 - botbuilder compares it with its own naive now()


def install_async_key_fetch() -> None:
    """Make every OpenID metadata botbuilder creates (and any it already holds) an AsyncOpenIdMetadata."""
    jwt_token_extractor._OpenIdMetadata = AsyncOpenIdMetadata
    for url, metadata in list(JwtTokenExtractor.metadataCache.items()):
        if not isinstance(metadata, AsyncOpenIdMetadata):
            JwtTokenExtractor.metadataCache[url] = AsyncOpenIdMetadata(url)


def unverified_claims(auth_header: str | None) -> dict[str, Any] | None:
    scheme, _, token = (auth_header or "").partition(" ")
    if scheme != "Bearer" or not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def foreign_issuer(auth_header: str | None) -> str | None:
    """Why a token cannot be the Bot Connector's, judged before its signature (so before any key
    fetch); None if it may be. A bot with an app id is only ever called by the Bot Connector, so
    emulator (AAD-issued) and skill tokens are refused outright."""
    claims = unverified_claims(auth_header)
    if claims is None:
        return "no bearer token, or not a JWT"
    if claims.get("iss") != CHANNEL_ISSUER:
        return f"issuer {str(claims.get('iss'))[:100]!r} is not the Bot Connector"
    if SkillValidation.is_skill_claim(claims):
        return "a skill token"
    return None


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
        install_async_key_fetch()
        super().__init__(configuration, credentials_factory=pool.credentials_factory)
        self._pool = pool
        self._app_id = configuration.APP_ID
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
        if self._app_id and (reason := foreign_issuer(auth_header)):
            raise PermissionError(reason)
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
    """Refresh the Bot Connector signing keys well inside botbuilder's one-day cache, so requests find
    them ready; a failure keeps the old keys and is retried soon."""
    install_async_key_fetch()
    metadata = JwtTokenExtractor.get_open_id_metadata(metadata_url)
    while True:
        try:
            await metadata._refresh()
            delay = every_seconds if metadata._failed_at is None else KEY_FAILURE_BACKOFF
        except KeysUnavailable:
            delay = KEY_FAILURE_BACKOFF
        await asyncio.sleep(delay)
