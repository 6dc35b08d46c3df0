"""Teams addresses: AAD object ids and conversation ids are unique across tenants, so no scope.

Users are ``teams:<AAD object id>`` (or the Bot Framework user id when there is no AAD id) and
conversations ``teams:<conversation id>``. Imported for id shapes only: nothing here loads botbuilder.
"""

from __future__ import annotations

import re

from bot.identity import AddressKind, Identity, PatternAddresses

CHANNEL = "teams"


class TeamsAddresses(PatternAddresses):
    channel = CHANNEL
    label = "Teams"
    user_pattern = re.compile(r"teams:([0-9a-fA-F-]{8,}|29:\S{3,})")
    conversation_pattern = re.compile(r"teams:(\S{3,})")
    user_shape = "teams:<AAD object id>"
    conversation_shape = "teams:<conversation id>"

    def issue(self, value: str, kind: AddressKind) -> Identity:
        return user(value) if kind is AddressKind.USER else Identity(CHANNEL, value)


def user(object_id: str) -> Identity:
    """A Teams user: AAD object ids are GUIDs, compared in lower case."""
    return Identity(CHANNEL, object_id if object_id.startswith("29:") else object_id.lower())
