"""Putting replies in front of the user in Teams: threaded, updated in place, and private when they must be.

- Replies thread under the question (botbuilder replies to the incoming activity).
- A walkthrough step answering a press on a step card replaces that card (``update_activity`` on the
  card's id, which Teams sends as ``replyToId``); if the update fails, it is posted as a new card.
- A ``private`` reply in a channel or group chat goes to the user's personal chat (created through the
  connector; its reference is stored) and the shared conversation gets only a neutral note. Its buttons
  carry the shared conversation's id, so a press in the personal chat continues the same dialog.
A failed send is logged and the rest still go out: whatever the core stored (a confirmed record) stays
stored, and the user can ask again.
"""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
)

from adapters.teams import cards, translate
from adapters.teams.references import ReferenceStore
from bot.messages import Reply, ReplyKind
from bot.strings import Strings

log = logging.getLogger(__name__)


def reply_activity(reply: Reply, strings: Strings, origin: str | None = None) -> Activity:
    fields = cards.render(reply, strings, origin)
    attachments = [Attachment(content_type=a["contentType"], content=a["content"])
                   for a in fields.pop("attachments", [])]
    return Activity(type=ActivityTypes.message, attachments=attachments or None, **fields)


def failure_reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")


class Outbound:
    def __init__(self, strings: Strings, references: ReferenceStore):
        self.strings = strings
        self.references = references

    async def deliver(self, turn_context: TurnContext, replies: list[Reply], origin: str | None = None) -> str | None:
        """Send one turn's replies; returns the personal chat's id if private replies were moved there.

        ``origin`` is the conversation whose dialog this turn continued when it differs from where the user
        is (a channel's walkthrough going on in the personal chat): buttons then carry it."""
        incoming = turn_context.activity
        shared = translate.is_shared(incoming)
        private = [r for r in replies if r.private and shared]
        update_target = incoming.reply_to_id if (
            translate.pressed_card_kind(incoming) in cards.IN_PLACE_KINDS) else None
        for reply in replies:
            if reply.private and shared:
                continue
            activity = reply_activity(reply, self.strings, origin)
            if update_target and reply.kind in cards.IN_PLACE_KINDS and activity.attachments:
                target, update_target = update_target, None
                if await self._update(turn_context, target, activity):
                    continue
                activity = reply_activity(reply, self.strings, origin)
            await self._send(turn_context, activity)
        if not private:
            return None
        personal_chat = await self.send_privately(turn_context, private)
        note = "teams.private_note" if personal_chat else "teams.private_failed"
        await self._send(turn_context, reply_activity(Reply(self.strings.get(note), kind=ReplyKind.NOTICE),
                                                      self.strings))
        return personal_chat

    async def _send(self, turn_context: TurnContext, activity: Activity) -> bool:
        try:
            await turn_context.send_activity(activity)
            return True
        except Exception as exc:  # noqa: BLE001 - the connector is down or refused: log, keep going
            log.warning("teams reply not delivered", extra={"reason": failure_reason(exc)})
            return False

    async def _update(self, turn_context: TurnContext, activity_id: str, activity: Activity) -> bool:
        activity.id = activity_id
        try:
            await turn_context.update_activity(activity)
            return True
        except Exception as exc:  # noqa: BLE001 - logged; one failed send or step must not end the turn
            log.info("teams card not updated in place; posting it instead", extra={"reason": failure_reason(exc)})
            return False

    async def send_privately(self, turn_context: TurnContext, replies: list[Reply]) -> str | None:
        """Send replies to the user's personal chat with the bot; its conversation id if they all arrived."""
        incoming = turn_context.activity
        user = incoming.from_property
        tenant = translate.tenant_id(incoming)
        connector = turn_context.turn_state.get(turn_context.adapter.BOT_CONNECTOR_CLIENT_KEY)
        try:
            created = await connector.conversations.create_conversation(ConversationParameters(
                is_group=False, bot=incoming.recipient, members=[ChannelAccount(id=user.id)], tenant_id=tenant,
                channel_data={"tenant": {"id": tenant}} if tenant else None))
        except Exception as exc:  # noqa: BLE001 - logged; one failed send or step must not end the turn
            log.warning("teams personal chat not created", extra={"reason": failure_reason(exc)})
            return None
        conversation = ConversationAccount(id=created.id, conversation_type="personal", tenant_id=tenant)
        user_account = ChannelAccount(id=user.id, name=user.name, aad_object_id=user.aad_object_id)
        delivered = True
        for reply in replies:
            activity = reply_activity(reply, self.strings, origin=incoming.conversation.id)
            activity.from_property, activity.recipient, activity.conversation = (
                incoming.recipient, user_account, conversation)
            activity.channel_id, activity.service_url = incoming.channel_id, incoming.service_url
            try:
                await connector.conversations.send_to_conversation(created.id, activity)
            except Exception as exc:  # noqa: BLE001 - logged; one failed send or step must not end the turn
                log.warning("teams private reply not delivered", extra={"reason": failure_reason(exc)})
                delivered = False
        reference = {"bot": incoming.recipient.serialize(), "user": user_account.serialize(),
                     "conversation": conversation.serialize(), "channelId": incoming.channel_id,
                     "serviceUrl": incoming.service_url}
        try:
            await self.references.remember(created.id, reference)
        except Exception as exc:  # noqa: BLE001 - logged; one failed send or step must not end the turn
            log.warning("teams personal chat reference not stored", extra={"reason": type(exc).__name__})
        return created.id if delivered else None
