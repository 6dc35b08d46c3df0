"""The channels: one package per chat surface, each plugged in through one :class:`Channel`.

``app.py`` (the composition root) holds the list of channels and, for each, either mounts it on the
server or, for a command-line run, opens only its proactive sender, so the server and the CLI get
senders the same way. A channel also reads its own addresses (:class:`bot.identity.AddressParser`):
nothing outside the adapter knows a channel's id shapes. Adapters do not import each other, except
the shared ``local`` addresses of the web chat and the terminal (adapters/local.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aiohttp import web

    from bot.core import Assistant
    from bot.delivery import Sender
    from bot.identity import AddressParser

Close = Callable[[], Awaitable[None]]


class Channel(Protocol):
    name: str  # the address prefix: ``slack``, ``teams``, ``local``
    addresses: AddressParser

    def mount(self, app: web.Application, assistant: Assistant) -> str | None:
        """Serve the channel on ``app`` and register its sender; what to log, or None if it stays off."""

    async def open_sender(self, assistant: Assistant) -> tuple[Sender, Close] | None:
        """A proactive sender without a server (reminders from the command line); None if not configured."""
