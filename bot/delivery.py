"""Proactive delivery: messages the bot sends without a user turn (reminders, owner notices).

An address names a channel and a place in it: ``slack:C0123`` (a Slack channel or user id),
``teams:<conversation id or AAD object id>``, ``local`` or ``local:<conversation id>``. Each adapter
registers a :class:`Sender` for its prefix; the core and the scheduler only ever call
:meth:`Delivery.send`, so they never know which channel they are talking to.
"""

from __future__ import annotations

from typing import Protocol

from bot.messages import Reply


class DeliveryError(Exception):
    """A send failed. ``permanent`` means retrying cannot help (the bot was removed from the channel,
    the address is unknown); otherwise the caller retries with backoff."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
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
            raise DeliveryError(f"no channel is configured for {prefix!r} addresses", permanent=True)
        await sender.send(address, replies)
