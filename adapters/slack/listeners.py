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
    escape,
    mrkdwn,
    parse_block_id,
    shorten,
    split_text,
)
from adapters.slack.client import SlackApi
from adapters.slack.home import home_blocks
from adapters.slack.people import SlackPeople
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
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
_QUESTION_SUBTYPES = {None, "file_share"}  # a question typed with a file attached is still a question
_REMIND = re.compile(r"^isa\s+remind\s+(?!off\s*$)", re.IGNORECASE)  # setting a channel reminder


def bot_user_of(text: str, bot_user: str | None) -> str | None:
    """The bot's id; without it (some payloads lack it) a leading mention is taken to be the bot's."""
    if bot_user is None and (leading := _MENTION.match((text or "").strip())):
        return leading.group(1)
    return bot_user


def mentioned(text: str, bot_user: str | None) -> list[str]:
    """The users ``text`` mentions, other than the bot."""
    return [m.group(1) for m in _MENTION.finditer(text or "") if m.group(1) != bot_user]


def user_text(text: str, bot_user: str | None = None, names: dict[str, str] | None = None,
              unknown: str = "someone") -> str:
    """Slack message text as the user read it: the bot's mention removed, anyone else's shown as
    "@Real Name" (from ``names``, or the name Slack put in the mention) or "@someone", escapes undone.

    Keeping the name means the privacy guard sees what was written and can warn about it; the bot
    never stores it, because the guard redacts names before anything is kept.
    """
    bot_user = bot_user_of(text, bot_user)
    names = names or {}
    text = _MENTION.sub(lambda m: " " if m.group(1) == bot_user else
                        f" @{names.get(m.group(1)) or m.group(2) or unknown} ", (text or "").strip())
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
        self.people = SlackPeople()

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
        if event.get("channel_type") != "im" or event.get("subtype") not in _QUESTION_SUBTYPES \
                or event.get("bot_id") or not event.get("user"):
            return  # edits, joins and other bots' messages are not questions
        team = _team(body)
        # In the DM a message in the main conversation is answered there, and one in a thread in that thread.
        surface = Surface(team=team, user=event["user"], channel=event["channel"],
                          conversation_channel=event["channel"], thread_ts=event.get("thread_ts"),
                          bot_can_post=True, is_bot_dm=True, token=request.context.bot_token)
        self._queue_turn(request, f"slack:event:{body.get('event_id') or event.get('ts')}", surface,
                         text=event.get("text", ""), bot_user=_bot_user(body, request),
                         message_id=body.get("event_id") or event.get("ts"),
                         also=f"slack:message:{team}:{event['channel']}:{event.get('ts')}")

    async def on_mention(self, body: dict, event: dict, request: AsyncBoltRequest) -> None:
        if not event.get("user") or event.get("bot_id") or event.get("subtype") == "bot_message":
            return  # another app's @mention is not a person asking
        team = _team(body)
        channel = event["channel"]
        surface = Surface(team=team, user=event["user"], channel=channel, conversation_channel=channel,
                          thread_ts=event.get("thread_ts") or event.get("ts"), bot_can_post=True,
                          is_bot_dm=channel.startswith("D"), token=request.context.bot_token)
        self._queue_turn(request, f"slack:event:{body.get('event_id') or event.get('ts')}", surface,
                         text=event.get("text", ""), bot_user=_bot_user(body, request),
                         message_id=body.get("event_id") or event.get("ts"),
                         also=f"slack:message:{team}:{event['channel']}:{event.get('ts')}")

    async def on_command(self, ack, body: dict, request: AsyncBoltRequest) -> None:
        await ack()
        channel = body.get("channel_id") or ""
        surface = Surface(team=_team(body), user=body.get("user_id", ""), channel=channel or None,
                          conversation_channel=channel or body.get("user_id", ""),
                          response_url=body.get("response_url"), token=request.context.bot_token)
        text = (body.get("text") or "").strip() or "help"
        trigger = body.get("trigger_id") or ""
        self._queue_turn(request, f"slack:command:{trigger}", surface, text=text, bot_user=_bot_user(body, request)
                         or "", message_id=f"command:{trigger}")

    async def on_choice(self, ack, body: dict, action: dict, request: AsyncBoltRequest) -> None:
        await ack()
        surface = self._action_surface(body, action, request)
        key = f"{body.get('trigger_id')}:{action.get('action_ts')}"
        self._queue_turn(request, f"slack:action:{key}", surface, choice=str(action.get("value", "")),
                         message_id=f"action:{key}")

    async def on_copy(self, ack, body: dict, action: dict, request: AsyncBoltRequest) -> None:
        await ack()
        surface = self._action_surface(body, action, request)
        blocks = (body.get("message") or {}).get("blocks") or []
        self.work.submit("copy", lambda: self._copy_as_text(surface, blocks))

    async def on_text_input(self, ack, body: dict, action: dict, request: AsyncBoltRequest) -> None:
        await ack()
        surface = self._action_surface(body, action, request)
        prompt = str(action.get("value") or "")  # the step's question: Slack sends no ephemeral message back
        self.work.submit_now("modal", lambda: self._open_text_modal(body.get("trigger_id", ""), surface, prompt))

    async def on_text_submitted(self, ack, body: dict, view: dict, request: AsyncBoltRequest) -> None:
        await ack()
        try:
            surface = Surface.from_metadata(json.loads(view.get("private_metadata") or "{}"))
            surface.token = request.context.bot_token
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
        token = request.context.bot_token
        self.work.submit("home", lambda: self.publish_home(team, user, event.get("channel"), token))

    # ------------------------------------------------------------------ building turns
    def _action_surface(self, body: dict, action: dict, request: AsyncBoltRequest) -> Surface:
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        kind, conversation_channel = parse_block_id(action.get("block_id"))
        ephemeral = bool(container.get("is_ephemeral"))
        pressed_ts = container.get("message_ts") or message.get("ts")
        bot_can_post = container.get("type") == "message" and not ephemeral and channel is not None
        is_bot_dm = bot_can_post and channel.startswith("D")
        thread_ts = container.get("thread_ts") or message.get("thread_ts")
        # a press in the main DM carries on there; in a channel the bot's messages live in a thread
        if not is_bot_dm:
            thread_ts = thread_ts or pressed_ts
        return Surface(team=_team(body), user=(body.get("user") or {}).get("id", ""), channel=channel,
                       conversation_channel=conversation_channel or channel or "", thread_ts=thread_ts,
                       response_url=body.get("response_url"), bot_can_post=bot_can_post, is_bot_dm=is_bot_dm,
                       pressed_ts=pressed_ts, pressed_ephemeral=ephemeral, pressed_kind=kind,
                       pressed_blocks=message.get("blocks"), pressed_text=message.get("text"),
                       pressed_label=(action.get("text") or {}).get("text"), token=request.context.bot_token)

    def _queue_turn(self, request: AsyncBoltRequest, key: str, surface: Surface, *, text: str = "",
                    bot_user: str | None = None, choice: str | None = None, message_id: str | None = None,
                    also: str | None = None) -> None:
        """``text`` is Slack's (mentions and escapes still in it): it is read in the job, off the ack path.
        ``also`` is a second idempotency key: one message delivered as two events is answered once."""
        keys = [key] + ([replay] if (replay := request.context.get(ReplayGuard.CONTEXT_KEY)) else []) + \
            ([also] if also else [])
        self.work.submit(key.split(":")[1],
                         lambda: self.run_turn(keys, surface, text, choice, message_id, bot_user=bot_user))

    async def run_turn(self, keys: list[str], surface: Surface, text: str, choice: str | None,
                       message_id: str | None, *, bot_user: str | None = None) -> None:
        api = self.api.bound(surface.token)
        try:
            if not await self._claim(keys, surface):
                log.info("duplicate Slack delivery dropped", extra={"key": keys[0]})
                return
            if not surface.conversation_channel:  # the App Home tab: the conversation is the user's DM
                surface.channel = surface.conversation_channel = await api.dm_channel(surface.user)
                surface.bot_can_post = surface.is_bot_dm = True
            bot_user = bot_user_of(text, bot_user)
            names = await self.people.names(api, surface.team, mentioned(text, bot_user))
            text = user_text(text, bot_user, names, self.strings.get("slack.someone"))
            if surface.response_url and _REMIND.match(text) and not await self._may_remind_here(api, surface):
                replies = [Reply(self.strings.get("slack.remind_not_member"))]
            else:
                turn = IncomingTurn(user=surface.user_identity, conversation=surface.conversation_identity,
                                    text=text, choice=choice, message_id=f"{surface.team}:{message_id}",
                                    display_name=await self.people.name(api, surface.team, surface.user))
                replies = await self.assistant.handle(turn)
        except SQLAlchemyError as exc:
            log.error("database error before the turn", extra={"reason": type(exc).__name__})
            replies = [Reply(self.strings.get("errors.database"))]
        except DeliveryError as exc:
            log.warning("could not open the user's DM", extra={"reason": str(exc)})
            return
        try:
            await self.writer.bound(api).write(surface, replies)
        except DeliveryError as exc:
            log.warning("Slack reply not delivered", extra={"reason": str(exc), "permanent": exc.permanent,
                                                           "user": surface.user_id})

    async def _may_remind_here(self, api: SlackApi, surface: Surface) -> bool:
        """A channel reminder needs the bot in the channel (it has no ``chat:write.public``): refused
        up front rather than failing at the first send. A DM, or membership Slack won't tell, is allowed."""
        if not surface.channel or surface.channel.startswith("D"):
            return True
        return await api.is_member(surface.channel) is not False

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
            message = SlackMessage(shorten(escape(text), 3000), self.renderer.code_block(text))
        api = self.api.bound(surface.token)
        try:
            if surface.response_url:
                await api.respond(surface.response_url, message)
            else:
                await api.post(await api.dm_channel(surface.user), message)
        except DeliveryError as exc:
            log.warning("copy-as-text not delivered", extra={"reason": str(exc)})

    async def _open_text_modal(self, trigger_id: str, surface: Surface, prompt: str) -> None:
        """The answer form shows the step's question (carried in the button's value), then the box."""
        s = self.strings
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in split_text(mrkdwn(prompt))][:3]
        blocks.append({"type": "input", "block_id": TEXT_MODAL_INPUT, "label": {
            "type": "plain_text", "text": s.get("slack.modal.label")}, "hint": {
            "type": "plain_text", "text": s.get("slack.modal.hint")}, "element": {
            "type": "plain_text_input", "action_id": TEXT_MODAL_INPUT, "multiline": True,
            "max_length": min(self.assistant.settings.max_message_chars, 3000)}})
        view = {"type": "modal", "callback_id": TEXT_MODAL_CALLBACK,
                "title": {"type": "plain_text", "text": shorten(s.get("slack.modal.title"), 24)},
                "submit": {"type": "plain_text", "text": shorten(s.get("slack.modal.submit"), 24)},
                "close": {"type": "plain_text", "text": shorten(s.get("slack.modal.close"), 24)},
                "private_metadata": json.dumps(surface.to_metadata(), separators=(",", ":")), "blocks": blocks}
        try:
            await self.api.bound(surface.token).open_modal(trigger_id, view)
        except DeliveryError as exc:
            log.warning("could not open the answer dialog", extra={"reason": str(exc)})

    async def publish_home(self, team: str, user: str, dm_channel: str | None, token: str | None = None) -> None:
        api = self.api.bound(token)
        try:
            dm = dm_channel or await api.dm_channel(user)
            blocks = await home_blocks(self.assistant, self.renderer, f"slack:{team}:{user}", dm)
            await api.publish_home(user, blocks)
        except DeliveryError as exc:
            log.warning("App Home not published", extra={"reason": str(exc)})
