"""The Teams activity handler: translate the activity, hand it to the core, hand the replies to ``Outbound``."""

from __future__ import annotations

import logging
from datetime import timedelta

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity

from adapters.teams import translate
from adapters.teams.outbound import Outbound
from adapters.teams.references import ReferenceStore
from adapters.teams.routes import DialogRoutes
from bot.core import Assistant
from bot.messages import Reply, ReplyKind
from bot.storage.db import claim_once

log = logging.getLogger(__name__)


class TeamsBot(TeamsActivityHandler):
    def __init__(self, assistant: Assistant, references: ReferenceStore):
        self.assistant = assistant
        self.references = references
        self.outbound = Outbound(assistant.strings, references)
        self.routes = DialogRoutes(assistant.engine,
                                   timedelta(minutes=assistant.settings.walkthrough_expiry_minutes))

    # ------------------------------------------------------------------ messages and card presses
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await self._answer(turn_context)

    async def on_teams_card_action_invoke(self, turn_context: TurnContext) -> InvokeResponse:
        await self._answer(turn_context)
        return InvokeResponse(status=200)

    async def _answer(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        turn = translate.incoming_turn(activity)
        if turn is None:
            if translate.pressed_card_kind(activity):  # Continue or Send pressed with nothing (an old client)
                notice = Reply(self.assistant.strings.get("teams.nothing_submitted"), kind=ReplyKind.NOTICE)
                await self.outbound.deliver(turn_context, [notice])
            return
        await self._remember(activity)
        routed = await self.routes.resolve(activity, turn)
        replies = await self.assistant.handle(turn)
        origin = turn.conversation.id if routed else None
        personal_chat = await self.outbound.deliver(turn_context, replies, origin)
        await self.routes.update(activity, turn, replies, routed=routed, moved_to=personal_chat)

    async def _remember(self, activity: Activity) -> None:
        """Keep the conversation's reference for proactive messages (once per process per conversation)."""
        conversation_id, reference = translate.stored_reference(activity)
        try:
            await self.references.remember(conversation_id, reference, translate.team_id(activity))
        except Exception as exc:  # noqa: BLE001 - a missing reference only delays reminders; the answer still goes out
            log.warning("teams conversation reference not stored", extra={"reason": type(exc).__name__})

    # ------------------------------------------------------------------ installs and uninstalls
    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if any(m.id == bot_id for m in activity.members_added or []):
            await self._installed(turn_context, greet=True)
        elif any(m.id == bot_id for m in activity.members_removed or []):
            await self._uninstalled(activity)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._installed(turn_context, greet=False)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self._uninstalled(turn_context.activity)

    async def _installed(self, turn_context: TurnContext, *, greet: bool) -> None:
        activity = turn_context.activity
        conversation_id, reference = translate.stored_reference(activity)
        await self.references.save(conversation_id, reference, translate.team_id(activity))
        log.info("teams app installed", extra={"conversation_type": translate.conversation_type(activity)})
        if not greet:
            return
        async with self.assistant.engine.begin() as conn:  # a redelivered install event greets once
            first = await claim_once(conn, f"teams:welcome:{activity.id or conversation_id}")
        if first:
            welcome = Reply(self.assistant.strings.get("teams.welcome"), kind=ReplyKind.NOTICE)
            await self.outbound.deliver(turn_context, [welcome])

    async def _uninstalled(self, activity: Activity) -> None:
        conversation_id = translate.base_conversation_id(activity.conversation.id)
        removed = await self.references.remove(conversation_id, translate.team_id(activity))
        log.info("teams app uninstalled", extra={"references_removed": removed})

