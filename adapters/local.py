"""The ``local`` channel's addresses, shared by the web chat and the terminal (both are ``local``).

Users are ``local:<name>``; a conversation is the user's own (``local:<name>``) or ``local``, which
reaches every local user (the outbox broadcast).
"""

from __future__ import annotations

import re

from bot.identity import AddressKind, Identity, PatternAddresses

CHANNEL = "local"


class LocalAddresses(PatternAddresses):
    channel = CHANNEL
    label = "local chat"
    user_pattern = re.compile(r"local:([\w.@-]{1,100})")
    conversation_pattern = re.compile(r"local(?::([\w.@:-]{1,200}))?")
    user_shape = "local:<name>"
    conversation_shape = "local or local:<conversation id>"


def local_identity(name: str) -> Identity:
    """The identity of a local user (the web chat's browser id or the terminal's ``--user``)."""
    return LocalAddresses().parse(name if name.startswith("local:") else f"local:{name}", AddressKind.USER)
