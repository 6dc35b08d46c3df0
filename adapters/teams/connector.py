"""A faster road to the Bot Connector: one client and one HTTP session per service URL, sends on the loop.

Stock botbuilder builds a new msrest ``ConnectorClient`` (and new ``MicrosoftAppCredentials``, hence a
new MSAL token cache) for every turn, and sends each reply with ``requests`` in a thread pool on a fresh
connection. Here the same botbuilder ``ConnectorClient`` (so the same URLs, headers and JSON bodies)
gets an msrest pipeline whose last hop is a shared ``aiohttp.ClientSession`` with keep-alive, and whose
token policy asks the cached ``MicrosoftAppCredentials`` (MSAL caches and refreshes the token) off the
event loop. Only this module knows about msrest.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

import aiohttp
from botframework.connector.about import __version__ as connector_version
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AppCredentials,
    AuthenticationConstants,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
)
from botframework.connector.bot_framework_sdk_client_async import BotFrameworkConnectorConfiguration
from msrest.pipeline import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline, Request, Response
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http.async_abc import AsyncClientResponse

log = logging.getLogger(__name__)

USER_AGENT = f"Microsoft-BotFramework/3.1 (BotBuilder Python/{connector_version})"  # as stock botbuilder
MAX_POOLED_CLIENTS = 64  # service URLs x audiences; Teams uses a handful per region


class CachedCredentialsFactory(ServiceClientCredentialsFactory):
    """Hands out one credentials object per app, scope and login endpoint, so MSAL's token cache lives."""

    def __init__(self, inner: ServiceClientCredentialsFactory):
        self._inner = inner
        self._cache: dict[tuple, Any] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return await self._inner.is_valid_app_id(app_id)

    async def is_authentication_disabled(self) -> bool:
        return await self._inner.is_authentication_disabled()

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool):
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        if key not in self._cache:
            self._cache[key] = await self._inner.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority)
        return self._cache[key]


class BearerTokenPolicy(AsyncHTTPPolicy):
    """Sets ``Authorization: Bearer`` exactly as ``AppCredentials.signed_session`` would, without blocking."""

    def __init__(self, credentials: Any):
        super().__init__()
        self._credentials = credentials
        self._lock = asyncio.Lock()

    def _needs_token(self) -> bool:
        app_id = getattr(self._credentials, "microsoft_app_id", None)
        return isinstance(self._credentials, AppCredentials) and bool(app_id) and (
            app_id != AuthenticationConstants.ANONYMOUS_SKILL_APP_ID)

    async def send(self, request: Request, **kwargs: Any) -> Response:
        if self._needs_token():
            async with self._lock:  # one token request at a time; MSAL answers the rest from its cache
                token = await asyncio.to_thread(self._credentials.get_access_token)
            request.http_request.headers["Authorization"] = f"Bearer {token}"
        if self.next is None:  # msrest links the policies when it builds the pipeline
            raise RuntimeError("BearerTokenPolicy is not in a pipeline")
        return await self.next.send(request, **kwargs)


class _LoadedResponse(AsyncClientResponse):
    """An msrest response over a fully read aiohttp response (the shape the operations expect)."""

    def __init__(self, request: Any, status: int, headers: dict[str, str], reason: str | None, body: bytes):
        super().__init__(request, None)
        self.internal_response = self  # error handlers read ``.status_code`` from here, as with requests
        self.status_code = status
        self.headers = headers
        self.reason = reason
        self._body = body

    def body(self) -> bytes:
        return self._body


class SessionSender(AsyncHTTPSender):
    """The pipeline's last hop: the shared keep-alive session, on the event loop."""

    def __init__(self, session: aiohttp.ClientSession):
        self._session = session

    async def __aenter__(self) -> SessionSender:
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        return None  # the pool owns the session

    def build_context(self) -> Any:
        return None

    async def send(self, request: Request, **kwargs: Any) -> Response:
        http_request = request.http_request
        headers = {k: v for k, v in http_request.headers.items() if k.lower() != "content-length"}
        data = http_request.data.encode("utf-8") if isinstance(http_request.data, str) else http_request.data
        async with self._session.request(http_request.method, http_request.url, headers=headers,
                                         data=data) as response:
            body = await response.read()
            loaded = _LoadedResponse(http_request, response.status, dict(response.headers), response.reason, body)
        return Response(request, loaded)


class ConnectorPool:
    """One aiohttp session per service URL and one ``ConnectorClient`` per (URL, app, audience)."""

    def __init__(self, credentials_factory: ServiceClientCredentialsFactory, *, timeout_seconds: float = 30):
        self.credentials_factory = credentials_factory
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._clients: OrderedDict[tuple, ConnectorClient] = OrderedDict()

    def factory(self, app_id: str | None, oauth_scope: str, login_endpoint: str,
                validate_authority: bool) -> PooledConnectorFactory:
        return PooledConnectorFactory(self, app_id, oauth_scope, login_endpoint, validate_authority)

    def _session(self, service_url: str) -> aiohttp.ClientSession:
        session = self._sessions.get(service_url)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=100, keepalive_timeout=60)
            session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
            self._sessions[service_url] = session
        return session

    async def client(self, service_url: str, app_id: str | None, audience: str, login_endpoint: str,
                     validate_authority: bool) -> ConnectorClient:
        key = (service_url, app_id, audience)
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
            return client
        credentials = await self.credentials_factory.create_credentials(
            app_id, audience, login_endpoint, validate_authority)
        session = self._session(service_url)

        def pipeline(config: BotFrameworkConnectorConfiguration) -> AsyncPipeline:
            policies = [config.user_agent_policy, BearerTokenPolicy(credentials), RawDeserializer(),
                        config.http_logger_policy]
            return AsyncPipeline(policies, SessionSender(session))

        config = BotFrameworkConnectorConfiguration(credentials, service_url, pipeline_type=pipeline)
        client = ConnectorClient(credentials, custom_configuration=config)
        client.config.add_user_agent(USER_AGENT)
        self._clients[key] = client
        if len(self._clients) > MAX_POOLED_CLIENTS:
            self._clients.popitem(last=False)
        return client

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        self._clients.clear()
        for session in sessions:
            await session.close()


class PooledConnectorFactory(ConnectorFactory):
    """What botbuilder asks for a connector per turn; answers from the pool."""

    def __init__(self, pool: ConnectorPool, app_id: str | None, oauth_scope: str, login_endpoint: str,
                 validate_authority: bool):
        self._pool = pool
        self._app_id = app_id
        self._oauth_scope = oauth_scope
        self._login_endpoint = login_endpoint
        self._validate_authority = validate_authority

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        return await self._pool.client(service_url, self._app_id, audience or self._oauth_scope,
                                       self._login_endpoint, self._validate_authority)
