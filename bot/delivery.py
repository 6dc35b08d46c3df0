"""Proactive delivery: messages the bot sends without a user turn (reminders, owner notices).

An address names a channel and a place in it: ``slack:C0123`` (a Slack channel or user id),
``teams:<conversation id or AAD object id>``, ``local`` or ``local:<conversation id>``. Each adapter
registers a :class:`Sender` for its prefix; the core and the scheduler only ever call
:meth:`Delivery.send`, so they never know which channel they are talking to.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol

from bot.messages import Reply
from bot.strings import WordedError


class DeliveryFailure(StrEnum):
    """Why a send failed, as an owner is told it: keys under ``delivery`` in content/strings.yaml."""

    NO_CHANNEL = "no_channel"  # no sender is configured for the address's channel
    NOT_AN_ADDRESS = "not_an_address"  # the address is not one the channel can post to
    NOT_INSTALLED = "not_installed"  # the app is not installed where the address is
    PRIVATE_TO_SHARED = "private_to_shared"  # a private reply would have gone to a shared conversation
    UNREACHABLE = "unreachable"  # the channel's service could not be reached
    REFUSED = "refused"  # the channel's service refused the message
    NOT_STORED = "not_stored"  # the local outbox could not keep the message
    BROKEN = "broken"  # composing or sending failed inside the bot (a bug, a timeout)


class DeliveryError(WordedError):
    """A send failed. ``permanent`` means retrying cannot help (the bot was removed from the channel,
    the address is unknown); otherwise the caller retries with backoff. The reason is worded by
    content (``delivery.<failure>``) with the fields given: ``channel``, ``address``, ``detail`` ..."""

    prefix = "delivery."

    def __init__(self, failure: DeliveryFailure, *, permanent: bool = False, **fields: Any):
        super().__init__(str(failure), **fields)
        self.permanent = permanent


class Sender(Protocol):
    async def send(self, address: str, replies: list[Reply]) -> None:
        """Post ``replies`` to ``address`` (full address, prefix included) or raise DeliveryError."""


class Delivery:
    def __init__(self) -> None:
        self._senders: dict[str, Sender] = {}

    def register(self, prefix: str, sender: Sender) -> None:
        self._senders[prefix] = sender

    def channels(self) -> list[str]:
        return sorted(self._senders)

    async def send(self, address: str, replies: list[Reply]) -> None:
        prefix = address.split(":", 1)[0]
        sender = self._senders.get(prefix)
        if sender is None:
            raise DeliveryError(DeliveryFailure.NO_CHANNEL, permanent=True, prefix=prefix)
        await sender.send(address, replies)
