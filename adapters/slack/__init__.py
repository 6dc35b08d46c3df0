"""Slack: a slack-bolt ``AsyncApp`` on our aiohttp server (``POST /slack/events``), or Socket Mode.

``setup_slack`` wires everything when ``SLACK_SIGNING_SECRET`` and ``SLACK_BOT_TOKEN`` are set: the
Web API client (with 429/5xx retries, ``SLACK_API_BASE_URL`` when set), the listeners, the queue that
does the work after the ack, and a :class:`SlackSender` for proactive messages to ``slack:`` addresses.
With ``SLACK_BOT_TOKEN`` it serves one workspace; with ``SLACK_CLIENT_ID`` and ``SLACK_CLIENT_SECRET``
instead it runs Slack's OAuth flow (:mod:`adapters.slack.oauth`) and answers every workspace that installs
it with that workspace's own token.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from adapters.slack.blocks import BlockRenderer
from adapters.slack.client import SlackApi, make_web_client
from adapters.slack.listeners import SlackListeners
from adapters.slack.oauth import (
    BOT_SCOPES,
    INSTALL_PATH,
    REDIRECT_PATH,
    DatabaseInstallationStore,
    DatabaseStateStore,
    installation_store,
)
from adapters.slack.replay import ReplayGuard
from adapters.slack.sender import SlackSender
from adapters.slack.work import WorkQueue
from adapters.slack.workspace import WorkspaceGuard
from bot.background import add_background_task
from bot.config import Settings
from bot.core import Assistant

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SLACK = web.AppKey("slack", SlackListeners)
_CHARSET = re.compile(r";\s*charset=utf-8", re.IGNORECASE)


_EVENT_STRINGS = ("type", "text", "user", "channel", "channel_type", "ts", "thread_ts", "subtype", "bot_id", "tab")
_ANSWERED_EVENTS = {"message", "app_mention", "app_home_opened"}


def payload_problem(body: str, content_type: str | None) -> str | None:
    """Why a signed body is not a Slack payload of a shape the listeners can use, or None; checked
    before bolt so a malformed one is a 400 with a logged reason, never a listener traceback."""
    try:
        data = parse_body(body, content_type)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(data, dict):
        return "not a JSON object"
    if "event" in data:
        event = data["event"]
        if not isinstance(event, dict):
            return "event is not an object"
        if event.get("type") in _ANSWERED_EVENTS and not _strings(event, _EVENT_STRINGS):
            return "event field of the wrong type"
    if "actions" in data:
        actions = data["actions"]
        if not isinstance(actions, list) or not all(
                isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
            return "actions without an action_id"
    for name in ("user", "team", "channel", "view", "container"):
        if name in data and data.get("type") in {"block_actions", "view_submission", "view_closed"} \
                and not isinstance(data[name], dict | None):
            return f"{name} is not an object"
    return None


def _strings(data: dict[str, Any], names: tuple[str, ...]) -> bool:
    return all(isinstance(data[name], str | None) for name in names if name in data)


def to_bolt_request(request: web.Request, body: str) -> AsyncBoltRequest:
    """aiohttp request -> bolt request; the raw body is kept as-is because the signature covers it."""
    return AsyncBoltRequest(body=body, query=request.query_string,
                            headers={k.lower(): v for k, v in request.headers.items()})


def to_aiohttp_response(bolt_response: BoltResponse) -> web.Response:
    """bolt response -> aiohttp response, with its cookies (the OAuth flow's state cookie)."""
    headers = bolt_response.first_headers_without_set_cookie()
    content_type = headers.pop("content-type", None) or (
        "application/json" if bolt_response.body.startswith("{") else "text/plain")
    response = web.Response(status=bolt_response.status, text=bolt_response.body, headers=headers,
                            content_type=_CHARSET.sub("", content_type))
    for cookie in bolt_response.cookies():
        for name, morsel in cookie.items():
            response.set_cookie(name, morsel.value, max_age=morsel.get("max-age") or None,
                                path=morsel.get("path") or "/", secure=True, httponly=True, samesite="Lax")
    return response


def build_bolt_app(settings: Settings, client, installations: DatabaseInstallationStore | None = None,
                   states: DatabaseStateStore | None = None) -> AsyncApp:
    """One bolt app; with an installation store, bolt's OAuth flow and per-workspace authorisation."""
    kwargs: dict[str, Any] = {}
    if installations is not None:
        kwargs["oauth_settings"] = AsyncOAuthSettings(
            client_id=settings.slack_client_id, client_secret=settings.slack_client_secret, scopes=list(BOT_SCOPES),
            installation_store=installations, installation_store_bot_only=True, state_store=states,
            install_path=INSTALL_PATH, redirect_uri_path=REDIRECT_PATH)
        # bolt's own authorisation, remembering each token's auth.test instead of calling it per request
        kwargs["authorize"] = AsyncInstallationStoreAuthorize(
            installation_store=installations, client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret, logger=logging.getLogger("slack_bolt"), bot_only=True,
            cache_enabled=True, client=client)
    bolt = AsyncApp(client=client, signing_secret=settings.slack_signing_secret, process_before_response=True,
                    logger=logging.getLogger("slack_bolt"), attaching_conversation_kwargs_enabled=False,
                    ignoring_self_assistant_message_events_enabled=False, **kwargs)
    if installations is not None:
        bolt.enable_token_revocation_listeners()  # app_uninstalled, tokens_revoked: delete that workspace's rows
    return bolt


def setup_slack(app: web.Application, assistant: Assistant, settings: Settings) -> str:
    """Mount Slack on ``app``; returns how it is connected, for the start-up log line."""
    client = make_web_client(settings)
    api = SlackApi(client, settings.slack_bot_token)
    work = WorkQueue()
    listeners = SlackListeners(assistant, api, work, ReplayGuard())
    installations = installation_store(assistant.engine, settings) if settings.slack_oauth else None
    bolt = build_bolt_app(settings, client, installations,
                          DatabaseStateStore(assistant.engine) if installations is not None else None)
    bolt.use(WorkspaceGuard(settings.slack_app_id))  # before any listener: only installed workspaces get answers
    listeners.register(bolt)
    assistant.delivery.register("slack", SlackSender(api, BlockRenderer(assistant.strings), installations and
                                                     installations.find_token_for_team))
    app[SLACK] = listeners

    verifier = SignatureVerifier(settings.slack_signing_secret)

    async def events(request: web.Request) -> web.Response:
        """Nothing is parsed before the signature (and its 5-minute timestamp) checks out."""
        try:
            body = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            log.info("Slack request refused: body is not UTF-8")
            return web.Response(status=400, text="")
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not timestamp.isdigit() or not verifier.is_valid(body, timestamp, request.headers.get("X-Slack-Signature")):
            log.info("Slack request refused: missing, stale or invalid signature")
            return web.Response(status=401, text="")
        if problem := payload_problem(body, request.content_type):
            log.warning("malformed Slack payload refused", extra={"reason": problem})
            return web.Response(status=400, text="")
        work.request_arrived()
        try:
            return to_aiohttp_response(await bolt.async_dispatch(to_bolt_request(request, body)))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # signed, but not a Slack payload
            log.warning("malformed Slack payload refused", extra={"reason": f"{type(exc).__name__}: {exc}"[:200]})
            return web.Response(status=400, text="")

    app.router.add_post(EVENTS_PATH, events)
    if bolt.oauth_flow is not None:
        flow = bolt.oauth_flow

        async def install(request: web.Request) -> web.Response:
            """Slack's "Add to Slack" page: issues a state (stored and set as a cookie) and links to consent."""
            return to_aiohttp_response(await flow.handle_installation(to_bolt_request(request, "")))

        async def oauth_redirect(request: web.Request) -> web.Response:
            """Slack sends the admin back here with a code: bolt checks the state and saves the installation."""
            return to_aiohttp_response(await flow.handle_callback(to_bolt_request(request, "")))

        app.router.add_get(INSTALL_PATH, install)
        app.router.add_get(REDIRECT_PATH, oauth_redirect)

    async def start_api(_app: web.Application) -> None:
        await api.start()
        gc.freeze()  # start-up objects (content, SQLAlchemy, bolt) leave the GC's scans: shorter pauses

    async def close_api(_app: web.Application) -> None:
        await api.close()

    app.on_startup.append(start_api)
    add_background_task(app, "slack-work", work.run, grace=20.0)  # drained before the engine is disposed
    app.on_cleanup.append(close_api)

    if settings.slack_app_token:
        add_background_task(app, "slack-socket-mode", _socket_mode(bolt, settings.slack_app_token))
        return "Slack (Socket Mode, and signed HTTP at /slack/events)"
    if installations is not None:
        return f"Slack (HTTP at /slack/events; install to a workspace at {INSTALL_PATH})"
    return "Slack (HTTP at /slack/events)"


def _socket_mode(bolt: AsyncApp, app_token: str):
    """Keep a Socket Mode connection while the server runs; Slack being unreachable is logged, not fatal
    (slack_sdk keeps retrying), and signed HTTP keeps working meanwhile."""

    async def run(stop: asyncio.Event) -> None:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(bolt, app_token)
        connecting = asyncio.create_task(handler.connect_async(), name="slack-socket-connect")
        connecting.add_done_callback(_log_connection)
        await stop.wait()
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await connecting
        await handler.close_async()

    return run


def _log_connection(task: asyncio.Task) -> None:
    if task.cancelled():
        return
    if task.exception() is not None:
        log.error("Slack Socket Mode could not connect", extra={"reason": repr(task.exception())})
    else:
        log.info("Slack Socket Mode connected")
