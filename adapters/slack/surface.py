"""Where a turn's replies go in Slack, and how: thread, ephemeral, the user's DM, or in place.

A :class:`Surface` is built from the Slack payload before the core runs; :class:`SurfaceWriter`
renders the core's replies onto it. Privacy is kept here, mechanically: a reply marked ``private``
is never posted to a shared channel (ephemeral there, and the decision summary goes to the DM).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from adapters.slack.blocks import (
    COPY_ACTION,
    MAX_BLOCK_ID,
    MAX_BLOCKS_MESSAGE,
    BlockRenderer,
    SlackMessage,
    action_pattern,
    mrkdwn,
    shorten,
)
from adapters.slack.client import SlackApi
from adapters.slack.identity import identity
from bot.identity import Identity
from bot.messages import Reply, ReplyKind

log = logging.getLogger(__name__)

IN_PLACE_KINDS = frozenset({ReplyKind.STEP, ReplyKind.SUMMARY})
COPY_PATTERN = action_pattern(COPY_ACTION)


@dataclass(slots=True)
class Surface:
    team: str
    user: str
    channel: str | None  # where the user acted; None for the App Home tab
    conversation_channel: str  # whose dialog state the turn continues
    thread_ts: str | None = None
    response_url: str | None = None  # slash commands and button presses
    bot_can_post: bool = False  # the bot may chat.postMessage into ``channel``
    is_bot_dm: bool = False  # the user's DM with the bot: private, and typed replies reach us
    pressed_ts: str | None = None  # the message whose button was pressed
    pressed_ephemeral: bool = False
    pressed_kind: str | None = None  # the ReplyKind of the pressed message's buttons
    pressed_blocks: list[dict] | None = None  # the pressed message as Slack sent it back (not ephemeral)
    pressed_label: str | None = None  # the label of the button that was pressed
    pressed_text: str | None = None  # the pressed message's fallback text (not ephemeral)
    token: str | None = None  # the workspace's bot token (never in private_metadata); None: the default one

    @property
    def user_identity(self) -> Identity:
        return identity(self.team, self.user)

    @property
    def conversation_identity(self) -> Identity:
        return identity(self.team, self.conversation_channel)

    @property
    def user_id(self) -> str:
        return self.user_identity.key

    @property
    def conversation_id(self) -> str:
        return self.conversation_identity.key

    def to_metadata(self) -> dict:
        """Compact form carried in a modal's private_metadata (max 3000 chars; URLs are short)."""
        return {"t": self.team, "u": self.user, "c": self.channel, "cc": self.conversation_channel,
                "th": self.thread_ts, "r": self.response_url, "p": self.bot_can_post, "d": self.is_bot_dm,
                "ts": self.pressed_ts, "e": self.pressed_ephemeral, "k": self.pressed_kind}

    @classmethod
    def from_metadata(cls, data: dict) -> Surface:
        return cls(team=data["t"], user=data["u"], channel=data.get("c"), conversation_channel=data["cc"],
                   thread_ts=data.get("th"), response_url=data.get("r"), bot_can_post=bool(data.get("p")),
                   is_bot_dm=bool(data.get("d")), pressed_ts=data.get("ts"), pressed_ephemeral=bool(data.get("e")),
                   pressed_kind=data.get("k"))


