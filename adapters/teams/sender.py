"""Proactive Teams messages (reminders, notices) to a stored conversation: ``teams:<conversation id>``,
or ``teams:<AAD object id or user id>`` for the user's personal chat with the bot."""

from __future__ import annotations

import logging

import aiohttp
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ConversationReference

from adapters.teams.outbound import failure_reason, reply_activity
from adapters.teams.references import ReferenceStore
from bot.delivery import DeliveryError, DeliveryFailure
from bot.messages import Reply
from bot.strings import Strings

log = logging.getLogger(__name__)
PERMANENT_STATUSES = {403, 404}  # the bot was removed from the conversation, or it no longer exists


class TeamsSender:
    def __init__(self, adapter: CloudAdapter, references: ReferenceStore, strings: Strings, app_id: str | None):
        self.adapter = adapter
        self.references = references
        self.strings = strings
        self.app_id = app_id

    async def send(self, address: str, replies: list[Reply]) -> None:
        key = address.split(":", 1)[1] if ":" in address else ""
        stored = (await self.references.get(key) or await self.references.personal_for_user(key)) if key else None
        if stored is None:
            raise DeliveryError(DeliveryFailure.NOT_INSTALLED, permanent=True, channel="Teams", address=address)
        reference = ConversationReference().deserialize(stored)
        personal = ((reference.conversation.conversation_type or "personal") == "personal"
                    and not reference.conversation.is_group)
        if not personal and any(r.private for r in replies):
            raise DeliveryError(DeliveryFailure.PRIVATE_TO_SHARED, permanent=True, channel="Teams")

        failures: list[Exception] = []

        async def post(turn_context: TurnContext) -> None:
            turn_context.activity.id = None  # new messages, not replies to the synthetic continuation event
            try:
                for reply in replies:
                    await turn_context.send_activity(reply_activity(reply, self.strings))
            except Exception as exc:  # noqa: BLE001 - kept for the caller: the adapter's turn-error handler would swallow it
                failures.append(exc)

        await self.adapter.continue_conversation(reference, post, bot_app_id=self.app_id)
        if failures:
            raise self._delivery_error(failures[0])

    @staticmethod
    def _delivery_error(exc: Exception) -> DeliveryError:
        log.warning("teams proactive send failed", extra={"reason": failure_reason(exc)})
        if isinstance(exc, TimeoutError | aiohttp.ClientError):
            return DeliveryError(DeliveryFailure.UNREACHABLE, channel="Teams", detail=failure_reason(exc))
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return DeliveryError(DeliveryFailure.REFUSED, permanent=status in PERMANENT_STATUSES, channel="Teams",
                             detail=failure_reason(exc))
