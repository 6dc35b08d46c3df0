"""Teams addresses: AAD object ids and conversation ids are unique across tenants, so no scope.

Users are ``teams:<AAD object id>`` (or the Bot Framework user id when there is no AAD id) and
conversations ``teams:<conversation id>``. Imported for id shapes only: nothing here loads botbuilder.
"""

from __future__ import annotations

import re

from bot.identity import AddressKind, Identity

CHANNEL = "teams"
_USER = re.compile(r"teams:([0-9a-fA-F-]{8,}|29:\S{3,})")
_CONVERSATION = re.compile(r"teams:(\S{3,})")


class TeamsAddresses:
    channel = CHANNEL

    def parse(self, text: str, kind: AddressKind, *, within: Identity | None = None) -> Identity:
        raw = text.strip()
        match = (_USER if kind is AddressKind.USER else _CONVERSATION).fullmatch(raw)
        if match is None:
            shape = "teams:<AAD object id>" if kind is AddressKind.USER else "teams:<conversation id>"
            raise ValueError(f"{raw!r} is not a {kind} (Teams: {shape})")
        return user(match.group(1)) if kind is AddressKind.USER else Identity(CHANNEL, match.group(1))

    def legacy_keys(self, identity: Identity) -> tuple[str, ...]:
        return ()


def user(object_id: str) -> Identity:
    """A Teams user: AAD object ids are GUIDs, compared in lower case."""
    return Identity(CHANNEL, object_id if object_id.startswith("29:") else object_id.lower())
