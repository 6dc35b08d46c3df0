"""POST /api/messages: authenticate first (any failure is a 401 and nothing runs), then run the turn.

Before that, a request a web page could have sent (another site's ``Origin``, or a body that is not
exactly ``application/json``) is refused; after it, an activity from a tenant that is not allowed
(``MicrosoftAppTenantId`` for SingleTenant, ``ALLOWED_TENANTS`` for MultiTenant) is refused with
a logged reason and no turn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from botbuilder.core import Bot, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.auth import BotFrameworkAuthentication

from adapters.teams.outbound import failure_reason
from bot.config import Settings
from bot.http import cross_site_reason, is_json, json_error
from bot.strings import Strings

log = logging.getLogger(__name__)


def allowed_tenants(settings: Settings) -> frozenset[str]:
    """The tenants whose activities are answered; empty means any (MultiTenant without ALLOWED_TENANTS)."""
    if settings.microsoft_app_type == "SingleTenant" and settings.microsoft_app_tenant_id:
        return frozenset({settings.microsoft_app_tenant_id.lower()})
    return frozenset(t.lower() for t in settings.allowed_tenants)


def activity_tenant(activity: Activity) -> str:
    """The tenant an activity says it comes from (``conversation.tenantId``, else ``channelData.tenant.id``)."""
    tenant = activity.conversation.tenant_id if activity.conversation else None
    if not tenant and isinstance(activity.channel_data, dict):
        info = activity.channel_data.get("tenant")
        tenant = info.get("id") if isinstance(info, dict) else None
    return str(tenant or "").lower()


class MessagesEndpoint:
    def __init__(self, adapter: CloudAdapter, authentication: BotFrameworkAuthentication, bot: Bot,
                 tenants: frozenset[str] = frozenset()):
        self.adapter = adapter
        self.authentication = authentication
        self.bot = bot
        self.tenants = tenants

    async def handle(self, request: web.Request) -> web.Response:
        if reason := cross_site_reason(request):
            log.info("teams request refused: sent by a web page", extra={"reason": reason})
            return json_error(403, "cross-site request")
        if not is_json(request):
            return json_error(415, "expected application/json")
        body = await request.json()
        try:
            activity = Activity().deserialize(body) if isinstance(body, dict) else None
        except Exception as exc:  # noqa: BLE001 - msrest rejects wrongly typed fields
            log.info("teams request with a malformed activity", extra={"reason": type(exc).__name__})
            activity = None
        if activity is None or not activity.type or not activity.service_url or not activity.conversation:
            log.info("teams request without an activity type, service URL or conversation")
            return json_error(400, "expected a Bot Framework activity")
        try:
            authenticated = await self.authentication.authenticate_request(
                activity, request.headers.get("Authorization"))
        except Exception as exc:  # noqa: BLE001 - forged, expired, wrong audience, unknown key, no token: all the same to callers
            log.warning("teams request rejected", extra={"reason": f"{type(exc).__name__}: {exc}"[:300]})
            return json_error(401, "unauthorized")
        if self.tenants and activity_tenant(activity) not in self.tenants:
            log.warning("teams activity refused: tenant not allowed",
                        extra={"tenant": activity_tenant(activity)[:64] or "(none)",
                               "reason": "not MicrosoftAppTenantId / ALLOWED_TENANTS"})
            return json_error(403, "tenant not allowed")
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
            except Exception as exc:  # noqa: BLE001 - logged; one failed send or step must not end the turn
                log.warning("teams apology not delivered", extra={"reason": failure_reason(exc)})

    return on_turn_error
