"""Slack payloads in, neutral turns to the core, Block Kit out: the slack-bolt listeners.

Every listener acks at once and queues the real work (:mod:`adapters.slack.work`), so Slack always
gets its answer within 3 seconds. The queued job first claims the delivery's idempotency keys
(event id or trigger id, and the request's signature) with ``claim_once``: a Slack retry or a
replayed request finds its key taken and does nothing. The turn also carries ``message_id`` so the
core drops duplicates too. Ids are qualified: users ``slack:<team>:<user>``, conversations
``slack:<team>:<channel>``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from sqlalchemy.exc import SQLAlchemyError

from adapters.slack.blocks import (
    CHOICE_ACTION,
    COPY_ACTION,
    TEXT_INPUT_ACTION,
    TEXT_MODAL_CALLBACK,
    TEXT_MODAL_INPUT,
    BlockRenderer,
    SlackMessage,
    action_pattern,
    parse_block_id,
    shorten,
)
from adapters.slack.client import SlackApi
from adapters.slack.home import home_blocks
from adapters.slack.replay import ReplayGuard
from adapters.slack.surface import Surface, SurfaceWriter
from adapters.slack.work import WorkQueue
from bot.core import Assistant
from bot.delivery import DeliveryError
from bot.messages import IncomingTurn, Reply
from bot.storage.conversations import ConversationRefs
from bot.storage.db import claim_once

log = logging.getLogger(__name__)

CHANNEL = "slack"
SLASH_COMMAND = "/infoshare"
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
COLLEAGUE = "a colleague"  # what a mention of someone else becomes: never their id or display name


def user_text(text: str, bot_user: str | None = None) -> str:
    """Slack message text as the user typed it: the bot's mention removed, anyone else's replaced by
    "a colleague" (a display name is personal data the bot has no need for), escapes undone.

    Without the bot's id (some payloads lack it) a leading mention is taken to be the bot's.
    """
    text = (text or "").strip()
    if bot_user is None:
        leading = _MENTION.match(text)
        bot_user = leading.group(1) if leading else None
    text = _MENTION.sub(lambda m: " " if m.group(1) == bot_user else f" {COLLEAGUE} ", text)
    return " ".join(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").split())


def _bot_user(body: dict[str, Any], request: AsyncBoltRequest) -> str | None:
    """The bot's own user id, from bolt's context or the event's authorizations."""
    known = request.context.bot_user_id if request.context else None
    if known:
        return known
    for authorization in body.get("authorizations") or []:
        if isinstance(authorization, dict) and authorization.get("is_bot") and authorization.get("user_id"):
            return str(authorization["user_id"])
    return None


