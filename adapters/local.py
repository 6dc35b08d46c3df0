"""The ``local`` channel's addresses, shared by the web chat and the terminal (both are ``local``).

Users are ``local:<name>``; a conversation is the user's own (``local:<name>``) or ``local``, which
reaches every local user (the outbox broadcast).
"""

from __future__ import annotations

import re

from bot.identity import AddressKind, Identity

CHANNEL = "local"
_USER = re.compile(r"local:([\w.@-]{1,100})")
_CONVERSATION = re.compile(r"local(?::([\w.@:-]{1,200}))?")


class LocalAddresses:
    channel = CHANNEL

    def parse(self, text: str, kind: AddressKind, *, within: Identity | None = None) -> Identity:
        pattern = _USER if kind is AddressKind.USER else _CONVERSATION
        match = pattern.fullmatch(text.strip())
        if match is None:
            shape = "local:<name>" if kind is AddressKind.USER else "local or local:<conversation id>"
            raise ValueError(f"{text.strip()!r} is not a {kind} (local chat: {shape})")
        return Identity(CHANNEL, match.group(1) or "")

    def legacy_keys(self, identity: Identity) -> tuple[str, ...]:
        return ()


def local_identity(name: str) -> Identity:
    """The identity of a local user (the web chat's browser id or the terminal's ``--user``)."""
    return LocalAddresses().parse(name if name.startswith("local:") else f"local:{name}", AddressKind.USER)
