"""Bot Framework activities to the neutral model (and to stored conversation references).

Ids are qualified: users ``teams:<aadObjectId or from.id>``, conversations ``teams:<conversation.id>``;
the activity id becomes ``message_id`` so the core drops a retried delivery of the same activity.
"""

from __future__ import annotations

import html
import re
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from adapters.teams.identity import CHANNEL, user
from bot.identity import Identity
from bot.messages import IncomingTurn

SHARED_CONVERSATION_TYPES = {"channel", "groupChat"}
_THREAD_SUFFIX = re.compile(r";messageid=\d+$")
_AT_TAG = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
COLLEAGUE = "a colleague"  # what a mention of someone else becomes: never their display name


def conversation_type(activity: Activity) -> str:
    """``personal``, ``channel`` or ``groupChat``; the emulator sends none, which is a 1:1 chat."""
    return (activity.conversation.conversation_type if activity.conversation else None) or "personal"


def is_shared(activity: Activity) -> bool:
    """Whether others can read the conversation; ``isGroup`` counts too, so a private reply never lands in
    a shared conversation whose type is missing or new."""
    group = bool(activity.conversation and activity.conversation.is_group)
    return group or conversation_type(activity) in SHARED_CONVERSATION_TYPES


def user_key(activity: Activity) -> str:
    sender = activity.from_property
    return (sender.aad_object_id or sender.id) if sender else "unknown"


def channel_data(activity: Activity) -> dict[str, Any]:
    return activity.channel_data if isinstance(activity.channel_data, dict) else {}


def team_id(activity: Activity) -> str | None:
    team = channel_data(activity).get("team")
    return team.get("id") if isinstance(team, dict) else None


def tenant_id(activity: Activity) -> str | None:
    tenant = channel_data(activity).get("tenant")
    from_data = tenant.get("id") if isinstance(tenant, dict) else None
    return (activity.conversation.tenant_id if activity.conversation else None) or from_data


def text_without_bot_mention(activity: Activity) -> str:
    """The typed text minus ``<at>Bot</at>`` (Teams puts the bot's mention in channel messages), with every
    other mention replaced by "a colleague": a display name is personal data the bot has no need for."""
    text = activity.text or ""
    bot = activity.recipient
    bot_names = {bot.name} if bot and bot.name else set()
    for entity in activity.entities or []:
        props = getattr(entity, "additional_properties", None) or {}
        mentioned = props.get("mentioned") or {}
        if (entity.type or "").lower() != "mention":
            continue
        is_bot = bool(bot) and mentioned.get("id") == bot.id
        if props.get("text"):
            text = text.replace(props["text"], " " if is_bot else f" {COLLEAGUE} ")
        if is_bot and mentioned.get("name"):
            bot_names.add(mentioned["name"])
    text = _AT_TAG.sub(lambda m: " " if html.unescape(m.group(1)).strip() in bot_names else f" {COLLEAGUE} ", text)
    return " ".join(html.unescape(text).replace("\xa0", " ").split())


def submitted_value(activity: Activity) -> dict[str, Any]:
    """The data of a pressed card button (``Action.Submit`` arrives as a message or an invoke): ``choice``
    for an answer, ``text`` for a navigation button, which is the word a user would type."""
    return activity.value if isinstance(activity.value, dict) else {}


def incoming_turn(activity: Activity) -> IncomingTurn | None:
    """The user's turn, or None when the activity carries nothing to answer."""
    value = submitted_value(activity)
    choice = value.get("choice") if isinstance(value.get("choice"), str) else None
    pressed_word = value.get("text") if choice is None and isinstance(value.get("text"), str) else None
    text = " ".join(pressed_word.split()) if pressed_word else text_without_bot_mention(activity)
    if choice is None and not text:
        return None
    conversation = button_origin(activity) or activity.conversation.id
    return IncomingTurn(
        user=user(user_key(activity)),
        conversation=Identity(CHANNEL, conversation),
        text=text,
        choice=choice,
        message_id=activity.id or None,
        display_name=display_name(activity),
    )


def display_name(activity: Activity) -> str | None:
    """The sender's own display name (``from.name``), for "Decided by" on their own records."""
    name = activity.from_property.name if activity.from_property else None
    if not isinstance(name, str):
        return None
    return " ".join(name.split()) or None


def button_origin(activity: Activity) -> str | None:
    """The conversation a private card's button belongs to (its dialog runs there), if the press says so."""
    origin = submitted_value(activity).get("conversation")
    return origin if isinstance(origin, str) and origin else None


def pressed_card_kind(activity: Activity) -> str | None:
    kind = submitted_value(activity).get("kind")
    return kind if isinstance(kind, str) else None


def base_conversation_id(conversation_id: str) -> str:
    """A channel thread's id without ``;messageid=``: proactive posts start a new thread."""
    return _THREAD_SUFFIX.sub("", conversation_id)


def stored_reference(activity: Activity) -> tuple[str, dict[str, Any]]:
    """(conversation id, reference JSON) for proactive messages into this activity's conversation."""
    reference: dict[str, Any] = TurnContext.get_conversation_reference(activity).serialize()  # a copy
    reference.pop("activityId", None)
    conversation = reference.setdefault("conversation", {})
    conversation["id"] = base_conversation_id(conversation.get("id", ""))
    conversation.setdefault("tenantId", tenant_id(activity))
    conversation.setdefault("conversationType", conversation_type(activity))
    return conversation["id"], reference
