"""POST /api/messages: authenticate first (any failure is a 401 and nothing runs), then run the turn."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from botbuilder.core import Bot, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.auth import BotFrameworkAuthentication

from adapters.teams.outbound import failure_reason
from bot.http import json_error
from bot.strings import Strings

log = logging.getLogger(__name__)


class MessagesEndpoint:
    def __init__(self, adapter: CloudAdapter, authentication: BotFrameworkAuthentication, bot: Bot):
        self.adapter = adapter
        self.authentication = authentication
        self.bot = bot

    async def handle(self, request: web.Request) -> web.Response:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return json_error(415, "expected application/json")
        body = await request.json()
        try:
            activity = Activity().deserialize(body) if isinstance(body, dict) else None
        except Exception as exc:  # msrest rejects wrongly typed fields
            log.info("teams request with a malformed activity", extra={"reason": type(exc).__name__})
            activity = None
        if activity is None or not activity.type or not activity.service_url or not activity.conversation:
            log.info("teams request without an activity type, service URL or conversation")
            return json_error(400, "expected a Bot Framework activity")
        try:
            authenticated = await self.authentication.authenticate_request(
                activity, request.headers.get("Authorization"))
        except Exception as exc:  # forged, expired, wrong audience, unknown key, no token: all the same to callers
            log.warning("teams request rejected", extra={"reason": f"{type(exc).__name__}: {exc}"[:300]})
            return json_error(401, "unauthorized")
        invoke_response = await self.adapter.process_activity(authenticated, activity, self.bot.on_turn)
        if invoke_response:
            return web.json_response(serializer_helper(invoke_response.body), status=invoke_response.status)
        return web.Response(status=201)


def turn_error_handler(strings: Strings) -> Callable[[TurnContext, Exception], Awaitable[None]]:
    async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
        """A failed turn: log why (no traceback reaches anyone) and apologise if the connector still answers."""
        log.error("teams turn failed", exc_info=error, extra={"reason": failure_reason(error)})
        if turn_context.activity.type in (ActivityTypes.message, ActivityTypes.invoke):
            try:
                await turn_context.send_activity(strings.get("errors.internal"))
            except Exception as exc:
                log.warning("teams apology not delivered", extra={"reason": failure_reason(exc)})

    return on_turn_error