def _team(body: dict[str, Any]) -> str:
    return str(body.get("team_id") or (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
               or "")


class SlackListeners:
    """Registers the listeners on a bolt app and runs the queued turns."""

    def __init__(self, assistant: Assistant, api: SlackApi, work: WorkQueue, replay: ReplayGuard):
        self.assistant = assistant
        self.api = api
        self.work = work
        self.replay = replay
        self.renderer = BlockRenderer(assistant.strings)
        self.writer = SurfaceWriter(api, self.renderer)
        self.conversations = ConversationRefs(assistant.engine, CHANNEL)  # where reminders can go

    @property
    def strings(self):
        return self.assistant.strings

    def register(self, bolt: AsyncApp) -> None:
        # Bolt tries listeners in order and each miss costs a matcher call: most frequent first.
        bolt.use(self.replay)
        bolt.command(SLASH_COMMAND)(self.on_command)
        bolt.event("message")(self.on_message)
        bolt.action(re.compile(rf"^{CHOICE_ACTION}_\d+(_\d+)*$"))(self.on_choice)
        bolt.event("app_mention")(self.on_mention)
        bolt.event("app_home_opened")(self.on_home_opened)
        bolt.action(action_pattern(COPY_ACTION))(self.on_copy)
        bolt.action(action_pattern(TEXT_INPUT_ACTION))(self.on_text_input)
        bolt.view(TEXT_MODAL_CALLBACK)(self.on_text_submitted)

    # ------------------------------------------------------------------ listeners (ack path: keep cheap)
    async def on_message(self, body: dict, event: dict, request: AsyncBoltRequest) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return  # edits, joins and other bots' messages are not questions
        team = _team(body)
        surface = Surface(team=team, user=event["user"], channel=event["channel"],
                          conversation_channel=event["channel"], thread_ts=event.get("thread_ts") or event.get("ts"),
                          bot_can_post=True, is_bot_dm=True)
        self._queue_turn(request, f"slack:event:{body.get('event_id') or event.get('ts')}", surface,
                         text=user_text(event.get("text", ""), _bot_user(body, request)),
                         message_id=body.get("event_id") or event.get("ts"))

    async def on_mention(self, body: dict, event: dict, request: AsyncBoltRequest) -> None:
        if not event.get("user"):
            return
        team = _team(body)
        channel = event["channel"]
        surface = Surface(team=team, user=event["user"], channel=channel, conversation_channel=channel,
                          thread_ts=event.get("thread_ts") or event.get("ts"), bot_can_post=True,
                          is_bot_dm=channel.startswith("D"))
        self._queue_turn(request, f"slack:event:{body.get('event_id') or event.get('ts')}", surface,
                         text=user_text(event.get("text", ""), _bot_user(body, request)),
                         message_id=body.get("event_id") or event.get("ts"))

    async def on_command(self, ack, body: dict, request: AsyncBoltRequest) -> None:
        await ack()
        channel = body.get("channel_id") or ""
        surface = Surface(team=_team(body), user=body.get("user_id", ""), channel=channel or None,
                          conversation_channel=channel or body.get("user_id", ""),
                          response_url=body.get("response_url"))
        text = user_text(body.get("text") or "", _bot_user(body, request) or "") or "help"
        trigger = body.get("trigger_id") or ""
        self._queue_turn(request, f"slack:command:{trigger}", surface, text=text, message_id=f"command:{trigger}")

    async def on_choice(self, ack, body: dict, action: dict, request: AsyncBoltRequest) -> None:
        await ack()
        surface = self._action_surface(body, action)
        key = f"{body.get('trigger_id')}:{action.get('action_ts')}"
        self._queue_turn(request, f"slack:action:{key}", surface, choice=str(action.get("value", "")),
                         message_id=f"action:{key}")

    async def on_copy(self, ack, body: dict, action: dict, request: AsyncBoltRequest) -> None:
        await ack()
        surface = self._action_surface(body, action)
        blocks = (body.get("message") or {}).get("blocks") or []
        self.work.submit("copy", lambda: self._copy_as_text(surface, blocks))

    async def on_text_input(self, ack, body: dict, action: dict, request: AsyncBoltRequest) -> None:
        await ack()
        surface = self._action_surface(body, action)
        prompt = self.renderer.plain_text((body.get("message") or {}).get("blocks") or [])
        self.work.submit_now("modal", lambda: self._open_text_modal(body.get("trigger_id", ""), surface, prompt))

    async def on_text_submitted(self, ack, body: dict, view: dict, request: AsyncBoltRequest) -> None:
        await ack()
        try:
            surface = Surface.from_metadata(json.loads(view.get("private_metadata") or "{}"))
        except (ValueError, KeyError, TypeError):
            log.warning("modal submission without usable metadata; ignored")
            return
        if surface.user != (body.get("user") or {}).get("id"):
            log.warning("modal submitted by another user; ignored")
            return
        values = (view.get("state") or {}).get("values") or {}
        text = str(((values.get(TEXT_MODAL_INPUT) or {}).get(TEXT_MODAL_INPUT) or {}).get("value") or "")
        key = f"{view.get('id')}:{view.get('hash')}"
        self._queue_turn(request, f"slack:view:{key}", surface, text=text, message_id=f"view:{key}")

    async def on_home_opened(self, body: dict, event: dict, request: AsyncBoltRequest) -> None:
        if event.get("tab") != "home" or not event.get("user"):
            return
        team, user = _team(body), event["user"]
        self.work.submit("home", lambda: self.publish_home(team, user, event.get("channel")))

    # ------------------------------------------------------------------ building turns
    def _action_surface(self, body: dict, action: dict) -> Surface:
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        kind, conversation_channel = parse_block_id(action.get("block_id"))
        ephemeral = bool(container.get("is_ephemeral"))
        pressed_ts = container.get("message_ts") or message.get("ts")
        bot_can_post = container.get("type") == "message" and not ephemeral and channel is not None
        return Surface(team=_team(body), user=(body.get("user") or {}).get("id", ""), channel=channel,
                       conversation_channel=conversation_channel or channel or "",
                       thread_ts=container.get("thread_ts") or message.get("thread_ts") or pressed_ts,
                       response_url=body.get("response_url"), bot_can_post=bot_can_post,
                       is_bot_dm=bot_can_post and channel is not None and channel.startswith("D"),
                       pressed_ts=pressed_ts, pressed_ephemeral=ephemeral, pressed_kind=kind,
                       pressed_blocks=message.get("blocks"), pressed_label=(action.get("text") or {}).get("text"))

    def _queue_turn(self, request: AsyncBoltRequest, key: str, surface: Surface, *, text: str = "",
                    choice: str | None = None, message_id: str | None = None) -> None:
        keys = [key] + ([replay] if (replay := request.context.get(ReplayGuard.CONTEXT_KEY)) else [])
        self.work.submit(key.split(":")[1], lambda: self.run_turn(keys, surface, text, choice, message_id))

    async def run_turn(self, keys: list[str], surface: Surface, text: str, choice: str | None,
                       message_id: str | None) -> None:
        try:
            if not await self._claim(keys, surface):
                log.info("duplicate Slack delivery dropped", extra={"key": keys[0]})
                return
            if not surface.conversation_channel:  # the App Home tab: the conversation is the user's DM
                surface.channel = surface.conversation_channel = await self.api.dm_channel(surface.user)
                surface.bot_can_post = surface.is_bot_dm = True
            turn = IncomingTurn(user=surface.user_identity, conversation=surface.conversation_identity,
                                text=text, choice=choice, message_id=f"{surface.team}:{message_id}")
            replies = await self.assistant.handle(turn)
        except SQLAlchemyError as exc:
            log.error("database error before the turn", extra={"reason": type(exc).__name__})
            replies = [Reply(self.strings.get("errors.database"))]
        except DeliveryError as exc:
            log.warning("could not open the user's DM", extra={"reason": str(exc)})
            return
        try:
            await self.writer.write(surface, replies)
        except DeliveryError as exc:
            log.warning("Slack reply not delivered", extra={"reason": str(exc), "permanent": exc.permanent,
                                                           "user": surface.user_id})

    async def _claim(self, keys: list[str], surface: Surface) -> bool:
        """Claim the delivery's idempotency keys; in the same transaction, remember a channel the bot is
        in (once per process) so proactive messages can be addressed to it."""
        async with self.assistant.engine.begin() as conn:
            fresh = [await claim_once(conn, k[:300]) for k in keys]
            if surface.bot_can_post and surface.channel:
                await self.conversations.remember(
                    surface.conversation_id, {"team": surface.team, "channel": surface.channel,
                                              "address": f"slack:{surface.team}:{surface.channel}"},
                    surface.team, conn)
        return all(fresh)

    # ------------------------------------------------------------------ other work
    async def _copy_as_text(self, surface: Surface, blocks: list[dict]) -> None:
        text = self.renderer.plain_text(blocks)
        if not text:
            message = self.renderer.render(Reply(self.strings.get("slack.copy_unavailable")), "")[0]
        else:
            message = SlackMessage(shorten(text, 3000), self.renderer.code_block(text))
        try:
            if surface.response_url:
                await self.api.respond(surface.response_url, message)
            else:
                await self.api.post(await self.api.dm_channel(surface.user), message)
        except DeliveryError as exc:
            log.warning("copy-as-text not delivered", extra={"reason": str(exc)})

    async def _open_text_modal(self, trigger_id: str, surface: Surface, prompt: str) -> None:
        s = self.strings
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": shorten(prompt, 3000)}}] if prompt else []
        blocks.append({"type": "input", "block_id": TEXT_MODAL_INPUT, "label": {
            "type": "plain_text", "text": s.get("slack.modal.label")}, "element": {
            "type": "plain_text_input", "action_id": TEXT_MODAL_INPUT, "multiline": True,
            "max_length": min(self.assistant.settings.max_message_chars, 3000)}})
        view = {"type": "modal", "callback_id": TEXT_MODAL_CALLBACK,
                "title": {"type": "plain_text", "text": shorten(s.get("slack.modal.title"), 24)},
                "submit": {"type": "plain_text", "text": shorten(s.get("slack.modal.submit"), 24)},
                "close": {"type": "plain_text", "text": shorten(s.get("slack.modal.close"), 24)},
                "private_metadata": json.dumps(surface.to_metadata(), separators=(",", ":")), "blocks": blocks}
        try:
            await self.api.open_modal(trigger_id, view)
        except DeliveryError as exc:
            log.warning("could not open the answer dialog", extra={"reason": str(exc)})

    async def publish_home(self, team: str, user: str, dm_channel: str | None) -> None:
        try:
            dm = dm_channel or await self.api.dm_channel(user)
            blocks = await home_blocks(self.assistant, self.renderer, f"slack:{team}:{user}", dm)
            await self.api.publish_home(user, blocks)
        except DeliveryError as exc:
            log.warning("App Home not published", extra={"reason": str(exc)})