class SurfaceWriter:
    def __init__(self, api: SlackApi, renderer: BlockRenderer):
        self.api = api
        self.renderer = renderer

    @property
    def strings(self):
        return self.renderer.strings

    def bound(self, api: SlackApi) -> SurfaceWriter:
        """The same writer talking to Slack with another workspace's token."""
        return self if api is self.api else SurfaceWriter(api, self.renderer)

    async def write(self, surface: Surface, replies: list[Reply]) -> None:
        """Post the replies of one turn; the first step after a step's button press replaces that step."""
        can_update = surface.pressed_kind == ReplyKind.STEP and bool(surface.pressed_ts or surface.response_url)
        replaced = False
        for reply in replies:
            in_place = can_update and reply.kind in IN_PLACE_KINDS
            can_update = can_update and not in_place
            replaced = replaced or in_place
            if reply.private and not surface.is_bot_dm:
                await self._write_privately(surface, reply, in_place)
                continue
            messages = self.renderer.render(reply, surface.conversation_channel, can_type_reply=surface.is_bot_dm)
            for n, message in enumerate(messages):
                if in_place and n == 0:
                    await self._replace(surface, message)
                else:
                    await self._post(surface, message)
        if not replaced and surface.pressed_kind in IN_PLACE_KINDS:
            await self._retire_buttons(surface)

    async def _retire_buttons(self, surface: Surface) -> None:
        """A step or summary that was answered loses its buttons (so it can't be pressed twice) and says
        what was chosen; the rest of the message, its fallback text and "Copy as text" stay."""
        if not (surface.pressed_blocks and surface.pressed_ts and surface.channel) or surface.pressed_ephemeral:
            return
        blocks = []
        for block in surface.pressed_blocks:
            if block.get("type") == "actions":
                kept = [e for e in block.get("elements", []) if COPY_PATTERN.match(str(e.get("action_id", "")))]
                if not kept:
                    continue
                block = {**block, "elements": kept, "block_id": shorten(f"{block.get('block_id', '')}.kept",
                                                                        MAX_BLOCK_ID)}
            blocks.append(block)
        chosen = self.strings.get("slack.chosen", label=mrkdwn(surface.pressed_label or ""))
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": shorten(chosen, 3000)}]})
        await self.api.update(surface.channel, surface.pressed_ts,
                              SlackMessage(surface.pressed_text or self.strings.get("slack.fallback"),
                                           blocks[-MAX_BLOCKS_MESSAGE:]))

    async def _write_privately(self, surface: Surface, reply: Reply, in_place: bool) -> None:
        if reply.kind is ReplyKind.SUMMARY or (surface.response_url is None and not surface.bot_can_post):
            dm = await self.api.dm_channel(surface.user)
            for message in self.renderer.render(reply, surface.conversation_channel,
                                                can_type_reply=dm == surface.conversation_channel):
                await self.api.post(dm, message)
            note = SlackMessage(self.strings.get("slack.sent_to_dm"),
                                self.renderer.render(Reply(self.strings.get("slack.sent_to_dm")), "")[0].blocks)
            if in_place:
                await self._replace(surface, note)
            elif surface.channel:
                await self._ephemeral(surface, note)
            return
        for n, message in enumerate(self.renderer.render(reply, surface.conversation_channel, can_type_reply=False)):
            if in_place and n == 0 and (surface.pressed_ephemeral or surface.pressed_ts is None):
                await self._replace(surface, message)
            else:
                await self._ephemeral(surface, message)

    async def _post(self, surface: Surface, message: SlackMessage) -> None:
        if surface.channel and surface.bot_can_post:
            await self.api.post(surface.channel, message, surface.thread_ts)
        elif surface.response_url:
            await self.api.respond(surface.response_url, message)
        else:  # the App Home tab: answer in the user's DM
            await self.api.post(await self.api.dm_channel(surface.user), message)

    async def _ephemeral(self, surface: Surface, message: SlackMessage) -> None:
        if surface.response_url:
            await self.api.respond(surface.response_url, message)
        elif surface.channel:
            await self.api.ephemeral(surface.channel, surface.user, message, surface.thread_ts)

    async def _replace(self, surface: Surface, message: SlackMessage) -> None:
        if surface.pressed_ts and surface.channel and not surface.pressed_ephemeral:
            await self.api.update(surface.channel, surface.pressed_ts, message)
        elif surface.response_url:
            await self.api.respond(surface.response_url, message, replace_original=True)
        else:
            await self._post(surface, message)
